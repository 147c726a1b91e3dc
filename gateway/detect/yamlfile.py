"""Read a YAML rules file keeping the line of every value, so errors can name it.

``load(path)`` returns plain Python data whose mappings and sequences are :class:`Node` wrappers
remembering their own line and the line of each key or item. A file that is not valid YAML raises
:class:`~gateway.errors.RulesError` with the line yaml's parser reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gateway.errors import RulesError

#: libyaml's parser when PyYAML was built with it (several times faster; the same nodes, with the
#: same line marks), else PyYAML's own.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Node:
    """A mapping or sequence from the file, with line numbers (1-based)."""

    def __init__(self, path: str, line: int, value: Any, lines: Any) -> None:
        self.path = path
        self.line = line
        self.value = value
        self.lines = lines  # dict key -> line, or list of item lines

    def error(self, reason: str, key: Any = None) -> RulesError:
        """A RulesError pointing at this node, or at one of its keys/items."""
        line = self.line
        if key is not None:
            try:
                line = self.lines[key]
            except (KeyError, IndexError, TypeError):
                pass
        return RulesError(self.path, line, reason)

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default) if isinstance(self.value, dict) else default

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Node({self.path}:{self.line}, {self.value!r})"


def _convert(node: yaml.Node, path: str, ctor: yaml.constructor.SafeConstructor) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        value: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        for knode, vnode in node.value:
            key = _convert(knode, path, ctor)
            if isinstance(key, Node):
                raise RulesError(path, knode.start_mark.line + 1, "a key must be a plain value")
            if key in value:
                raise RulesError(path, knode.start_mark.line + 1, f"duplicate key {key!r}")
            value[key] = _convert(vnode, path, ctor)
            lines[key] = vnode.start_mark.line + 1
        return Node(path, line, value, lines)
    if isinstance(node, yaml.SequenceNode):
        items = [_convert(item, path, ctor) for item in node.value]
        return Node(path, line, items, [item.start_mark.line + 1 for item in node.value])
    return ctor.construct_object(node)


def load(path: Path) -> Any:
    """Parse ``path``; raise RulesError(path, line, reason) if it is not valid YAML."""
    spath = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(spath, None, f"cannot read: {exc}") from exc
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RulesError(spath, line, f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise RulesError(spath, None, f"not valid YAML: {exc}") from exc
    if root is None:
        raise RulesError(spath, 1, "the file is empty")
    ctor = yaml.constructor.SafeConstructor()
    try:
        return _convert(root, spath, ctor)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise RulesError(spath, mark.line + 1 if mark else None, str(exc.problem)) from exc
