"""Writing automations.yaml as HA does, fast: PyYAML's block-style output for a list of documents, with
the structure laid out here and only scalars rendered by PyYAML (once each).

PyYAML's emitter is pure Python and walks events per node; a simulation cycle renders thousands of
automations. `dump` writes the same bytes as `yaml.dump(documents, Dumper=HaDumper, **DUMP_OPTIONS)`:
block mappings and sequences (a sequence under a mapping key is not indented, as PyYAML writes it),
empty collections as `{}`/`[]`, and each scalar or key as PyYAML renders it in a mapping (memoised). What
this layout does not cover — a multi-line or very long scalar, a key PyYAML would not write as a simple key,
a shared (aliased) container, a type other than dict/list/str/int/float/bool/None, an empty document list —
goes to PyYAML whole, so the text never differs; `tests/test_ha_yaml_emit.py` checks both against each other
on every ground-truth automation, the real ones and random documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from homesim.ha.yaml_loader import Unresolved


class QuotedStr(str):
    """A string YAML must quote: automation ids, so a numeric-looking id stays a string."""

    __slots__ = ()


class HaDumper(yaml.SafeDumper):
    """SafeDumper writing as HA does: nulls as empty values, quoted automation ids, multi-line blocks."""


def _represent_quoted(dumper: yaml.SafeDumper, data: QuotedStr) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="'")


def _represent_none(dumper: yaml.SafeDumper, _data: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Multi-line templates read best as `|` blocks, as people write them; PyYAML falls back to quoting
    # where a block cannot hold the text exactly (trailing spaces, say).
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_unresolved(dumper: yaml.SafeDumper, data: Unresolved) -> yaml.ScalarNode:
    return dumper.represent_scalar(data.tag, str(data))


HaDumper.add_representer(QuotedStr, _represent_quoted)
HaDumper.add_representer(type(None), _represent_none)
HaDumper.add_representer(str, _represent_str)
HaDumper.add_representer(Unresolved, _represent_unresolved)

#: How automations.yaml is written: model field order, no sorting, no line folding.
DUMP_OPTIONS: dict[str, Any] = {
    "sort_keys": False,
    "allow_unicode": True,
    "default_flow_style": False,
    "width": 1_000_000,  # never fold long templates or descriptions across lines
}

_SCALARS = (str, QuotedStr, int, float, bool, type(None))
#: Longest scalar laid out here; PyYAML folds nothing below its width, and longer ones go to it whole.
_MAX_SCALAR = 10_000
#: Memoised renderings are dropped past this many (entity ids differ from home to home).
_MAX_MEMO = 50_000
_memo: dict[tuple[type, object, bool], str | None] = {}


class _NotLaidOutError(Exception):
    """Something in the documents this layout does not cover: PyYAML writes them instead."""


def dump(documents: Sequence[Any]) -> str:
    """`yaml.dump(list(documents), Dumper=HaDumper, **DUMP_OPTIONS)`, byte for byte."""
    if documents:
        lines: list[str] = []
        try:
            _sequence(documents, 0, "", lines, set())
        except _NotLaidOutError:
            pass
        else:
            return "\n".join(lines) + "\n"
    text: str = yaml.dump(list(documents), Dumper=HaDumper, **DUMP_OPTIONS)
    return text


def _mapping(data: dict[Any, Any], indent: int, lead: str, lines: list[str], seen: set[int]) -> None:
    """A non-empty mapping at `indent`; its first line starts with `lead` (after a `- `, say)."""
    pad = " " * indent
    for key, value in data.items():
        head = lead + _text(key, key=True) + ":"
        lead = pad
        kind = type(value)
        if (kind is dict or kind is list) and value:
            _container(value, seen)
            lines.append(head)
            if kind is dict:
                _mapping(value, indent + 2, " " * (indent + 2), lines, seen)
            else:  # PyYAML does not indent a sequence under a mapping key
                _sequence(value, indent, pad, lines, seen)
        else:
            lines.append(head + _value(value, seen))


def _sequence(items: Sequence[Any], indent: int, lead: str, lines: list[str], seen: set[int]) -> None:
    """A non-empty sequence at `indent`; its first line starts with `lead`."""
    pad = " " * indent
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and item:
            _container(item, seen)
            if kind is dict:
                _mapping(item, indent + 2, lead + "- ", lines, seen)
            else:
                _sequence(item, indent + 2, lead + "- ", lines, seen)
        else:
            lines.append(lead + "-" + _value(item, seen))
        lead = pad


def _container(value: object, seen: set[int]) -> None:
    """Note a dict or list; one met twice would be written as an anchor and alias by PyYAML."""
    if id(value) in seen:
        raise _NotLaidOutError
    seen.add(id(value))


def _value(value: object, seen: set[int]) -> str:
    """What follows `key:` or `-` for a scalar or an empty collection (with its leading space)."""
    kind = type(value)
    if kind is dict or kind is list:
        _container(value, seen)
        return " {}" if kind is dict else " []"
    return _text(value, key=False)


def _text(value: object, *, key: bool) -> str:
    """A key as PyYAML writes it, or a value with its leading space ("" for None), memoised."""
    kind = type(value)
    if kind not in _SCALARS or (key and kind is not str):
        raise _NotLaidOutError
    if isinstance(value, str) and len(value) > _MAX_SCALAR:
        raise _NotLaidOutError
    memo_key = (kind, repr(value) if kind is float else value, key)  # -0.0 == 0.0, but not in YAML
    if memo_key in _memo:
        text = _memo[memo_key]
    else:
        text = _render(value, key=key)
        if len(_memo) >= _MAX_MEMO:
            _memo.clear()
        _memo[memo_key] = text
    if text is None:
        raise _NotLaidOutError
    return text


def _render(value: object, *, key: bool) -> str | None:
    """PyYAML's rendering of `value` as a key (with a null value) or as a mapping value; None when it
    spans lines (what follows a line break is indented by context) or is not a simple key."""
    if key:
        rendered: str = yaml.dump({value: None}, Dumper=HaDumper, **DUMP_OPTIONS)
        text = rendered.removesuffix(":\n")
        ok = len(text) < len(rendered) and not _LINE_BREAKS.search(text) and not text.startswith("?")
        return text if ok else None
    rendered = str(yaml.dump({"k": value}, Dumper=HaDumper, **DUMP_OPTIONS))
    text = rendered.removeprefix("k:").removesuffix("\n")
    return text if len(text) == len(rendered) - 3 and not _LINE_BREAKS.search(text) else None


#: What YAML counts as a line break (PyYAML writes one raw, inside quotes, and indents the next line).
_LINE_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")
