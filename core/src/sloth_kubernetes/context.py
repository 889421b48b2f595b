"""What hooks receive: the cluster being worked on, and doctor check results."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from .model.cluster import ClusterConfig
    from .registry import Catalog

CheckStatus = Literal["ok", "warn", "fail"]


@attrs.frozen
class DoctorCheck:
    """One line of ``doctor``: what was checked, the outcome, and how to fix it when not ok."""

    name: str
    status: CheckStatus
    detail: str
    fix: str = ""


def _no_event(_event: dict[str, Any]) -> None:
    return None


@attrs.define
class ClusterContext:
    """The cluster a hook works on: its validated config, where state lives, and an event sink.

    ``state`` is the open state store (``None`` for read-only commands that do not need one);
    ``emit`` sends progress events (``{"node": …, "phase": …, "message": …}``) to the renderer;
    ``dry_run`` tells a plugin to report what it would do and change nothing.
    """

    config: ClusterConfig
    state: Any = None
    dry_run: bool = False
    emit: Callable[[dict[str, Any]], None] = _no_event

    @property
    def name(self) -> str:
        return self.config.metadata.name


@attrs.frozen
class DoctorContext:
    """What ``doctor`` checks: the config (if ``-f`` was given), the state URL and the plugins."""

    catalog: Catalog
    config: ClusterConfig | None = None
    state_url: str | None = None
    plugin_failures: tuple[str, ...] = ()
