"""Overlays: ``-f base.yaml -f prod.yaml``. Later files win; lists of named items merge by name."""

from __future__ import annotations

from typing import Any

from .located import LDict, LList

MERGE_KEYS = ("name", "type")  # list items identified by one of these merge instead of appending


def merge(base: Any, overlay: Any) -> Any:
    """Merge ``overlay`` onto ``base``; positions follow the file each value came from."""
    if isinstance(base, LDict) and isinstance(overlay, LDict):
        result = LDict(base)
        result.position = base.position
        result.key_positions = dict(base.key_positions)
        result.value_positions = dict(base.value_positions)
        for key, value in overlay.items():
            result[key] = merge(base[key], value) if key in base else value
            result.key_positions[key] = overlay.key_positions[key]
            result.value_positions[key] = overlay.value_positions[key]
        return result
    if isinstance(base, LList) and isinstance(overlay, LList):
        merge_key = _merge_key(base, overlay)
        if merge_key is None:
            return overlay
        result_list = LList(base)
        result_list.position = overlay.position
        result_list.item_positions = list(base.item_positions)
        index_of = {item[merge_key]: index for index, item in enumerate(base)}
        for item, position in zip(overlay, overlay.item_positions, strict=True):
            index = index_of.get(item[merge_key])
            if index is None:
                result_list.append(item)
                result_list.item_positions.append(position)
            else:
                result_list[index] = merge(base[index], item)
                result_list.item_positions[index] = position
        return result_list
    return overlay


def _merge_key(*lists: LList) -> str | None:
    for key in MERGE_KEYS:
        if all(isinstance(item, LDict) and key in item for items in lists for item in items):
            return key
    return None
