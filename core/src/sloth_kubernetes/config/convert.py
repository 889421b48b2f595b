"""A strict cattrs converter and the translation of its errors into located config issues.

Strict means: YAML types are taken as written (``count: "3"`` is an error, not 3), unknown keys are
errors, every problem of a document is collected rather than the first one raised.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, override

from ..model.validators import InvalidValue
from .problem import PathPart, Problem, did_you_mean
from .references import LOOKS_LIKE_REFERENCE, Reference, parse_reference


def yaml_key(attribute: attrs.Attribute[Any]) -> str:
    """The YAML key of an attrs field: ``metadata["key"]`` or the camelCase of its name."""
    explicit = attribute.metadata.get("key")
    if explicit:
        return str(explicit)
    head, *rest = attribute.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def public_fields(cls: type[Any]) -> list[attrs.Attribute[Any]]:
    return [a for a in attrs.fields(cls) if not a.metadata.get("internal")]


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    name = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        dict: "a mapping",
        list: "a list",
    }
    for kind, text in name.items():
        if isinstance(value, kind):
            return f"{text} {value!r}" if kind in (str, int, float, bool) else text
    return type(value).__name__


def _expect(kind: str, value: Any, hint: str | None = None) -> InvalidValue:
    return InvalidValue(f"expected {kind}, got {describe(value)}", hint=hint)


def _strict_str(value: Any, _type: Any) -> str:
    if not isinstance(value, str):
        hint = "quote it" if isinstance(value, int | float | bool) else None
        raise _expect("a string", value, hint)
    if LOOKS_LIKE_REFERENCE.search(value):
        raise InvalidValue(
            "a ${…} reference is only allowed where a secret is expected",
            hint="write the value itself here; references are for credentials and tokens",
        )
    return value


def _strict_int(value: Any, _type: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        hint = "write the number without quotes" if _is_numeric_text(value) else None
        raise _expect("an integer", value, hint)
    return value


def _strict_float(value: Any, _type: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = "write the number without quotes" if _is_numeric_text(value) else None
        raise _expect("a number", value, hint)
    return float(value)


def _strict_bool(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise _expect("true or false", value)
    return value


def _is_numeric_text(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def _reference(value: Any, _type: Any) -> Reference:
    parsed = parse_reference(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidValue(
            "secrets are never written into config files",
            hint="use a reference: ${env:VARIABLE} or ${file:/path/to/secret}",
        )
    return Reference(*parsed)


_SEQUENCES: tuple[Any, ...] = (list, tuple, Sequence)
_MAPPINGS: tuple[Any, ...] = (dict, Mapping)


@functools.cache
def shared_converter() -> cattrs.Converter:
    """One :func:`make_converter` per process: cattrs builds each class's structuring function
    once and keeps it, so reusing the converter makes every later load fast. Callers never
    register hooks on it."""
    return make_converter()


def make_converter() -> cattrs.Converter:
    """A converter with strict scalars, camelCase keys, unknown keys forbidden, all errors kept."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(Reference, _reference)
    converter.register_structure_hook(Any, lambda value, _type: value)

    def attrs_hook(cls: type[Any]) -> Any:
        overrides = {
            a.name: override(omit=True)
            if a.metadata.get("internal")
            else override(rename=yaml_key(a))
            for a in attrs.fields(cls)
        }
        inner = make_dict_structure_fn(
            cls,
            converter,
            _cattrs_forbid_extra_keys=True,
            **overrides,  # type: ignore[arg-type]  # per-attribute overrides are **kwargs in cattrs
        )

        def structure(value: Any, _type: Any) -> Any:
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise _expect("a mapping", value)
            try:
                return inner(value, cls)
            except InvalidValue as error:
                # An attrs validator failed in __init__: attach the field so it can be located.
                if not error.field:
                    raise
                error.__notes__ = [AttributeValidationNote(error.field, error.field, Any)]
                raise ClassValidationError(
                    f"While structuring {cls.__name__}", [error], cls
                ) from None

        return structure

    converter.register_structure_hook_factory(attrs.has, attrs_hook)
    converter.register_structure_hook_func(_is_literal, _literal)
    converter.register_structure_hook_func(_is_union, lambda v, t: _union(converter, v, t))
    converter.register_structure_hook_func(
        lambda t: get_origin(t) in _SEQUENCES, lambda v, t: _sequence(converter, v, t)
    )
    converter.register_structure_hook_func(
        lambda t: get_origin(t) in _MAPPINGS, lambda v, t: _mapping(converter, v, t)
    )
    return converter


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _literal(value: Any, tp: Any) -> Any:
    allowed = get_args(tp)
    if value in allowed and type(value) in {type(a) for a in allowed}:
        return value
    choices = ", ".join(str(a) for a in allowed)
    hint = did_you_mean(value, [str(a) for a in allowed]) if isinstance(value, str) else None
    raise InvalidValue(f"{describe(value)} is not one of: {choices}", hint=hint)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _union(converter: cattrs.Converter, value: Any, tp: Any) -> Any:
    members = get_args(tp)
    if value is None:
        if type(None) in members:
            return None
        raise _expect(_union_text(members), value)
    for member in members:
        if member is type(None):
            continue
        origin = get_origin(member)
        if (
            (attrs.has(member) and isinstance(value, Mapping))
            or (member in (str, int, float, bool) and isinstance(value, member))
            or (member is float and isinstance(value, int) and not isinstance(value, bool))
            or (origin in _SEQUENCES and isinstance(value, list))
            or (origin in _MAPPINGS and isinstance(value, Mapping))
        ):
            return converter.structure(value, member)
    raise _expect(_union_text(members), value)


