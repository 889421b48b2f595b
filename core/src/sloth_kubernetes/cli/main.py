"""The ``sloth-kubernetes`` (alias ``sloth``) command and its single exit boundary.

Exit codes: 0 success · 1 handled error (message + hint) · 2 usage error · 3 changes present ·
70 internal error (traceback written to a log file whose path is printed).
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from .. import __version__
from ..errors import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, SlothError
from ..secrets import redact
from .lazy import BUILTIN_COMMANDS, LazyGroup
from .output import OUTPUT_FORMATS, AppState

if TYPE_CHECKING:
    from ..plugins import PluginManager


def build_cli(manager: PluginManager | None = None) -> click.Group:
    """The click group with built-in commands and every plugin's ``register_commands``.

    Without ``manager`` the plugins are loaded when a command first needs them (see
    :func:`run`); built-in commands are imported when they run (:class:`LazyGroup`).
    """

    @click.group(
        cls=LazyGroup,
        name="sloth-kubernetes",
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.option("--debug", is_flag=True, help="Verbose structured logs; show tracebacks.")
    @click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log line format on stderr.",
    )
    @click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help="Output format of read commands.",
    )
    @click.option("--yes", "-y", is_flag=True, help="Answer yes to confirmations.")
    @click.option("--no-color", is_flag=True, help="Plain output without colours.")
    @click.option(
        "--state",
        "state_url",
        envvar="SLOTH_STATE",
        metavar="URL",
        help="State store: sqlite:///PATH or postgresql://… (env SLOTH_STATE).",
    )
    @click.version_option(__version__, "--version", prog_name="sloth-kubernetes")
    @click.pass_context
    def cli(
        ctx: click.Context,
        debug: bool,
        log_format: str,
        output: str,
        yes: bool,
        no_color: bool,
        state_url: str | None,
    ) -> None:
        """Turn one declarative spec into a running multi-cloud Kubernetes cluster.

        Start with `sloth-kubernetes config init --template local -o cluster.yaml`, then
        `sloth-kubernetes plan -f cluster.yaml`.
        """
        from .. import log

        log.configure(debug=debug, log_format=log_format)
        state = ctx.ensure_object(AppState)
        state.debug, state.log_format, state.output = debug, log_format, output
        state.yes, state.color, state.state_url = yes, not no_color, state_url
        state.manager = manager
        if manager is not None:
            warn_about_failures(manager)

    if manager is not None:
        manager.hooks.register_commands(cli)
    return cli


def warn_about_failures(manager: PluginManager) -> None:
    """One warning line per plugin that could not be loaded."""
    for failure in manager.failures:
        click.echo(f"warning: {failure.render()}", err=True)


def _needs_plugins_now(args: Sequence[str]) -> bool:
    """Whether the plugins must be loaded before parsing ``args``: a plugin adds commands, or
    (unknown until plugins were loaded once) might, or the command is not a built-in one."""
    from ..plugin_cache import recorded_command_plugins

    commanders = recorded_command_plugins()
    if commanders is None or commanders:
        return True
    command = _command_word(args)
    return command is not None and command not in BUILTIN_COMMANDS


#: The group's options that take a value (``--state URL``): their value is not the command.
_GROUP_VALUE_OPTIONS = frozenset({"-o", "--output", "--log-format", "--state"})


def _command_word(args: Sequence[str]) -> str | None:
    """The command name in ``args`` (the first word that is neither an option nor an option's
    value), or None (``--help``, ``--version`` or nothing)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GROUP_VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _crash_log(error: BaseException) -> str | None:
    from ..paths import log_dir

    try:
        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
        path = directory / f"crash-{stamp}-{os.getpid()}.log"
        text = _traceback(error)
        path.write_text(redact(text), encoding="utf-8")
        path.chmod(0o600)
        return str(path)
    except OSError:
        return None


def _traceback(error: BaseException) -> str:
    import traceback  # only on errors: it pulls linecache and tokenize in

    return "".join(traceback.format_exception(error))


def run(args: Sequence[str] | None = None, *, manager: PluginManager | None = None) -> int:
    """Run the CLI and return its exit code: the one exit boundary."""
    argv = list(args) if args is not None else sys.argv[1:]
    if manager is None and _needs_plugins_now(argv):
        from ..api import plugin_manager

        manager = plugin_manager()
    debug = "--debug" in argv
    try:
        cli = build_cli(manager)
        code = cli.main(
            args=list(args) if args is not None else None,
            prog_name="sloth-kubernetes",
            standalone_mode=False,
        )
        if isinstance(code, int):  # click returns Exit codes instead of raising them here
            return code
    except SlothError as error:
        click.echo(f"error: {redact(str(error))}", err=True)
        if error.hint:
            click.echo(f"hint: {redact(error.hint)}", err=True)
        if debug:
            click.echo(redact(_traceback(error)), err=True)
        return error.exit_code
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.UsageError as error:
        error.show()
        return EXIT_USAGE
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as error:
        path = _crash_log(error)
        click.echo(f"internal error: {type(error).__name__}: {redact(str(error))}", err=True)
        if debug:
            click.echo(redact(_traceback(error)), err=True)
        click.echo(
            f"this is a bug in sloth-kubernetes; the traceback is in {path}"
            if path
            else "this is a bug in sloth-kubernetes; rerun with --debug for details",
            err=True,
        )
        return EXIT_INTERNAL
    return EXIT_OK


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
