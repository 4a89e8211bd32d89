"""Safe YAML loading that remembers where every key and item stands.

Used for the configuration and (later) the IVR scripts: only plain mappings, sequences and
scalars are accepted (no object tags), the file size is bounded, and alias expansion is refused
outright, so a small file can never expand into a large document. ``positions`` maps a key path
such as ``("ami", "port")`` to the 1-based line and column of that key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_BYTES = 1_000_000
Path = tuple[str | int, ...]


class YamlSourceError(ValueError):
    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        super().__init__(message)


@dataclass
class YamlDocument:
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path) -> tuple[int, int] | None:
        """Position of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return None
            path = path[:-1]


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (no billion-laughs expansion)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            mark = event.start_mark
            raise YamlSourceError("aliases are not allowed", mark.line + 1, mark.column + 1)
        return super().compose_node(parent, index)


_PLAIN_TAGS = {
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


def load_yaml(text: str | bytes) -> YamlDocument:
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_BYTES:
        raise YamlSourceError(f"file is larger than {MAX_BYTES} bytes")
    loader = _Loader(raw.decode("utf-8"))
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(data={})
        doc = YamlDocument(data=None)
        _check_and_index(node, (), doc.positions)
        doc.data = loader.construct_document(node)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise YamlSourceError(str(exc.problem or exc), line, col) from None
    finally:
        loader.dispose()


def _check_and_index(node: yaml.Node, path: Path, out: dict[Path, tuple[int, int]]) -> None:
    if node.tag not in _PLAIN_TAGS:
        mark = node.start_mark
        raise YamlSourceError(f"tag {node.tag} is not allowed", mark.line + 1, mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            out[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _check_and_index(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _check_and_index(item, (*path, index), out)
