"""Load cluster config files into a validated :class:`~sloth_kubernetes.model.ClusterConfig`.

Every problem in the files is collected and raised at once as one :class:`ConfigError`, each issue
located at FILE:LINE:COLUMN with its key path and a hint. The core model, the plugin blocks and the
cross-key checks each work from the raw tree, so one mistake never hides another.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigError, ConfigIssue
from ..model.cluster import ClusterConfig
from ..registry import Catalog
from .convert import problems_from, shared_converter
from .located import LDict, locate, parse_yaml, render_path, without
from .overlays import merge
from .problem import Problem
from .references import Reference
from .semantics import check_semantics
from .slots import DISTRO_DEFAULT, validate_slots

#: Largest config file read (a 200-node cluster written out node by node is ~40 KiB); larger
#: input is refused before it is parsed: the pure-Python YAML parser needs ~1-2 s per 100 KiB on
#: a 2-core machine, and a file of thousands of unknown keys costs as much again in messages.
MAX_CONFIG_BYTES = 256 * 1024
_OTHER_ENCODINGS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def load_config(paths: Sequence[str | Path], catalog: Catalog) -> ClusterConfig:
    """Read, merge (later files win) and validate config files."""
    if not paths:
        raise ConfigError(
            [ConfigIssue("<command line>", 0, 0, "", "no config file given", "pass -f FILE")]
        )
    return _load([(read_config_text(path), str(path)) for path in paths], catalog)


def read_config_text(path: str | Path) -> str:
    """A config file's text: at most MAX_CONFIG_BYTES of UTF-8, else a located ConfigError."""
    file = str(path)
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # never more, whatever the file claims
    except FileNotFoundError:
        raise ConfigError(
            [ConfigIssue(file, 0, 0, "", "file not found", "check the path given to -f")]
        ) from None
    except OSError as error:
        raise ConfigError(
            [ConfigIssue(file, 0, 0, "", f"cannot read: {error.strerror}", "check the path")]
        ) from None
    return decode_config(data, file)


def decode_config(data: bytes, file: str) -> str:
    """UTF-8 text of a config, or a ConfigError at the first byte that is not."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [
                ConfigIssue(
                    file, 0, 0, "", f"the file is larger than {MAX_CONFIG_BYTES // 1024} KiB",
                    "a cluster config is a few KiB; see docs/reliability.md, 'Config limits'",
                )
            ]
        )  # fmt: skip
    for bom, encoding in _OTHER_ENCODINGS:
        if data.startswith(bom):
            raise ConfigError(
                [ConfigIssue(file, 1, 1, "", f"the file is {encoding}-encoded",
                             "save it as UTF-8 (without a byte order mark)")]
            )  # fmt: skip
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        good = data[: error.start].decode("utf-8-sig")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        raise ConfigError(
            [ConfigIssue(file, line, column, "",
                         f"byte 0x{data[error.start]:02x} is not UTF-8 (binary data?)",
                         "a config is UTF-8 text; save it as UTF-8")]
        ) from None  # fmt: skip


def load_config_text(text: str, catalog: Catalog, file: str = "<string>") -> ClusterConfig:
    """Validate config given as text (tests, the wizard, stdin)."""
    if len(text) > MAX_CONFIG_BYTES:
        decode_config(text.encode("utf-8"), file)  # raises the size error
    return _load([(text, file)], catalog)


def _load(texts: Sequence[tuple[str, str]], catalog: Catalog) -> ClusterConfig:
    trees, issues = [], []
    for text, file in texts:
        tree, found = parse_yaml(text, file)
        issues += found
        if tree is not None and not isinstance(tree, LDict):
            issues.append(ConfigIssue(file, 1, 1, "", "the document must be a mapping"))
        elif tree is not None:
            trees.append(tree)
    if issues:
        raise ConfigError(issues)
    raw = trees[0]
    for overlay in trees[1:]:
        raw = merge(raw, overlay)

    converter = shared_converter()
    slots, problems = validate_slots(raw, catalog, converter)
    core_tree = _without_plugin_keys(raw, slots.distro_key)
    config: ClusterConfig | None = None
    try:
        config = converter.structure(core_tree, ClusterConfig)
    except Exception as error:
        problems += problems_from(error)
    problems += check_semantics(raw, catalog)
    if problems or config is None:
        raise ConfigError(_locate_all(raw, problems))
    spec = config.spec
    spec = attrs.evolve(
        spec,
        providers=slots.providers,
        node_pools=[
            attrs.evolve(pool, options=slots.pool_options.get(index))
            for index, pool in enumerate(spec.node_pools)
        ],
        mesh=slots.mesh,
        kubernetes=attrs.evolve(spec.kubernetes, cni=slots.cni, distro=slots.distro),
        storage=slots.storage,
        addons=slots.addons,
    )
    config = attrs.evolve(config, spec=spec, sources=tuple(file for _, file in texts))
    _place_references(config, _reference_positions(raw))
    return config


def _reference_positions(node: Any, path: tuple[Any, ...] = ()) -> dict[str, tuple[Any, str]]:
    """Where each ``${…}`` reference text was written (first occurrence wins)."""
    found: dict[str, tuple[Any, str]] = {}
    if isinstance(node, LDict):
        for key, value in node.items():
            if isinstance(value, str) and value.startswith("${"):
                found.setdefault(value, (node.value_positions.get(key), render_path((*path, key))))
            else:
                for text, where in _reference_positions(value, (*path, key)).items():
                    found.setdefault(text, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            for text, where in _reference_positions(value, (*path, index)).items():
                found.setdefault(text, where)
    return found


def _place_references(value: Any, positions: dict[str, tuple[Any, str]]) -> None:
    """Tell each Reference where it was written: errors point there, ${file:} is relative to it."""
    if isinstance(value, Reference):
        position, path = positions.get(str(value), (None, ""))
        if position is not None:
            for name, item in (
                ("file", position.file),
                ("line", position.line),
                ("column", position.column),
                ("path", path),
            ):
                object.__setattr__(value, name, item)
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            _place_references(getattr(value, field.name), positions)
    elif isinstance(value, dict):
        for item in value.values():
            _place_references(item, positions)
    elif isinstance(value, list | tuple):
        for item in value:
            _place_references(item, positions)


def _without_plugin_keys(raw: LDict, distro_key: str | None) -> LDict:
    """The tree the core model sees: the distro's own block belongs to the distro plugin."""
    spec = raw.get("spec")
    if not isinstance(spec, LDict):
        return raw
    kubernetes = spec.get("kubernetes")
    if not isinstance(kubernetes, LDict) or distro_key is None:
        return raw
    new_spec = without(spec, [])
    new_spec["kubernetes"] = without(kubernetes, [distro_key])
    new_raw = without(raw, [])
    new_raw["spec"] = new_spec
    return new_raw


def _locate_all(raw: LDict, problems: Sequence[Problem]) -> list[ConfigIssue]:
    issues = []
    for problem in problems:
        position = locate(raw, problem.path, key=problem.at_key)
        issues.append(
            ConfigIssue(
                position.file if position else "<config>",
                position.line if position else 0,
                position.column if position else 0,
                render_path(problem.path),
                problem.message,
                problem.hint,
            )
        )
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (i.file, i.line, i.column, i.path))


__all__ = ["DISTRO_DEFAULT", "load_config", "load_config_text"]
