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
import threading
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.state import StateHostMeta, StateHostResults
from pyinfra.connectors.ssh import SSHConnector

from ..log import get_logger
from ..secrets import redact

#: Seconds to wait for a node to open an SSH channel for a command (paramiko waits an hour).
CHANNEL_TIMEOUT = 30
#: Seconds a command may run when its caller sets no timeout of its own (pyinfra: no limit).
COMMAND_TIMEOUT = 900


class PinnedSSHConnector(SSHConnector):
    """pyinfra's SSH connector, remembering each command's exit status and the last failure,
    with every wait bounded.

    pyinfra reduces a command's outcome to success/failure; errors must name the exit status, so
    the channel of every command is kept to read it afterwards. Opening a channel waits at most
    ``sloth_channel_timeout`` (host data; :data:`CHANNEL_TIMEOUT`), a command runs at most its
    ``_timeout`` or ``sloth_command_timeout`` (:data:`COMMAND_TIMEOUT`); either wait running out
    is recorded in :attr:`last_failure` (pyinfra itself logs and swallows it) and raised with a
    message naming the node and what it waited for.
    """

    last_exit_status: int | None = None
    _channel: Any = None
    last_failure: tuple[str, int | None, str] | None = None  # (command, exit status, output)
    last_wait: str | None = None  # what ran out, when a wait did

    def make_paramiko_kwargs(self) -> dict[str, Any]:
        """pyinfra's, with the key object from host data ``sloth_pkey`` when the session holds
        the key in memory (pyinfra itself reads ``ssh_key`` from a file)."""
        kwargs: dict[str, Any] = super().make_paramiko_kwargs()
        pkey = self.host.data.get("sloth_pkey")
        if pkey is not None:
            kwargs["pkey"] = pkey
            kwargs["allow_agent"] = kwargs["look_for_keys"] = False
        return kwargs

    def _connect(self) -> None:
        super()._connect()
        assert self.client is not None
        transport = self.client.get_transport()
        if transport is not None:  # paramiko's own knob for open_session's wait (default 1 h);
            # set in Transport.__init__, missing from the type stubs
            transport.channel_timeout = self.host.data.get(  # type: ignore[attr-defined]
                "sloth_channel_timeout", CHANNEL_TIMEOUT
            )
        original = self.client.exec_command

        def exec_command(*args: Any, **kwargs: Any) -> Any:
            buffers = original(*args, **kwargs)
            self._channel = buffers[1].channel
            return buffers

        self.client.exec_command = exec_command  # type: ignore[method-assign]

    def run_shell_command(
        self, command: Any, print_output: bool = False, print_input: bool = False, **arguments: Any
    ) -> Any:
        from paramiko import SSHException

        self._channel = None
        self.last_wait = None
        timeout = arguments.get("_timeout") or self.host.data.get(
            "sloth_command_timeout", COMMAND_TIMEOUT
        )
        shown = redact(str(command.get_masked_value() if hasattr(command, "get_masked_value")
                           else command))  # fmt: skip
        # pyinfra's own _timeout waits with gevent, which cannot interrupt paramiko's blocking
        # reads outside a monkey-patched process: a timer closes the channel instead.
        expired = threading.Event()
        timer = threading.Timer(timeout, self._expire, (expired,))
        timer.daemon = True
        timer.start()
        try:
            status, output = super().run_shell_command(
                command, print_output=print_output, print_input=print_input, **arguments
            )
        except SSHException as error:
            if "opening channel" not in str(error):
                raise
            waited = self.host.data.get("sloth_channel_timeout", CHANNEL_TIMEOUT)
            self._ran_out(shown, f"no SSH channel opened within {waited} s (node not answering)")
            raise SSHException(f"{self.host.name}: {self.last_wait}") from None
        finally:
            timer.cancel()
        if expired.is_set():
            self._ran_out(shown, f"no answer within {timeout} s while running it")
            raise TimeoutError(f"{self.host.name}: {self.last_wait}")
        channel = self._channel
        self.last_exit_status = channel.exit_status if channel is not None else None
        if not status:
            self.last_failure = (
                shown,
                self.last_exit_status,
                redact(
                    output.stdout
                    + ("\n" if output.stdout and output.stderr else "")
                    + output.stderr
                ),
            )
        return status, output

    def _expire(self, expired: threading.Event) -> None:
        expired.set()
        channel = self._channel
        if channel is not None:
            channel.close()  # wakes the blocked reads and the exit-status wait

    def _ran_out(self, shown: str, what: str) -> None:
        self.last_wait = what
        self.last_exit_status = None
        self.last_failure = (shown, None, what)


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
