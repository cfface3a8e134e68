"""Home Assistant's YAML dialect, read safely: `!include`, `!include_dir_*`, `!secret`, `!input`, `!env_var`.

Owns loading a file of an HA configuration directory the way HA's `homeassistant.util.yaml.loader`
does — `!include FILE`, `!include_dir_list DIR` (one item per file), `!include_dir_merge_list DIR`
(the files' lists concatenated), `!include_dir_named DIR` (a mapping by file stem),
`!include_dir_merge_named DIR`, `!secret NAME` from `secrets.yaml` beside the file (or in the config
dir), `!env_var NAME [default]` — on a `yaml.SafeLoader` subclass, so no Python object can be built.
Input is bounded: files over `MAX_BYTES`, documents whose aliases expand past `MAX_NODES` nodes
("billion laughs"), include chains deeper than `MAX_DEPTH` and paths leaving the config dir are refused
with `HaYamlError`. Without a config dir (a lone automations.yaml) includes and secrets cannot be
resolved and load as `Unresolved` placeholders that name what was asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from homesim.bounded_yaml import MAX_BYTES, BoundedLoader

#: Deepest chain of includes.
MAX_DEPTH = 16


class HaYamlError(ValueError):
    """A file could not be read as HA would read it; the message says which and why."""


class Unresolved(str):
    """A `!secret`/`!include` that could not be resolved (no config dir): its argument, tagged.

    A string (HA's own check substitutes a dummy string for secrets), rendered back as `tag argument`.
    """

    tag: str

    def __new__(cls, tag: str, value: str) -> Unresolved:
        text = super().__new__(cls, value)
        text.tag = tag
        return text


@dataclass(frozen=True)
class BlueprintInput:
    """`!input NAME` in a blueprint: replaced by the automation's input when the blueprint is expanded."""

    name: str


class _Loader(BoundedLoader):
    """SafeLoader with HA's tags; `root` (the config dir) bounds every path an include may reach."""

    def __init__(self, stream: str, path: Path | None, root: Path | None, depth: int) -> None:
        super().__init__(stream)
        self.path = path
        self.root = root
        self.depth = depth


def _inside(loader: _Loader, name: str) -> Path:
    base = loader.path.parent if loader.path is not None else None
    if base is None or loader.root is None:
        raise HaYamlError(f"cannot resolve {name!r} without the configuration directory")
    target = (base / name).resolve()
    if not target.is_relative_to(loader.root.resolve()):
        raise HaYamlError(f"{name!r} is outside the configuration directory")
    return target


def _scalar(loader: _Loader, node: yaml.Node) -> str:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return str(value).strip()


def _include(loader: _Loader, node: yaml.Node) -> Any:
    name = _scalar(loader, node)
    if loader.root is None:
        return Unresolved("!include", name)
    return _load(_inside(loader, name), loader.root, loader.depth + 1)


def _yaml_files(loader: _Loader, node: yaml.Node) -> list[Path]:
    name = _scalar(loader, node)
    folder = _inside(loader, name)
    if not folder.is_dir():
        raise HaYamlError(f"{name!r} is not a directory")
    # As HA's `_find_files`: a folder's own files (sorted) before its subfolders', hidden ones and
    # secrets.yaml skipped; subfolders in sorted order so the result does not depend on the filesystem.
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [
            Path(root) / name
            for name in sorted(names)
            if name.endswith(".yaml") and not name.startswith(".") and name != "secrets.yaml"
        ]
    return found


def _include_dir(kind: str) -> Any:
    def construct(loader: _Loader, node: yaml.Node) -> Any:
        if loader.root is None:
            return Unresolved(f"!include_dir_{kind}", _scalar(loader, node))
        loaded = [(path, _load(path, loader.root, loader.depth + 1)) for path in _yaml_files(loader, node)]
        if kind == "list":
            return [value for _, value in loaded if value is not None]
        if kind == "merge_list":
            return [item for _, value in loaded if isinstance(value, list) for item in value]
        if kind == "named":
            return {path.stem: value for path, value in loaded}
        merged: dict[str, Any] = {}
        for _, value in loaded:
            if isinstance(value, dict):
                merged |= value
        return merged

    return construct


def _secret(loader: _Loader, node: yaml.Node) -> Any:
    name = _scalar(loader, node)
    if loader.root is None or loader.path is None:
        return Unresolved("!secret", name)
    # HA looks in secrets.yaml beside the file, then up to the config dir.
    folder = loader.path.parent.resolve()
    while True:
        file = folder / "secrets.yaml"
        if file.is_file():
            secrets = _load(file, loader.root, loader.depth + 1)
            if isinstance(secrets, dict) and name in secrets:
                return secrets[name]
        if folder == loader.root.resolve() or folder.parent == folder:
            break
        folder = folder.parent
    raise HaYamlError(f"secret {name!r} is not in secrets.yaml")


def _env_var(loader: _Loader, node: yaml.Node) -> Any:
    parts = _scalar(loader, node).split(maxsplit=1)
    value = os.environ.get(parts[0], parts[1] if len(parts) > 1 else None)
    if value is None:
        raise HaYamlError(f"environment variable {parts[0]!r} is not set")
    return value


def _input(loader: _Loader, node: yaml.Node) -> BlueprintInput:
    return BlueprintInput(_scalar(loader, node))


_Loader.add_constructor("!include", _include)
for _kind in ("list", "merge_list", "named", "merge_named"):
    _Loader.add_constructor(f"!include_dir_{_kind}", _include_dir(_kind))
_Loader.add_constructor("!secret", _secret)
_Loader.add_constructor("!env_var", _env_var)
_Loader.add_constructor("!input", _input)


def loads(text: str, path: Path | None = None, root: Path | None = None, depth: int = 0) -> Any:
    """Parse HA YAML text; `path` is the file it came from, `root` the config dir includes must stay in."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise HaYamlError(f"{path or 'text'} is larger than {MAX_BYTES:,} bytes")
    if depth > MAX_DEPTH:
        raise HaYamlError(f"includes nested deeper than {MAX_DEPTH} at {path}")
    loader: _Loader | None = None
    try:
        loader = _Loader(text, path, root, depth)  # its reader refuses control characters already here
        return loader.get_single_data()
    except yaml.YAMLError as error:
        raise HaYamlError(f"invalid YAML{f' in {path}' if path else ''}: {error}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _load(path: Path, root: Path, depth: int) -> Any:
    if not path.resolve().is_relative_to(root.resolve()):
        raise HaYamlError(f"{path.name} is outside the configuration directory")  # a link out, say
    if not path.is_file():
        raise HaYamlError(f"{path.name} not found in {path.parent}")
    if path.stat().st_size > MAX_BYTES:
        raise HaYamlError(f"{path} is larger than {MAX_BYTES:,} bytes")
    return loads(path.read_text("utf-8"), path, root, depth)


def load_file(path: Path, root: Path | None = None) -> Any:
    """Load one file of a config dir (`root` defaults to the file's folder)."""
    return _load(path.resolve(), (root or path.parent).resolve(), 0)
