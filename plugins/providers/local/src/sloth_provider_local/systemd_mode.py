"""Systemd mode (placeholder until implemented)."""

from __future__ import annotations

from sloth_kubernetes.errors import ProviderError

from ._system import PROVIDER


def check_tools() -> None:
    raise ProviderError("systemd mode not yet available", hint="use mode='fast'", provider=PROVIDER)
