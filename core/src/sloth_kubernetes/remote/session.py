"""One pyinfra session over a cluster's nodes: pinned SSH, bounded parallelism, per-node errors.

Usage::

    with RemoteSession(nodes, private_key_path=key, work_dir=run_dir) as session:
        failures = session.connect()                 # {node: RemoteError}; others usable
        distros = session.facts(LinuxDistribution)   # {node: value}, cached for the session
        result = session.apply("prepare", deploy)    # deploy(node) adds pyinfra operations
        outputs = session.shell("uptime")            # {node: CommandResult}

A node that failed anything (connect, a fact, an apply) is left out of later work in the same
session, and every result names it with its error; the other nodes go on.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ..errors import RemoteError, SlothError
from ..model import NodeRecord
from ..runfiles import run_directory
from ..secrets import Secret, redact
from .known_hosts import mismatch_error, normalize_key, write_known_hosts
from .results import ApplyResult, CommandResult, NodeResult, remote_error

if TYPE_CHECKING:
    from ..context import OperatorKey

DEFAULT_PARALLEL = 20
CONNECTION_FAILED = 255  # exit status reported for a node that could not run a command (as ssh)

T = TypeVar("T")
Deploy = Callable[[NodeRecord], None]


@attrs.frozen
class Bastion:
    """A jump host every node connection goes through; its host key is pinned like a node's."""

    address: str
    host_key: str
    port: int = 22
    user: str = "root"
    private_key_path: Path | None = None  # default: the session's (operator) key


def load_private_key(secret: Secret) -> Any:
    """A paramiko key object from a private key's text, never written to a file (OpenSSH or
    PEM; Ed25519, ECDSA or RSA — what ``ssh-keygen`` makes and the operator key is)."""
    import io

    import paramiko

    text = secret.reveal()
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        with contextlib.suppress(paramiko.SSHException, ValueError):
            return kind.from_private_key(io.StringIO(text))
    raise RemoteError(
        f"the private key from {secret.source or 'memory'} cannot be read",
        hint="an unencrypted OpenSSH or PEM private key (Ed25519, ECDSA or RSA) is needed",
    )


