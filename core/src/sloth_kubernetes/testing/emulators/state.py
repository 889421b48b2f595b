"""Helpers shared by the stateful cloud fakes: pagination, ids, addresses, timestamps."""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

T = TypeVar("T")


def utc_now(*, zulu: bool = True) -> str:
    """An RFC 3339 timestamp without fractions (some clients parse it with a fixed format)."""
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ" if zulu else "%Y-%m-%dT%H:%M:%S")


def new_uuid() -> str:
    return str(uuid.uuid4())


@attrs.frozen
class Page:
    items: list[Any]
    page: int
    per_page: int
    last_page: int
    total: int


def paginate(
    items: Sequence[T],
    params: Mapping[str, str],
    *,
    default_per_page: int,
    page_key: str = "page",
    per_page_key: str = "per_page",
) -> Page:
    """Slice ``items`` the way the cloud does: 1-based pages, an empty page past the end."""
    page = max(1, int(params.get(page_key) or 1))
    per_page = max(1, int(params.get(per_page_key) or default_per_page))
    last_page = max(1, math.ceil(len(items) / per_page))
    start = (page - 1) * per_page
    return Page(list(items[start : start + per_page]), page, per_page, last_page, len(items))


@attrs.define
class AddressPool:
    """Hands out addresses from one network, never the same one twice until the pool is reset."""

    network: str
    _hosts: Iterator[ipaddress.IPv4Address] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._hosts = ipaddress.IPv4Network(self.network).hosts()
        next(self._hosts)  # .1 is the gateway

    def take(self) -> str:
        return str(next(self._hosts))

    @property
    def gateway(self) -> str:
        return str(next(ipaddress.IPv4Network(self.network).hosts()))

    @property
    def netmask(self) -> str:
        return str(ipaddress.IPv4Network(self.network).netmask)


@attrs.define
class IdCounter:
    """Integer ids starting at ``start``; real clouds use large ids, so do we."""

    start: int = 100_000
    _counter: Iterator[int] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._counter = itertools.count(self.start)

    def next(self) -> int:
        return next(self._counter)


def md5_fingerprint(public_key: str) -> str:
    """MD5 fingerprint of an OpenSSH public key blob, as clouds show it (not a security use)."""
    import base64
    import hashlib

    parts = public_key.split()
    blob = base64.b64decode(parts[1]) if len(parts) > 1 else public_key.encode()
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))
