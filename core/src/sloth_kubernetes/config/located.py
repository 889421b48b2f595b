"""YAML parsed with ruamel.yaml's round-trip loader, kept as plain containers that know where they
came from, so every error can point at FILE:LINE:COLUMN even after overlays are merged.

Hostile input is cut off early, each time with a located error (docs/reliability.md, "Config
limits"): nesting deeper than :data:`MAX_DEPTH` (ruamel's own ``max_depth`` for the composer,
plus a flow-level check in the scanner, whose simple-key bookkeeping is quadratic in the flow
depth), aliases expanding to more than :data:`MAX_ALIAS_VALUES` values (a "billion laughs"
document is a few hundred bytes), and any tag beyond the plain YAML types (``!!python/…``,
``!!binary``, ``!!set``…): a cluster config has no use for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import RoundTripScanner

from ..errors import ConfigIssue
from .problem import PathPart

Path = tuple[PathPart, ...]

#: Deepest nesting of mappings/sequences accepted (a real config nests about 10 levels, Helm
#: values a few more). Deeper input is refused before Python's recursion limit could be reached.
MAX_DEPTH = 64
#: Most values that aliases (``*name``) may expand to in one document: generous for anchors
#: shared between node pools, fatal to an exponential alias bomb.
MAX_ALIAS_VALUES = 10_000
#: The tags plain YAML resolves to (``!!str "0755"`` may be written, too); ``!!python/…``,
#: ``!!binary``, ``!!set``, ``!!omap`` and custom ``!tags`` are refused.
ALLOWED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
)
_LIMIT_HINT = "a cluster config needs none of this; see docs/reliability.md, 'Config limits'"


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


class _LimitError(MarkedYAMLError):
    """A configured limit was exceeded (reported with :data:`_LIMIT_HINT`)."""


class _BoundedScanner(RoundTripScanner):
    """Refuses flow nesting (``[[[…``) deeper than MAX_DEPTH while scanning, before the
    scanner's per-level simple-key bookkeeping turns thousands of levels into minutes."""

    def fetch_flow_collection_start(self, TokenClass: Any, to_push: str) -> None:
        if len(self.flow_context) >= MAX_DEPTH:
            raise _LimitError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.reader.get_mark()
            )
        super().fetch_flow_collection_start(TokenClass, to_push)


class _StrictConstructor(RoundTripConstructor):
    """The round-trip constructor without tags outside :data:`ALLOWED_TAGS`."""

    def refuse_tag(self, node: Any) -> None:
        raise _LimitError(
            None,
            None,
            f"the YAML tag {str(node.tag).replace('tag:yaml.org,2002:', '!!')} is not allowed",
            node.start_mark,
        )

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        if str(tag or node.tag) not in ALLOWED_TAGS:
            self.refuse_tag(node)
        try:
            return super().construct_non_recursive_object(node, tag)
        except ValueError as error:  # e.g. an integer of more than 4,300 digits
            raise _LimitError(
                None, None, f"cannot read this value: {error}", node.start_mark
            ) from None


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.Scanner = _BoundedScanner
    yaml.Constructor = _StrictConstructor
    yaml.max_depth = MAX_DEPTH  # ruamel's composer refuses deeper documents itself
    return yaml


def _position_of(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character ``index`` in ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _code(character: int | str) -> int:
    return character if isinstance(character, int) else ord(character[:1] or "\0")


def parse_yaml(text: str, file: str) -> tuple[Any, list[ConfigIssue]]:
    """Parse one YAML document into LDict/LList/scalars; syntax errors become located issues."""
    yaml = _yaml()
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
        if isinstance(error, _LimitError | MaxDepthExceededError):
            message, hint = str(problem), _LIMIT_HINT
            if isinstance(error, MaxDepthExceededError) or "nested" in message:
                message = f"the document is nested deeper than {MAX_DEPTH} levels"
        else:
            message = f"YAML syntax error: {problem}"
            hint = "check indentation and quoting on this line and the one before it"
        return None, [
            ConfigIssue(
                file, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "",
                message, hint,
            )
        ]  # fmt: skip
    except ReaderError as error:
        line, column = _position_of(text, error.position)
        return None, [
            ConfigIssue(
                file, line, column, "",
                f"character U+{_code(error.character):04X} is not allowed in YAML (binary data?)",
                "a config is UTF-8 text; remove the character or quote it as an escape",
            )
        ]  # fmt: skip
    except YAMLError as error:
        return None, [ConfigIssue(file, 0, 0, "", f"YAML error: {error}", None)]
    if len(documents) > 1:
        return None, [
            ConfigIssue(file, 0, 0, "", "more than one YAML document", "keep one Cluster per file")
        ]
    root = documents[0] if documents else None
    if root is None:
        return None, [ConfigIssue(file, 1, 1, "", "the file is empty", "start from `config init`")]
    try:
        return _Converter(file).convert(root, Position(file, 1, 1)), []
    except _TooLarge as error:
        return None, [ConfigIssue(file, error.position.line, error.position.column, "",
                                  error.message, _LIMIT_HINT)]  # fmt: skip


class _TooLarge(Exception):
    def __init__(self, message: str, position: Position) -> None:
        super().__init__(message)
        self.message, self.position = message, position


class _Converter:
    """Copies ruamel's tree into LDict/LList, expanding aliases within :data:`MAX_ALIAS_VALUES`
    (an alias is one shared object in ruamel's tree; copying it is where a bomb explodes)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.seen: set[int] = set()
        self.alias_values = 0

    def convert(
        self,
        node: Any,
        position: Position,
        site: Position | None = None,
        holder: Position | None = None,
    ) -> Any:
        """``site``: the collection holding the outermost alias on the way here (``holder``: the
        current parent), since ruamel gives an alias its anchor's position. (ruamel's round-trip
        constructor turns a self-reference into None, so the tree has no cycles.)"""
        if isinstance(node, CommentedMap | CommentedSeq):
            if id(node) in self.seen:
                site = site or holder or position
            self.seen.add(id(node))
        if site is not None:
            self.alias_values += 1
            if self.alias_values > MAX_ALIAS_VALUES:
                raise _TooLarge(f"aliases expand to more than {MAX_ALIAS_VALUES} values", site)
        return self._container(node, position, site)

    def _container(self, node: Any, position: Position, site: Position | None) -> Any:
        file = self.file
        if isinstance(node, CommentedMap):
            result = LDict()
            result.position = position
            for key, value in node.items():
                if not isinstance(key, str):
                    key = str(key)  # noqa: PLW2901 -- YAML allows non-string keys; reported later
                key_line, key_col, value_line, value_col = _key_value_marks(node, key)
                result.key_positions[key] = Position(file, key_line + 1, key_col + 1)
                value_position = Position(file, value_line + 1, value_col + 1)
                result.value_positions[key] = value_position
                result[key] = self.convert(value, value_position, site, position)
            return result
        if isinstance(node, CommentedSeq):
            items = LList()
            items.position = position
            for index, value in enumerate(node):
                line, col = _item_marks(node, index, position)
                item_position = Position(file, line, col)
                items.item_positions.append(item_position)
                items.append(self.convert(value, item_position, site, position))
            return items
        return _scalar(node)


def _scalar(node: Any) -> Any:
    if isinstance(node, str):
        return str(node)  # drop ruamel's ScalarString subclasses
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _item_marks(node: CommentedSeq, index: int, parent: Position) -> tuple[int, int]:
    """1-based position of a sequence item (its parent's when ruamel kept none)."""
    marks = node.lc.item(index) if node.lc.data else None
    if not marks:
        return parent.line, parent.column
    return marks[0] + 1, marks[1] + 1


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
