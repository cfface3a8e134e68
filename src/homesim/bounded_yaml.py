"""YAML parsing with bounds, for every YAML a user hands homesim (generation configs, HA files).

Owns the limits that stop a few hundred bytes from exhausting memory: a document whose aliases would
expand past `MAX_NODES` nodes ("billion laughs") is refused before anything is constructed, and input
nested too deeply for the (recursive) composer is refused instead of overflowing the stack. Refusals are
`yaml.YAMLError`s, so callers report them as they report any invalid YAML.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Largest YAML text read (configs are small; a bigger one is a mistake or an attack).
MAX_BYTES = 8 * 1024 * 1024
#: Most nodes a document may have once its aliases are expanded.
MAX_NODES = 1_000_000
#: Deepest nesting of flow collections (`[[[…`, `{{{…`). PyYAML's scanner revisits every open level for
#: each token it reads ahead, so 20,000 `[` took ~15 s before the composer's recursion gave up at a few
#: hundred levels; the scanner now refuses the first level past this one.
MAX_FLOW_DEPTH = 256


class YamlBoundsError(yaml.YAMLError):
    """A document over the bounds; the message says which bound."""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that checks a document's expanded size before constructing it."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 (PyYAML's name)
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise YamlBoundsError("document nested too deeply")
        super().fetch_flow_collection_start(TokenClass)

    def get_single_node(self) -> yaml.Node | None:
        try:
            node = super().get_single_node()
        except RecursionError:
            raise YamlBoundsError("document nested too deeply") from None
        if node is not None:
            check_size(node)
        return node


def check_size(root: yaml.Node) -> None:
    """Refuse documents whose aliases expand to more than MAX_NODES nodes (shared nodes counted per use)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if done:
            size = 1 + sum(sizes.get(id(child), 0) for child in children)
            if size > MAX_NODES:
                raise YamlBoundsError(f"document expands to more than {MAX_NODES:,} nodes (YAML alias bomb?)")
            sizes[id(node)] = size
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def safe_load(text: str) -> Any:
    """`yaml.safe_load` within the bounds."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise YamlBoundsError(f"YAML larger than {MAX_BYTES:,} bytes")
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
