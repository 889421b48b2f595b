"""Helpers shared by command modules."""

from __future__ import annotations

from typing import Any

import click

from .output import AppState


def app_state() -> AppState:
    state = click.get_current_context().find_object(AppState)
    assert state is not None, "commands run under the sloth-kubernetes group"
    return state


def manager() -> Any:
    state = app_state()
    if state.manager is None:
        from ..api import plugin_manager

        state.manager = plugin_manager()
    return state.manager


def config_files_option(func: Any) -> Any:
    return click.option(
        "-f",
        "--file",
        "files",
        multiple=True,
        required=True,
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help="Cluster config; repeat to overlay (later files win).",
    )(func)


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
