"""The sizes/images/regions catalog of a provider, cached on disk with a TTL.

Listing a cloud's catalog costs requests (and rate-limit tokens) and changes rarely: it is kept in
``<data_dir>/cache/catalog/<provider>-<endpoint digest>-<region>.json`` for ``ttl`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from .contract import Image, Region, Size

DEFAULT_TTL = 24 * 3600.0


@attrs.frozen
class Catalog:
    sizes: tuple[Size, ...]
    images: tuple[Image, ...]
    regions: tuple[Region, ...] = ()

    def to_data(self) -> dict[str, Any]:
        return {
            "sizes": [attrs.asdict(s) for s in self.sizes],
            "images": [attrs.asdict(i) for i in self.images],
            "regions": [attrs.asdict(r) for r in self.regions],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Catalog:
        return cls(
            sizes=tuple(
                Size(**{**s, "regions": tuple(s.get("regions", ()))}) for s in data["sizes"]
            ),
            images=tuple(Image(**i) for i in data["images"]),
            regions=tuple(Region(**r) for r in data.get("regions", [])),
        )


class CatalogCache:
    """``get(provider, endpoint, region, fetch)``: the cached catalog, or ``fetch()`` stored."""

    def __init__(
        self, directory: Path, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.directory = directory
        self.ttl = ttl
        self._clock = clock

    def path(self, provider: str, endpoint: str, region: str) -> Path:
        digest = hashlib.sha256(endpoint.encode()).hexdigest()[:12]
        return self.directory / f"{provider}-{digest}-{region or 'any'}.json"

    def get(
        self, provider: str, endpoint: str, region: str, fetch: Callable[[], Catalog]
    ) -> Catalog:
        path = self.path(provider, endpoint, region)
        try:
            if self._clock() - path.stat().st_mtime < self.ttl:
                return Catalog.from_data(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing, stale or unreadable: fetch again
        catalog = fetch()
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(catalog.to_data()), encoding="utf-8")
        temporary.replace(path)
        return catalog