class RemoteSession:
    """SSH connections to a set of nodes, reused for every phase of a run (see module doc)."""

    def __init__(
        self,
        nodes: Iterable[NodeRecord],
        *,
        private_key_path: Path | str | None = None,
        private_key: Secret | None = None,
        work_dir: Path | str,
        parallel: int = DEFAULT_PARALLEL,
        bastion: Bastion | None = None,
        connect_timeout: int = 10,
        channel_timeout: int | None = None,
        command_timeout: int | None = None,
    ) -> None:
        """``private_key`` (the key's text, kept in memory and handed to paramiko as a key
        object) or ``private_key_path`` (a key file) logs in; nodes with an ``identity_file``
        of their own (ssh provider) use theirs. ``connect_timeout``, ``channel_timeout``
        (opening an SSH channel) and ``command_timeout`` (a command without a timeout of its
        own) bound every wait; the defaults are in :mod:`._pyinfra` (docs/reliability.md,
        "Remote timeouts")."""
        self.records: dict[str, NodeRecord] = {}
        for record in nodes:
            if record.name in self.records:
                raise RemoteError(f"node {record.name} is listed twice", host=record.name)
            self.records[record.name] = record
        if parallel < 1:
            raise RemoteError(f"parallelism must be at least 1, not {parallel}")
        if private_key is None and private_key_path is None:
            raise RemoteError("no private key to log in with (private_key or private_key_path)")
        self.private_key_path = Path(private_key_path) if private_key_path is not None else None
        self._pkey = load_private_key(private_key) if private_key is not None else None
        self.parallel = parallel
        self.bastion = bastion
        self.connect_timeout = connect_timeout
        self._waits = {
            key: value
            for key, value in (
                ("sloth_channel_timeout", channel_timeout),
                ("sloth_command_timeout", command_timeout),
            )
            if value is not None
        }
        #: Nodes that failed in this session (connect, fact or apply) and are skipped afterwards.
        self.failures: dict[str, RemoteError] = {}
        # A fresh directory per session: pyinfra memoizes known_hosts/ssh config by file name.
        # Sessions of runs that were killed are swept first.
        self.directory = run_directory(Path(work_dir), "remote-")
        self._state: Any = None
        self._hosts: dict[str, Any] = {}
        self._facts: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._bastion_client: Any = None
        self._lock = threading.Lock()
        self._connected = False

    @classmethod
    def for_operator(
        cls,
        nodes: Iterable[NodeRecord],
        key: OperatorKey,
        *,
        work_dir: Path | str | None = None,
        **options: Any,
    ) -> RemoteSession:
        """A session logging in with the cluster's operator key (from memory when the key
        holds it, else its file); files go to ``work_dir`` (default: the key's run directory)."""
        return cls(
            nodes,
            private_key=key.private_key,
            private_key_path=key.private_key_path,
            work_dir=work_dir if work_dir is not None else key.run_dir,
            **options,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def connected(self) -> list[str]:
        """Names of the nodes that are connected and have not failed."""
        return sorted(name for name in self._hosts if name not in self.failures)

    def connect(self) -> dict[str, RemoteError]:
        """Open one SSH connection per node, in parallel; return the nodes that failed.

        A node without an address or a recorded host key is refused without connecting. Calling
        it again returns the same answer without reconnecting.
        """
        if self._connected:
            return dict(self.failures)
        self._connected = True
        from . import _pyinfra

        _pyinfra.quiet_pyinfra_logging()
        ready = [r for r in self.records.values() if self._refuse_unpinned(r)]
        known_hosts = self._write_known_hosts(ready)
        ssh_config = self.directory / "ssh_config"
        ssh_config.write_text(
            "Host *\n    StrictHostKeyChecking yes\n"
            f"    UserKnownHostsFile {known_hosts}\n    IdentitiesOnly yes\n"
        )
        if self.bastion is not None and ready:
            try:
                self._bastion_client = self._connect_bastion(known_hosts)
            except RemoteError as error:
                for record in ready:
                    self.failures[record.name] = error
                return dict(self.failures)
        self._build_state(ready, known_hosts, ssh_config)
        for name, outcome in self._each(list(self._hosts), self._connect_one).items():
            if outcome is not None:
                self.failures[name] = outcome
        self._state.active_hosts = {self._hosts[n] for n in self.connected}
        self._state.activated_hosts = set(self._state.active_hosts)
        return dict(self.failures)

    def close(self) -> None:
        """Close every connection and remove the session's files (known_hosts, ssh config)."""
        for host in self._hosts.values():
            client = getattr(host.connector, "client", None)
            if host.connected:
                with contextlib.suppress(Exception):  # closing goes on for the other nodes
                    host.disconnect()
            if client is not None:
                client.close()
        self._hosts = {}
        if self._bastion_client is not None:
            self._bastion_client.close()
            self._bastion_client = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._state is not None:
            _forget_memoized(self.directory)
            self._state = None
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- work --------------------------------------------------------------------------------

    def facts(
        self, fact_cls: Any, *, nodes: Sequence[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Gather a pyinfra fact on the nodes (in parallel), once per session and arguments.

        Returns ``{node: value}`` for the nodes that answered; a node whose fact command failed
        is recorded in :attr:`failures` and left out.
        """
        key = (fact_cls, repr(sorted(kwargs.items())))
        with self._lock:
            cache = self._facts.setdefault(key, {})
        wanted = self._targets(nodes)
        missing = [name for name in wanted if name not in cache]

        def gather(name: str) -> Any:
            from pyinfra.api.facts import get_fact
            from pyinfra.context import ctx_host

            host = self._hosts[name]
            host.connector.last_failure = None
            with ctx_host.use(host):
                value = get_fact(
                    self._state, host, fact_cls, kwargs=kwargs, apply_failed_hosts=False
                )
            if host.connector.last_failure is not None:
                raise self._failure(name, f"reading fact {fact_cls.__name__}", "")
            return value

        for name, outcome in self._each(missing, _catching(gather)).items():
            if isinstance(outcome, RemoteError):
                self.failures[name] = outcome
            else:
                cache[name] = outcome
        return {name: cache[name] for name in wanted if name in cache}

    def apply(
        self, name: str, deploy: Deploy, *, nodes: Sequence[str] | None = None
    ) -> ApplyResult:
        """Run ``deploy(node)`` for each node — it adds pyinfra operations — then execute them.

        Preparation (facts, diffing) and execution run in parallel across nodes; each node runs
        its own operations in order without waiting for the others. A node's failure stops that
        node only and is reported in the result (and :attr:`failures`).
        """
        from . import _pyinfra

        requested = list(self.records) if nodes is None else self._known(nodes)
        per_node: dict[str, NodeResult] = {
            n: NodeResult(error=self.failures[n]) for n in requested if n in self.failures
        }
        targets = self._targets(requested)
        if not targets:
            return ApplyResult(name, per_node)
        state = self._state
        _pyinfra.reset_operations(state, [self._hosts[n] for n in targets])

        prepared = self._each(targets, _catching(lambda node: self._prepare(name, deploy, node)))
        ready = [n for n in targets if prepared[n] is None]
        state.is_executing = True
        order = state.get_op_order()
        executed = self._each(ready, _catching(lambda node: self._execute(name, node, order)))
        for node in targets:
            outcome = prepared[node] if prepared[node] is not None else executed[node]
            if isinstance(outcome, RemoteError):
                self.failures[node] = outcome
                per_node[node] = NodeResult(error=outcome)
            else:
                per_node[node] = NodeResult(changed=bool(outcome))
        return ApplyResult(name, per_node)

    def shell(
        self,
        command: str,
        *,
        nodes: Sequence[str] | None = None,
        sudo: bool | None = None,
        timeout: int | None = None,
    ) -> dict[str, CommandResult]:
        """Run a shell command on the nodes in parallel; output is redacted.

        ``sudo`` defaults to "when the SSH user is not root". A non-zero exit is a result, not an
        error; a node that could not run it (failed earlier, connection lost) gets exit status
        255 and the reason in ``stderr``, as ``ssh`` does.
        """
        requested = list(self.records) if nodes is None else self._known(nodes)
        return self.shell_each(dict.fromkeys(requested, command), sudo=sudo, timeout=timeout)

    def shell_each(
        self,
        commands: Mapping[str, str],
        *,
        sudo: bool | None = None,
        timeout: int | None = None,
    ) -> dict[str, CommandResult]:
        """Like :meth:`shell`, with each node's own command (``{node: command}``), all in
        parallel: one round trip where per-node scripts differ (e.g. each node's peer list)."""
        requested = self._known(list(commands))
        results = {
            n: CommandResult(CONNECTION_FAILED, "", str(self.failures[n]))
            for n in requested
            if n in self.failures
        }

        def run(name: str) -> CommandResult:
            from pyinfra.context import ctx_host

            from ._pyinfra import raw_command

            host = self._hosts[name]
            use_sudo = self.records[name].ssh_user != "root" if sudo is None else sudo
            try:
                with ctx_host.use(host):
                    _ok, output = host.run_shell_command(
                        raw_command(commands[name]), _sudo=use_sudo, _timeout=timeout
                    )
            except (OSError, TimeoutError) as error:
                return CommandResult(CONNECTION_FAILED, "", redact(str(error)))
            except Exception as error:  # paramiko's SSHException is not an OSError
                if type(error).__module__.startswith("paramiko"):
                    return CommandResult(CONNECTION_FAILED, "", redact(str(error)))
                raise
            status = host.connector.last_exit_status
            return CommandResult(
                CONNECTION_FAILED if status is None or status < 0 else status,
                redact(output.stdout),
                redact(output.stderr),
            )

        results.update(self._each(self._targets(requested), run))
        return {n: results[n] for n in requested}

    # -- internals -------------------------------------------------------------------------

    def _refuse_unpinned(self, record: NodeRecord) -> bool:
        if not record.address:
            self.failures[record.name] = remote_error(
                record.name,
                "connecting",
                detail="the node has no address recorded",
                hint="run `up` again so the provider records the machine's address",
            )
            return False
        if not record.host_key:
            self.failures[record.name] = remote_error(
                record.name,
                "connecting",
                detail="no host key is recorded for it, and host keys are always verified",
                hint="the provider records the key when it creates the machine; for the ssh "
                "provider pin it from a known_hosts file or pass --trust-new-host-keys",
            )
            return False
        try:
            normalize_key(record.host_key)
        except RemoteError as error:
            self.failures[record.name] = remote_error(
                record.name, "connecting", detail=f"its recorded host key is invalid: {error}"
            )
            return False
        return True

    def _write_known_hosts(self, records: list[NodeRecord]) -> Path:
        entries = [(r.address or "", r.ssh_port, r.host_key or "") for r in records]
        if self.bastion is not None:
            entries.append((self.bastion.address, self.bastion.port, self.bastion.host_key))
        return write_known_hosts(self.directory / "known_hosts", entries)

    def _build_state(self, records: list[NodeRecord], known_hosts: Path, ssh_config: Path) -> None:
        from pyinfra.api.config import Config
        from pyinfra.api.inventory import Inventory
        from pyinfra.api.state import State
        from pyinfra.connectors.sshuserclient.client import get_host_keys, get_ssh_config

        from ._pyinfra import PinnedSSHConnector

        names = [
            (
                r.name,
                {
                    "ssh_hostname": r.address,
                    "ssh_port": r.ssh_port,
                    "ssh_user": r.ssh_user,
                    **self._login_key(r),
                    "ssh_allow_agent": False,
                    "ssh_look_for_keys": False,
                    "ssh_known_hosts_file": str(known_hosts),
                    "ssh_strict_host_key_checking": "yes",
                    "ssh_config_file": str(ssh_config),
                    "_sudo": r.ssh_user != "root",
                    **self._waits,
                },
            )
            for r in records
        ]
        inventory = Inventory((names, {}))  # type: ignore[no-untyped-call]
        for host in inventory:
            host.connector_cls = PinnedSSHConnector
        config = Config(  # type: ignore[no-untyped-call]
            PARALLEL=self.parallel, CONNECT_TIMEOUT=self.connect_timeout
        )
        self._state = State(inventory, config)
        self._hosts = {host.name: host for host in inventory}
        # Load the (memoized) files once here: their loaders lock with gevent primitives, which
        # are not meant to be contended from several threads.
        get_ssh_config(str(ssh_config))
        get_host_keys((str(known_hosts),))

    def _login_key(self, record: NodeRecord) -> dict[str, Any]:
        """Host data naming the key a node logs in with: machines the user already had (ssh
        provider) keep their own key file; the operator key is passed as a key object when the
        session holds it in memory (:class:`._pyinfra.PinnedSSHConnector` hands it to paramiko)
        and only otherwise as a file."""
        own = record.extra.get("identity_file")
        if own:
            return {"ssh_key": str(own)}
        if self._pkey is not None:
            return {"sloth_pkey": self._pkey}
        return {"ssh_key": str(self.private_key_path)}

    def _connect_bastion(self, known_hosts: Path) -> Any:
        import paramiko
        from pyinfra.connectors.ssh_util import load_key_with_certificate

        bastion = self.bastion
        assert bastion is not None
        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        where = f"{bastion.address}:{bastion.port}"
        try:
            if bastion.private_key_path is None and self._pkey is not None:
                key = self._pkey
            else:
                key = load_key_with_certificate(
                    str(bastion.private_key_path or self.private_key_path)
                )
            client.connect(
                bastion.address,
                port=bastion.port,
                username=bastion.user,
                pkey=key,
                timeout=self.connect_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
        except paramiko.BadHostKeyException as error:
            client.close()
            raise mismatch_error(
                "bastion",
                where,
                bastion.host_key,
                f"{error.key.get_name()} {error.key.get_base64()}",
            ) from error
        except (OSError, paramiko.SSHException, SlothError, Exception) as error:
            client.close()
            raise remote_error(
                "bastion",
                f"connecting to the bastion {where}",
                detail=str(error) or type(error).__name__,
                hint="check the bastion's address, port, user and key",
            ) from error
        return client

    def _connect_one(self, name: str) -> RemoteError | None:
        from pyinfra.api.exceptions import ConnectError

        host = self._hosts[name]
        record = self.records[name]
        if self._bastion_client is not None:
            try:
                channel = self._bastion_client.get_transport().open_channel(
                    "direct-tcpip",
                    (record.address, record.ssh_port),
                    ("127.0.0.1", 0),
                    timeout=self.connect_timeout,
                )
            except Exception as error:  # paramiko raises several unrelated types
                return remote_error(
                    name,
                    "connecting through the bastion",
                    detail=str(error) or type(error).__name__,
                )
            # The connector copied its data at creation; the channel is made per connection.
            host.connector.data["ssh_paramiko_connect_kwargs"] = {"sock": channel}
        try:
            host.connect(show_errors=False, raise_exceptions=True)
        except ConnectError as error:
            presented = _presented_key(host)
            recorded = record.host_key or ""
            if presented and normalize_key(presented) != normalize_key(recorded):
                return mismatch_error(name, record.address or "", recorded, presented)
            return remote_error(
                name,
                "connecting",
                detail=str(error),
                hint=f"check that {record.address}:{record.ssh_port} accepts SSH for user "
                f"{record.ssh_user} with the cluster's operator key",
            )
        return None

    def _prepare(self, deploy_name: str, deploy: Deploy, name: str) -> RemoteError | None:
        from pyinfra.api.exceptions import PyinfraError
        from pyinfra.context import ctx_host

        host = self._hosts[name]
        host.connector.last_failure = None
        try:
            with ctx_host.use(host):
                deploy(self.records[name])
        except RemoteError as error:
            error.host = error.host or name
            return error
        except SlothError as error:
            return remote_error(name, deploy_name, detail=error.message, hint=error.hint)
        except PyinfraError as error:
            return self._failure(name, f"{deploy_name} (preparing operations)", str(error))
        if host not in self._state.active_hosts:  # a fact failed while preparing an operation
            return self._failure(name, f"{deploy_name} (reading facts)", "")
        return None

    def _execute(self, deploy_name: str, name: str, order: list[str]) -> bool:
        from pyinfra.api.operations import run_host_op
        from pyinfra.context import ctx_host

        host = self._hosts[name]
        state = self._state
        with ctx_host.use(host):
            for op_hash in order:
                if op_hash not in state.ops[host]:
                    continue
                host.connector.last_failure = None
                if not run_host_op(state, host, op_hash):
                    operation = ", ".join(sorted(state.op_meta[op_hash].names)) or "operation"
                    raise self._failure(name, f"{deploy_name}: {operation}", "")
        return any(
            data.operation_meta.is_complete() and data.operation_meta.did_change()
            for data in state.ops[host].values()
        )

    def _failure(self, name: str, operation: str, detail: str) -> RemoteError:
        last = self._hosts[name].connector.last_failure
        if last is None:
            return remote_error(name, operation, detail=detail or "see --debug output")
        command, status, output = last
        waited = self._hosts[name].connector.last_wait
        if waited is not None:  # a bounded wait ran out: say which, not "see --debug"
            return remote_error(name, operation, detail=waited, command=command)
        return remote_error(
            name, operation, detail=detail, command=command, exit_status=status, output=output
        )

    def _known(self, nodes: Sequence[str]) -> list[str]:
        unknown = [n for n in nodes if n not in self.records]
        if unknown:
            raise RemoteError(
                f"unknown node(s): {', '.join(unknown)}",
                hint=f"known nodes: {', '.join(sorted(self.records)) or '(none)'}",
            )
        return list(dict.fromkeys(nodes))

    def _targets(self, nodes: Sequence[str] | None) -> list[str]:
        if not self._connected:
            raise RemoteError(
                "the remote session is not connected", hint="call connect() first (our bug)"
            )
        names = list(self.records) if nodes is None else self._known(nodes)
        return [n for n in names if n in self._hosts and n not in self.failures]

    def _each(self, names: list[str], work: Callable[[str], T]) -> dict[str, T]:
        """``{name: work(name)}``, run on at most ``parallel`` nodes at a time."""
        if not names:
            return {}
        from pyinfra.context import ctx_inventory, ctx_state

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="sloth-remote")
        # pyinfra's current state/inventory are process-wide (only the current host is
        # greenlet/thread-local), so they are set here, around the workers, not inside them.
        with ctx_state.use(self._state), ctx_inventory.use(self._state.inventory):
            return dict(zip(names, self._pool.map(work, names), strict=True))


def _catching(work: Callable[[str], Any]) -> Callable[[str], Any]:
    """Return a node's RemoteError as its outcome instead of raising it (others go on)."""

    def wrapper(name: str) -> Any:
        try:
            return work(name)
        except RemoteError as error:
            return error

    return wrapper


def _presented_key(host: Any) -> str | None:
    """The host key the server showed during a failed handshake, if it got that far."""
    client = getattr(host.connector, "client", None)
    transport = client.get_transport() if client is not None else None
    if transport is None:
        return None
    try:
        key = transport.get_remote_server_key()
    except Exception:  # no key exchange happened
        return None
    return f"{key.get_name()} {key.get_base64()}"


def _forget_memoized(directory: Path) -> None:
    """Drop pyinfra's memoized copies of this session's files (they are about to be deleted)."""
    from pyinfra.connectors.sshuserclient.client import get_host_keys, get_ssh_config

    for loader in (get_host_keys, get_ssh_config):
        cache = getattr(loader, "cache", {})
        for key in [k for k in cache if str(directory) in k]:
            cache.pop(key, None)
