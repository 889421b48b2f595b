"""Helpers shared by command modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .output import AppState

if TYPE_CHECKING:
    from ..plugins import PluginManager
    from ..state import StateStore


def app_state() -> AppState:
    state = click.get_current_context().find_object(AppState)
    assert state is not None, "commands run under the sloth-kubernetes group"
    return state


def manager() -> PluginManager:
    state = app_state()
    if state.manager is None:  # plugins are loaded when a command first needs them
        from ..api import plugin_manager
        from .main import warn_about_failures

        state.manager = plugin_manager()
        warn_about_failures(state.manager)
    return state.manager


@contextmanager
def state_store(*, readonly: bool = False) -> Iterator[StateStore]:
    """The store chosen by ``--state`` / ``SLOTH_STATE`` (default file), closed afterwards;
    ``readonly`` for commands that only read (a missing store is an error, nothing is written)."""
    from .. import api

    with api.open_state(app_state().state_url, readonly=readonly) as store:
        yield store


F = TypeVar("F", bound=Callable[..., Any])


def files_option(*, required: bool, help: str) -> Callable[[F], F]:
    """``-f/--file FILE``, repeatable: later files overlay earlier ones."""
    return click.option(
        "-f", "--file", "files", multiple=True, required=required, metavar="FILE",
        type=click.Path(dir_okay=False), help=help,
    )  # fmt: skip


def config_files_option(func: F) -> F:
    """The required ``-f FILE`` of commands that work on a cluster config."""
    return files_option(required=True, help="Cluster config; repeat to overlay (later files win).")(
        func
    )


def yes_option(func: Any) -> Any:
    """``--yes/-y`` on a mutating command (same as the global option)."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            ctx.ensure_object(AppState).yes = True
        return value

    return click.option(
        "--yes",
        "-y",
        "yes",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help="Answer yes to confirmations.",
    )(func)
