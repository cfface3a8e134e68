"""Every CLI command with bad values: exit 2, one line naming what was wrong, no traceback, nothing written.

The commands are enumerated from the Typer app, so a new command without a bad-value case fails here.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from homesim.cli import app
from homesim.training_data.store import RecordStore
from homesim.workspace import Workspace

Setup = Callable[[Path], list[str]]

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


def _file(name: str, content: bytes) -> Setup:
    def make(tmp: Path) -> list[str]:
        path = tmp / "inputs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        return [str(path)]

    return make


def _bad_sqlite(tmp: Path) -> list[str]:
    path = tmp / "inputs" / "home-assistant_v2.db"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    return [str(path)]


def _empty_sqlite(tmp: Path) -> list[str]:
    path = tmp / "inputs" / "home-assistant_v2.db"
    path.parent.mkdir(exist_ok=True)
    sqlite3.connect(path).close()
    return [str(path)]


def _empty_store(tmp: Path) -> list[str]:
    """A workspace whose record store exists but holds no cycle 7."""
    ws = Workspace(tmp / "ws")
    ws.training_store.parent.mkdir(parents=True)
    RecordStore(ws.training_store).close()
    return []


def _malformed_store(tmp: Path) -> list[str]:
    """A workspace whose record store is not an SQLite database."""
    store = Workspace(tmp / "ws").training_store
    store.parent.mkdir(parents=True)
    store.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    return []


HA_REFERENCE = Path(__file__).resolve().parent / "data" / "ha_reference" / "ha-2025.1-storage-example"


def _storage(file: str, text: bytes | None = None, replace: tuple[str, str] | None = None) -> Setup:
    """An HA config dir: the reference `.storage`, with `file` written as `text` or edited by `replace`."""

    def make(tmp: Path) -> list[str]:
        storage = tmp / "inputs" / "config" / ".storage"
        shutil.copytree(HA_REFERENCE, storage)
        path = storage / file
        if replace is not None:
            text_now = path.read_text("utf-8")
            assert replace[0] in text_now
            path.write_text(text_now.replace(replace[0], replace[1], 1), "utf-8")
        if text is not None:
            path.write_bytes(text)
        return [str(storage.parent)]

    return make


def _core_config(latitude: str) -> bytes:
    return (
        '{"version": 1, "minor_version": 4, "key": "core.config", '
        f'"data": {{"latitude": {latitude}, "longitude": 0, "time_zone": "Europe/Lisbon"}}}}'
    ).encode()


def _none(tmp: Path) -> list[str]:
    return []


MISSING = "/nonexistent/homesim-test/path"

# (command, extra args, environment, setup producing a path argument appended via "{}")
CASES: list[tuple[str, list[str], dict[str, str], Setup]] = [
    ("generate", ["--executor", "foo"], {}, _none),
    ("generate", ["--executor", "dask://127.0.0.1:1"], {}, _none),
    ("generate", ["--executor", "tcp://no-such-host.invalid:8786"], {}, _none),
    ("generate", ["--workers", "-3"], {}, _none),
    ("generate", ["--workers", "0"], {}, _none),
    ("generate", ["--homes", "0"], {}, _none),
    ("generate", ["--days", "-1"], {}, _none),
    ("generate", ["--start", "not-a-date"], {}, _none),
    ("generate", [], {"HOMESIM_WORKERS": "abc"}, _none),
    ("generate", [], {"HOMESIM_WORKERS": "0"}, _none),
    ("generate", [], {"HOMESIM_EXECUTOR": "bogus"}, _none),
    ("generate", [], {"HOMESIM_LOG_LEVEL": "loud"}, _none),
    ("generate", [], {"HOMESIM_LOG_JSON": "maybe"}, _none),
    ("generate", ["--config", MISSING + ".yaml"], {}, _none),
    ("generate", ["--config", "{}"], {}, _file("bin.yaml", b"\xff\xfe\x00\x01binary")),
    ("generate", ["--config", "{}"], {}, _file("deep.yaml", b"a: " + b"[" * 20000 + b"]" * 20000)),
    ("generate", ["--config", "{}"], {}, _file("deep.toml", b"a = " + b"[" * 20000 + b"]" * 20000)),
    ("generate", ["--config", "{}"], {}, _file("bomb.yaml", BOMB.encode())),
    ("generate", ["--config", "{}"], {}, _file("tz.yaml", b"timezone: Mars/Olympus\n")),
    ("generate", ["--config", "{}"], {}, _file("list.yaml", b"- 1\n- 2\n")),
    ("inspect", [MISSING], {}, _none),
    ("inspect", ["latest"], {}, _none),
    ("inspect", ["latest", "--json", "--workspace", MISSING], {}, _none),
    ("datasets list", [], {"HOMESIM_WORKERS": "abc"}, _none),
    ("datasets list", ["--json", "--bogus"], {}, _none),
    ("import-history", ["bogus-format", MISSING], {}, _none),
    ("import-history", ["recorder", MISSING], {}, _none),
    ("import-history", ["recorder", "{}"], {}, _bad_sqlite),
    ("import-history", ["recorder", "{}", "--timezone", "Mars/Olympus"], {}, _empty_sqlite),
    ("import-history", ["casas", "{}", "--timezone", "Mars/Olympus"], {}, _file("casas.txt", b"")),
    ("simulate", ["--dataset", "x", "--cycle", "99999999999999999999"], {}, _none),
    ("simulate", ["--dataset", "x", "--cycle", "-1"], {}, _none),
    ("simulate", ["--dataset", "x", "--cycle", "1000001"], {}, _none),
    ("simulate", ["--dataset", "x", "--cycle", "1", "--workers", "-3"], {}, _none),
    ("simulate", ["--dataset", "x", "--cycle", "1", "--executor", "foo"], {}, _none),
    ("simulate", ["--dataset", MISSING, "--cycle", "1"], {}, _none),
    ("simulate", ["--dataset", "latest", "--cycle", "1"], {}, _none),
    ("export", ["--cycle", "7"], {}, _none),
    ("export", ["--cycle", "7"], {}, _empty_store),
    ("export", ["--cycle", "1"], {}, _malformed_store),
    ("export", ["--cycle", "99999999999999999999"], {}, _none),
    ("export", ["--model-type", "nope"], {}, _none),
    ("export", ["--cycle", "1", "--run", "latest"], {}, _none),
    ("export", ["--cycle", "1", "--run", "nope"], {}, _none),
    ("export", ["--cycle", "1", "--run", "../x"], {}, _none),
    ("ab", ["nope", "--dataset", "x", "--cycle", "1"], {}, _none),
    ("ab", ["pattern_detection", "--dataset", "x", "--cycle", "1", "--share", "2"], {}, _none),
    ("ab", ["pattern_detection", "--dataset", "x", "--cycle", "1", "--workers", "0"], {}, _none),
    ("serve", ["--port", "99999"], {}, _none),
    ("serve", ["--workers", "-3"], {}, _none),
    ("serve", ["--executor", "foo"], {}, _none),
    ("report", ["--cycle", "99"], {}, _none),
    ("report", ["--run", "nope"], {}, _none),
    ("retrain", ["nope"], {}, _none),
    ("retrain", ["pattern_detection", "--config", MISSING + ".yaml"], {}, _none),
    ("run", ["--cycles", "0"], {}, _none),
    ("run", ["--workers", "-3"], {}, _none),
    ("run", ["--executor", "foo"], {}, _none),
    ("run", ["--config", "{}"], {}, _file("bomb.yaml", BOMB.encode())),
    ("realism", ["--real", MISSING, "--homes", "2"], {}, _none),
    ("calibrate", ["--real", MISSING, "--homes", "2"], {}, _none),
    ("calibrate", ["--real", "{}", "--homes", "2", "--workers", "-3"], {}, _file("r", b"")),
    ("cache stats", [], {"HOMESIM_WORKERS": "abc"}, _none),
    ("cache verify", [], {"HOMESIM_WORKERS": "abc"}, _none),
    ("cache prune", [], {"HOMESIM_WORKERS": "abc"}, _none),
    ("cache clear", ["--yes"], {"HOMESIM_WORKERS": "abc"}, _none),
    ("ground-truth verify", [MISSING], {}, _none),
    ("ground-truth verify", ["latest", "--json"], {}, _none),
    ("ground-truth verify", ["{}", "--workers", "-3"], {}, _file("x", b"")),
    ("ground-truth flatten", [MISSING], {}, _none),
    ("ha validate", [MISSING], {}, _none),
    ("ha validate", ["{}"], {}, _file("bin.yaml", b"\xff\xfe\x00\x01binary")),
    ("ha stats", [MISSING], {}, _none),
    ("ha export", [MISSING, "--out", "{}"], {}, _none),
    ("ha export", ["latest", "--out", "{}"], {}, _none),
    ("ha import", [MISSING], {}, _none),
    (
        "ha import",
        ["{}", "--out", "{out}"],
        {},
        _storage("core.device_registry", replace=('"version": 1', '"version": ' + "9" * 5000)),
    ),
    ("ha import", ["{}", "--out", "{out}"], {}, _storage("core.config", text=_core_config("NaN"))),
    ("ha import", ["{}", "--out", "{out}"], {}, _storage("core.config", text=_core_config("1" + "0" * 400))),
    ("ha import", ["{}", "--out", "{out}"], {}, _storage("core.area_registry", text=b"[" * 100000)),
    (
        "ha import",
        ["{}", "--out", "{out}"],
        {},
        _storage("core.area_registry", text=b'{"version": 1, "data": "\xff\xfe"}'),
    ),
    ("training-data prune", ["--keep-cycles", "-1"], {}, _none),
    ("training-data prune", ["--keep-cycles", "1", "--run", "nope"], {}, _none),
    ("lineage query", ["--cycle", "-1"], {}, _none),
    ("lineage query", ["--cycle", "1"], {"HOMESIM_WORKERS": "abc"}, _none),
    ("lineage query", ["--cycle", "1", "--run", "latest"], {}, _none),
    ("lineage query", ["--cycle", "1", "--ids", "--json", "--run", "nope"], {}, _none),
    ("lineage show", ["nope"], {}, _none),
    ("lineage export", ["--out", "{}"], {"HOMESIM_WORKERS": "abc"}, _none),
    ("models list", ["--model-type", "nope"], {}, _none),
    ("models show", ["nope", "v1"], {}, _none),
    ("models show", ["pattern_detection", "v99"], {}, _none),
    ("models deploy", ["nope", "v1"], {}, _none),
    ("models deploy", ["pattern_detection", "v99"], {}, _none),
    ("models reject", ["pattern_detection", "v99", "--reason", "x"], {}, _none),
    ("models rollback", ["nope"], {}, _none),
    ("models history", ["nope"], {}, _none),
]


def _commands(command: object, path: tuple[str, ...] = ()) -> set[str]:
    children = getattr(command, "commands", None)
    if children is None:
        return {" ".join(path)}
    return {name for key, child in children.items() for name in _commands(child, (*path, key))}


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` with its content's digest (a store opened read-only may touch its mtime)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in root.rglob("*")
    }


def test_every_command_has_a_bad_value_case() -> None:
    assert _commands(typer.main.get_command(app)) == {case[0] for case in CASES}


# A setup function's id is its name, not its repr: the repr's address differs between pytest-xdist workers,
# which must collect the same ids.
@pytest.mark.parametrize(
    ("command", "args", "env", "setup"), CASES, ids=lambda v: str(getattr(v, "__qualname__", v))[:40]
)
def test_bad_value_is_one_line_exit_2(
    command: str,
    args: list[str],
    env: dict[str, str],
    setup: Setup,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    workspace = tmp_path / "ws"
    monkeypatch.setenv("HOMESIM_WORKSPACE", str(workspace))
    for name in ("HOMESIM_WORKERS", "HOMESIM_EXECUTOR", "HOMESIM_LOG_LEVEL", "HOMESIM_LOG_JSON"):
        monkeypatch.delenv(name, raising=False)
    made = setup(tmp_path)
    argv = command.split() + [made[0] if a == "{}" and made else a for a in args]
    argv = [str(tmp_path / "out") if a in ("{}", "{out}") else a for a in argv]
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(app, argv, env=env)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("deep.yaml", b"a: " + b"[" * 20000 + b"]" * 20000, "nested too deeply"),
        ("bomb.yaml", BOMB.encode(), "alias bomb"),
    ],
)
def test_ha_validate_reports_hostile_yaml_as_a_finding(
    name: str, content: bytes, why: str, tmp_path: Path
) -> None:
    """`ha validate` reports unreadable YAML as a finding: exit 1, the bound named, nothing expanded."""
    path = _file(name, content)(tmp_path)[0]
    result = CliRunner().invoke(app, ["ha", "validate", path], env={"COLUMNS": "300"})
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert why in result.output and "Traceback" not in result.output
