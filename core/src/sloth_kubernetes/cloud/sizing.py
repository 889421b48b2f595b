"""Portable sizing and image aliases.

A pool's ``size`` is a provider size name or ``{cpu, memoryGiB}``: the cheapest size of that
region with at least that many vCPUs and that much memory (ties: fewer vCPUs, less memory, name;
sizes without a price come after priced ones, so a catalog without prices yields the smallest).
A pool's ``image`` is an alias (:data:`ALIASES`) each driver maps to its own image, or the
provider's own image id, passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ProviderError
from ..model.cluster import SizeRequest
from .contract import Size

#: The portable image names every cloud plugin maps (``CloudDriver.image_aliases``).
ALIASES = ("ubuntu-24.04", "ubuntu-22.04", "debian-12")
DEFAULT_IMAGE = "ubuntu-24.04"


def choose_size(provider: str, region: str, sizes: Sequence[Size], wanted: SizeRequest) -> Size:
    """The cheapest size in ``region`` with at least ``wanted.cpu`` and ``wanted.memory_gib``."""
    fitting = [
        s
        for s in sizes
        if s.cpu >= wanted.cpu
        and s.memory_gib + 1e-9 >= wanted.memory_gib
        and (not s.regions or region in s.regions)
    ]
    if not fitting:
        largest = ", ".join(f"{s.id} ({s.cpu} vCPU/{s.memory_gib:g} GiB)" for s in sizes[-3:])
        raise ProviderError(
            f"{provider}: no size in {region} has {wanted.cpu} vCPU and {wanted.memory_gib:g} GiB",
            provider=provider,
            hint=f"ask for less, or name a size; largest known: {largest or 'none'}",
        )

    def cost(size: Size) -> tuple[float, int, float, str]:
        price = size.price_hourly if size.price_hourly is not None else float("inf")
        return (price, size.cpu, size.memory_gib, size.id)

    return min(fitting, key=cost)


def describe_size(size: Size) -> str:
    return f"{size.id} ({size_details(size)})"


def size_details(size: Size) -> str:
    price = f", {size.price_hourly:.4f}/h" if size.price_hourly is not None else ""
    return f"{size.cpu} vCPU, {size.memory_gib:g} GiB{price}"


def why_chosen(size: Size) -> str:
    """How :func:`choose_size` picked ``size``, for the plan: by price when the catalog has one,
    else by size (clouds whose API lists no prices)."""
    how = "cheapest match" if size.price_hourly is not None else "smallest match, no prices listed"
    return f"{how}: {size_details(size)}"


def resolve_image(aliases: dict[str, str], image: str | None) -> str:
    """An alias becomes the cloud's image; anything else is the provider's own id."""
    name = image or DEFAULT_IMAGE
    return aliases.get(name, name)


def is_portable(size: Any) -> bool:
    return isinstance(size, SizeRequest)
