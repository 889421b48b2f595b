"""Glue to pyinfra's Python API (imported only when a session is used: pyinfra is heavy).

pyinfra's own runners (``connect_all``, ``get_facts``, ``run_ops``) spread work over gevent
greenlets, which run in parallel only when the whole process is monkey-patched. Patching a
process that also talks to PostgreSQL and runs thread pools is not something a library may do
behind its caller's back, so the session drives pyinfra's per-host primitives (``Host.connect``,
``get_fact``, the operation functions, ``run_host_op``) from a bounded thread pool instead: each
thread has its own greenlet hub and pyinfra's context objects are greenlet-local, hence per
thread. Paramiko clients are thread-safe per connection.
"""

from __future__ import annotations

import logging
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.state import StateHostMeta, StateHostResults
from pyinfra.connectors.ssh import SSHConnector

from ..log import get_logger
from ..secrets import redact


class PinnedSSHConnector(SSHConnector):
    """pyinfra's SSH connector, remembering each command's exit status and the last failure.

    pyinfra reduces a command's outcome to success/failure; errors must name the exit status, so
    the channel of every command is kept to read it afterwards.
    """

    last_exit_status: int | None = None
    _channel: Any = None
    last_failure: tuple[str, int | None, str] | None = None  # (command, exit status, output)

    def _connect(self) -> None:
        super()._connect()
        assert self.client is not None
        original = self.client.exec_command

        def exec_command(*args: Any, **kwargs: Any) -> Any:
            buffers = original(*args, **kwargs)
            self._channel = buffers[1].channel
            return buffers

        self.client.exec_command = exec_command  # type: ignore[method-assign]

    def run_shell_command(
        self, command: Any, print_output: bool = False, print_input: bool = False, **arguments: Any
    ) -> Any:
        self._channel = None
        status, output = super().run_shell_command(
            command, print_output=print_output, print_input=print_input, **arguments
        )
        channel = self._channel
        self.last_exit_status = channel.exit_status if channel is not None else None
        if not status:
            shown = command.get_masked_value() if hasattr(command, "get_masked_value") else command
            self.last_failure = (
                redact(str(shown)),
                self.last_exit_status,
                redact(
                    output.stdout
                    + ("\n" if output.stdout and output.stderr else "")
                    + output.stderr
                ),
            )
        return status, output


class _ForwardToProjectLog(logging.Handler):
    """pyinfra logs host output at info/error level; ours is the place for it (at debug)."""

    def emit(self, record: logging.LogRecord) -> None:
        get_logger("remote.pyinfra").debug("%s", record.getMessage())


def quiet_pyinfra_logging() -> None:
    """Route pyinfra's logger into the project's (redacted, debug level), never to stderr."""
    logger = logging.getLogger("pyinfra")
    if not any(isinstance(h, _ForwardToProjectLog) for h in logger.handlers):
        logger.addHandler(_ForwardToProjectLog())
    logger.propagate = False
    logger.setLevel(logging.DEBUG)


def reset_operations(state: Any, hosts: list[Any]) -> None:
    """Forget the operations of a previous apply so the same State (and its connections) can
    run a new set; ``hosts`` become the active ones."""
    state.op_meta = {}
    state.ops = {host: {} for host in state.inventory}
    state.meta = {host: StateHostMeta() for host in state.inventory}
    state.results = {host: StateHostResults() for host in state.inventory}
    for host in state.inventory:
        host.op_hash_order = []
    state.is_executing = False
    state.active_hosts = set(hosts)
    state.failed_hosts = set()


def raw_command(command: str) -> Any:
    """A shell command string handed to the host's shell as is."""
    return StringCommand(command)
