"""How K3s and RKE2 read ``config.yaml`` and ``config.yaml.d/*.yaml``.

Follows k3s-io/k3s ``pkg/configfilearg/parser.go`` (release-1.31; RKE2 uses the same package):

* the base file first, then every ``config.yaml.d`` entry whose name ends in ``.yaml``/``.yml``
  (case-insensitive), in name order (``os.ReadDir`` sorts); directories are skipped;
* a key ending in ``+`` appends to the value so far (both sides made lists; a scalar becomes a
  one-item list); any other key replaces the value so far;
* keys keep the order they were first seen in; each becomes ``--key=value`` (lists repeat the
  flag), and keys that are not flags of the command are dropped with the warning
  ``Unknown flag --KEY found in config.yaml, skipping`` (:func:`unknown_keys`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return list(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    return [value]


def merge_config_files(
    base: Mapping[str, Any] | None, dropins: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The merged config: ``base`` (config.yaml, parsed) then the ``dropins``
    ({file name in config.yaml.d: parsed mapping}) that K3s reads, in name order."""
    files: list[Mapping[str, Any]] = [base or {}]
    for name in sorted(dropins or {}):
        if name.lower().endswith((".yaml", ".yml")):
            files.append((dropins or {})[name] or {})
    merged: dict[str, Any] = {}
    for data in files:
        for raw_key, value in data.items():
            key = str(raw_key)
            append = key.endswith("+")
            key = key.removesuffix("+")
            if append and key in merged:
                merged[key] = _as_list(merged[key]) + _as_list(value)
            else:
                merged[key] = value
    return merged


def unknown_keys(config: Mapping[str, Any], known: Iterable[str]) -> list[str]:
    """Keys the command has no flag for (skipped with a warning by K3s/RKE2)."""
    valid = set(known)
    return [key for key in config if key not in valid]


def as_list(config: Mapping[str, Any], key: str) -> list[str]:
    """A repeatable flag's values, with comma-separated items split (K3s and RKE2 split
    ``disable``, ``cni``, ``cluster-cidr`` and similar lists on commas)."""
    values: list[str] = []
    for item in _as_list(config.get(key)):
        values += [part.strip() for part in str(item).split(",") if part.strip()]
    return values


def as_bool(config: Mapping[str, Any], key: str) -> bool:
    value = config.get(key, False)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)
