"""YAML parsed with ruamel.yaml's round-trip loader, kept as plain containers that know where they
came from, so every error can point at FILE:LINE:COLUMN even after overlays are merged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ..errors import ConfigIssue
from .problem import PathPart

Path = tuple[PathPart, ...]


@attrs.frozen
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based


_NOWHERE = Position("<default>", 0, 0)


class LDict(dict[str, Any]):
    """A mapping from YAML that remembers its own, its keys' and its values' positions."""

    position: Position = _NOWHERE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_positions: dict[str, Position] = {}
        self.value_positions: dict[str, Position] = {}


class LList(list[Any]):
    """A sequence from YAML that remembers its own and its items' positions."""

    position: Position = _NOWHERE

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_positions: list[Position] = []


def render_path(path: Sequence[PathPart]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def parse_yaml(text: str, file: str) -> tuple[Any, list[ConfigIssue]]:
    """Parse one YAML document into LDict/LList/scalars; syntax errors become located issues."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        documents = list(yaml.load_all(text))
    except DuplicateKeyError as error:
        mark = error.problem_mark
        key = str(error.problem).split('"')[1] if '"' in str(error.problem) else ""
        return None, [
            ConfigIssue(
                file,
                mark.line + 1 if mark else 0,
                mark.column + 1 if mark else 0,
                key,
                f"duplicate key {key!r}",
                "each key may appear once in a mapping; merge the two entries",
            )
        ]
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        return None, [
            ConfigIssue(
                file,
                mark.line + 1 if mark else 0,
                mark.column + 1 if mark else 0,
                "",
                f"YAML syntax error: {problem}",
                "check indentation and quoting on this line and the one before it",
            )
        ]
    except YAMLError as error:
        return None, [ConfigIssue(file, 0, 0, "", f"YAML error: {error}", None)]
    if len(documents) > 1:
        return None, [
            ConfigIssue(file, 0, 0, "", "more than one YAML document", "keep one Cluster per file")
        ]
    root = documents[0] if documents else None
    if root is None:
        return None, [ConfigIssue(file, 1, 1, "", "the file is empty", "start from `config init`")]
    return _convert(root, file, Position(file, 1, 1)), []


def _convert(node: Any, file: str, position: Position) -> Any:
    if isinstance(node, CommentedMap):
        result = LDict()
        result.position = position
        for key, value in node.items():
            if not isinstance(key, str):
                key = str(key)  # noqa: PLW2901 -- YAML allows non-string keys; we report them later
            key_line, key_col, value_line, value_col = _key_value_marks(node, key)
            result.key_positions[key] = Position(file, key_line + 1, key_col + 1)
            value_position = Position(file, value_line + 1, value_col + 1)
            result.value_positions[key] = value_position
            result[key] = _convert(value, file, value_position)
        return result
    if isinstance(node, CommentedSeq):
        items = LList()
        items.position = position
        for index, value in enumerate(node):
            line, col = node.lc.item(index)
            item_position = Position(file, line + 1, col + 1)
            items.item_positions.append(item_position)
            items.append(_convert(value, file, item_position))
        return items
    if isinstance(node, str):
        return str(node)  # drop ruamel's ScalarString subclasses
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _key_value_marks(node: CommentedMap, key: Any) -> tuple[int, int, int, int]:
    try:
        key_line, key_col, value_line, value_col = node.lc.data[key]
    except (KeyError, TypeError):
        line, col = node.lc.line, node.lc.col
        return line, col, line, col
    return key_line, key_col, value_line, value_col


def locate(root: Any, path: Sequence[PathPart], *, key: bool = False) -> Position | None:
    """Position of the value at ``path`` (or of its key), else of its deepest existing parent."""
    node = root
    found: Position | None = getattr(root, "position", None)
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        if isinstance(node, LDict) and isinstance(part, str) and part in node:
            found = (node.key_positions if key and last else node.value_positions).get(part, found)
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            found = node.item_positions[part]
            node = node[part]
        else:
            break
    return found


def without(mapping: LDict, keys: Sequence[str]) -> LDict:
    """A copy of ``mapping`` without ``keys``, keeping the positions."""
    copy = LDict({k: v for k, v in mapping.items() if k not in keys})
    copy.position = mapping.position
    copy.key_positions = mapping.key_positions
    copy.value_positions = mapping.value_positions
    return copy