def _union_text(members: Sequence[Any]) -> str:
    names = []
    for member in members:
        if member is type(None):
            continue
        origin = get_origin(member)
        if attrs.has(member) or origin in _MAPPINGS:
            names.append("a mapping")
        elif origin in _SEQUENCES:
            names.append("a list")
        else:
            names.append(describe(member()).split(" ")[1])
    return " or ".join(names)


def _sequence(converter: cattrs.Converter, value: Any, tp: Any) -> Any:
    if not isinstance(value, list):
        raise _expect("a list", value, "write items as `- item` lines or [a, b]")
    args = get_args(tp)
    item_type = args[0] if args else Any
    results, errors = [], []
    for index, item in enumerate(value):
        try:
            results.append(converter.structure(item, item_type))
        except Exception as error:
            error.__notes__ = [
                *getattr(error, "__notes__", []),
                IterableValidationNote(f"index {index}", index, item_type),
            ]
            errors.append(error)
    if errors:
        raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
    return tuple(results) if get_origin(tp) is tuple else results


def _mapping(converter: cattrs.Converter, value: Any, tp: Any) -> Any:
    if not isinstance(value, Mapping):
        raise _expect("a mapping", value)
    key_type, value_type = (*get_args(tp), Any, Any)[:2]
    result, errors = {}, []
    for key, item in value.items():
        try:
            if key_type is str and not isinstance(key, str):
                raise _expect("a string key", key)
            result[key] = converter.structure(item, value_type)
        except Exception as error:
            error.__notes__ = [
                *getattr(error, "__notes__", []),
                IterableValidationNote(f"key {key}", key, value_type),
            ]
            errors.append(error)
    if errors:
        raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
    return result


def problems_from(error: BaseException, path: tuple[PathPart, ...] = ()) -> list[Problem]:
    """Flatten a cattrs error tree into problems with key paths (YAML keys, list indexes)."""
    if isinstance(error, ClassValidationError):
        found: list[Problem] = []
        keys = {a.name: yaml_key(a) for a in attrs.fields(error.cl)} if attrs.has(error.cl) else {}
        for sub in error.exceptions:
            note = _note(sub, AttributeValidationNote)
            if note is not None:
                sub_path = (*path, keys.get(note.name, note.name))
            elif isinstance(sub, InvalidValue) and sub.field:  # raised by an attrs validator
                sub_path = (*path, keys.get(sub.field, sub.field))
            else:
                sub_path = path
            found += problems_from(sub, sub_path)
        return found
    if isinstance(error, IterableValidationError):
        found = []
        for sub in error.exceptions:
            note = _note(sub, IterableValidationNote)
            found += problems_from(sub, (*path, note.index) if note is not None else path)
        return found
    if isinstance(error, ForbiddenExtraKeysError):
        known = [yaml_key(a) for a in public_fields(error.cl)]
        return [
            Problem(
                (*path, extra),
                f"unknown key {extra!r}",
                did_you_mean(extra, known) or f"known keys here: {', '.join(known)}",
                at_key=True,
            )
            for extra in sorted(error.extra_fields)
        ]
    if isinstance(error, KeyError) and path:
        missing = path[-1]
        return [Problem(path[:-1], f"missing required key {missing!r}", f"add `{missing}: …`")]
    if isinstance(error, InvalidValue):
        return [Problem(path, str(error), error.hint)]
    if isinstance(error, ValueError | TypeError):
        return [Problem(path, str(error))]
    raise error


def _note(error: BaseException, kind: type[Any]) -> Any:
    for note in getattr(error, "__notes__", []):
        if isinstance(note, kind):
            return note
    return None


_ = typing  # typing is re-exported for plugins that build Literal types dynamically
