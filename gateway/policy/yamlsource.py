"""YAML that remembers where each key and item was written, so a policy error can name the line.

``load_yaml(text)`` returns ordinary dicts and lists (``LineDict``/``LineList``) that also carry
``line`` (where the mapping/sequence starts) and ``lines`` (key or index -> line of that entry).
Duplicate keys are refused: in a policy file the second one silently winning is a trap.
"""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict):  # type: ignore[type-arg]
    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg]
    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int) -> None:
        self.key = key
        self.line = line
        super().__init__(f"key {key!r} appears twice")


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise DuplicateKey(key, key_node.start_mark.line + 1)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(text: str) -> Any:
    """Parse YAML into line-aware containers. Raises ``yaml.YAMLError`` (``DuplicateKey`` included)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def line_of(container: Any, key: Any, default: int | None = None) -> int | None:
    """The line of ``container[key]`` when the container came from ``load_yaml``."""
    if isinstance(container, (LineDict, LineList)):
        return container.line_of(key)
    return default
