"""The distro phase, the same for every distribution: safe order, health gates, no secret leaks.

1. Every node gets its files (release binaries staged from the operator's verified cache, config
   file 0600 with the token, unit, drop-ins) in one parallel step; nothing starts yet.
2. The first server (first server pool, lowest index; recorded in state) initialises the cluster.
3. Every further server joins — or restarts after a config change — **one at a time**: the next
   starts only when this one answers ``/readyz`` and the etcd member count has grown to include it.
   Restarting all servers at once loses etcd quorum; this order never does.
4. Agents join in batches (``agentBatchSize``, default 50); a batch waits for the previous one
   to register.
5. The admin kubeconfig is fetched from the first server, pointed at the API endpoint and stored
   encrypted; then every node is waited for (through the API, or over SSH): until Ready when the
   distribution starts the pod network itself (K3s's flannel, RKE2's bundled CNI chart); when
   the CNI is an add-on (K3s with ``flannel-backend: none``, RKE2 with ``cni: none``) a real
   kubelet stays NotReady until the add-ons phase has delivered it, so here only until every
   node is registered and the servers answer ``/readyz`` with every etcd member — and the
   add-ons phase waits for Ready once the CNI is in (:func:`wait_ready_after_cni`).
"""

from __future__ import annotations

import base64
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..context import ClusterContext
from ..errors import RemoteError, SlothError
from ..model import NodeRecord, api_endpoint_of
from ..remote.private_files import put_private
from ..secrets import redact
from . import artifacts, credentials, kubeconfig
from . import endpoint as api_endpoint
from .installer import SECRET_MARKER, DistroPlan, Installer, NodeFile, Release, Role, role_of
from .readiness import (
    NO_CONDITION,
    NodeReady,
    Until,
    check_reachable,
    poll,
    poll_pauses,
    wait_ready,
)
from .topology import EXTRA_KEY, Topology, plan_topology

if TYPE_CHECKING:
    from ..remote.session import RemoteSession

PHASE = "distro"
STAGE_DIR = "/var/lib/sloth-kubernetes/artifacts"
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def settings_of(context: ClusterContext, default: Any) -> Any:
    block = context.config.spec.kubernetes.distro
    settings = getattr(block, "settings", None)
    return settings if settings is not None else default


def make_plan(
    context: ClusterContext, installer: Installer, settings: Any, topology: Topology, token: str
) -> DistroPlan:
    config = context.config
    first = topology.first
    addresses = {n.name: n.mesh_address or "" for n in (*topology.servers, *topology.agents)}
    servers = cluster_servers(context, topology)
    endpoint = api_endpoint.resolve(
        config, installer, servers, addresses[first.name], settings.registration_address
    )
    user_address = endpoint.address if endpoint.mode == "dns" else None
    return DistroPlan(
        config=config,
        settings=settings,
        version=config.spec.kubernetes.version or installer.default_version(),
        token=token,
        first_server=first.name if topology.initialises else "",
        join_address=settings.registration_address or user_address or addresses[first.name],
        tls_sans=api_endpoint.tls_sans(config, servers),
        addresses=addresses,
        registration=endpoint.registration,
    )


def cluster_servers(context: ClusterContext, topology: Topology) -> tuple[NodeRecord, ...]:
    """The servers of this run, then the cluster's other recorded servers (not reached in this
    run: a lost machine). The API certificate and the node-local balancers keep those, so
    losing a server restarts nothing, and the balancer takes it back by itself (health checks)
    when it returns; a server removed from the spec leaves the state and both."""
    found = list(topology.servers)
    if context.state is not None:
        names = {s.name for s in found}
        recorded = context.state.list_nodes(context.name)
        found += [n for n in recorded if n.is_server and n.mesh_address and n.name not in names]
    return tuple(found)


def endpoint_of(
    context: ClusterContext, installer: Installer, topology: Topology, settings: Any
) -> api_endpoint.Endpoint:
    """The endpoint (mode, registration, balancer) the distro phase and ``render`` apply."""
    return api_endpoint.resolve(
        context.config,
        installer,
        cluster_servers(context, topology),
        topology.first.mesh_address or "",
        settings.registration_address,
    )


def api_url(context: ClusterContext, installer: Installer, topology: Topology) -> str:
    """The API endpoint clients use: ``apiEndpoint``, else the first server's public address —
    or its mesh address when the host firewall keeps the API on the mesh (``apiAllowedCIDRs:
    []``), the one address that reaches it then."""
    first = topology.first
    security = context.config.spec.security
    mesh_only = security.firewall and not security.api_allowed_cidrs
    host = (
        api_endpoint_of(context.config.spec.kubernetes).address
        or (first.mesh_address if mesh_only else None)
        or first.public_address
        or first.mesh_address
        or first.private_address
    )
    return f"https://{host}:{installer.api_port}"


def api_access(context: ClusterContext, installer: Installer) -> tuple[str, str]:
    """Why the API may not answer from this machine, and what to do: (cause, hint)."""
    security = context.config.spec.security
    port = installer.api_port
    if api_endpoint_of(context.config.spec.kubernetes).address:
        cause = f"spec.kubernetes.apiEndpoint must lead to port {port} of a server"
    elif not security.firewall:
        cause = (
            "the host firewall is off (spec.security.firewall: false): the network's own "
            "firewall drops the port, or no server listens at that address"
        )
    elif not security.api_allowed_cidrs:
        cause = (
            f"spec.security.apiAllowedCIDRs is empty: port {port} is open on the mesh only, "
            "and this machine is not on it"
        )
    else:
        cause = (
            f"port {port} is open on the servers to spec.security.apiAllowedCIDRs "
            f"({', '.join(security.api_allowed_cidrs)}) only: is this machine's address in them?"
        )
    hint = (
        "add this machine's address to spec.security.apiAllowedCIDRs and re-run `up`, point "
        "spec.kubernetes.apiEndpoint at an address that reaches the API, or set "
        f"spec.kubernetes.{installer.name}.readiness: ssh to wait over SSH"
    )
    return cause, hint


@attrs.define
class _Run:
    context: ClusterContext
    installer: Installer
    session: RemoteSession
    plan: DistroPlan
    topology: Topology
    timeout: float
    phase: str = PHASE  # the phase its events belong to (the add-ons phase waits for Ready too)

    def event(self, message: str, node: str | None = None, status: str = "info") -> None:
        self.context.event(self.phase, message, node=node, status=status)

    def shell(self, command: str, nodes: Sequence[str], *, what: str) -> dict[str, Any]:
        results: dict[str, Any] = self.session.shell(command, nodes=list(nodes))
        failed = {n: r for n, r in results.items() if not r.ok}
        if failed:
            name, result = next(iter(failed.items()))
            raise RemoteError(
                f"{what} failed on {len(failed)} node(s), first {name}: exit {result.exit_status}",
                host=name,
                exit_status=result.exit_status,
                output=redact((result.stdout + result.stderr)[-2000:]),
                hint="see the tail of the distribution's log: sloth-kubernetes nodes exec "
                f"{self.context.name} {name} -- "
                f"{self.installer.log_command(role_of_name(self, name))}",
            )
        return results

    def log_tail(self, name: str) -> str:
        result = self.session.shell(
            self.installer.log_command(role_of_name(self, name), 20), nodes=[name]
        )[name]
        return redact(result.stdout + result.stderr).strip()

    def wait(self, name: str, what: str, probe: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        pauses = poll_pauses()
        while not probe():
            if time.monotonic() > deadline:
                raise RemoteError(
                    f"{name}: {what} not reached within {self.timeout:g}s",
                    host=name,
                    output=self.log_tail(name),
                    hint="the output is the tail of the distribution's log on that node; fix "
                    "the cause and re-run `up` (it resumes; servers restart one at a time)",
                )
            time.sleep(next(pauses))


def role_of_name(run: _Run, name: str) -> Role:
    return "server" if any(s.name == name for s in run.topology.servers) else "agent"


def install_cluster(
    context: ClusterContext, installer: Installer, nodes: Sequence[NodeRecord], default: Any
) -> list[NodeRecord]:
    """Install the distribution on ``nodes`` (see module doc); return the updated records."""
    if not nodes:
        return []
    session = context.remote
    if session is None:
        raise SlothError(
            "the distro phase needs SSH access to the nodes",
            hint="run `up` without --only/--until that skip the connect phase",
        )
    without_mesh = sorted(n.name for n in nodes if not n.mesh_address)
    if without_mesh:
        raise SlothError(
            f"nodes without a mesh address: {', '.join(without_mesh)}",
            hint="the distro uses mesh addresses as node IPs; run the mesh phase first",
        )
    settings = settings_of(context, default)
    topology = plan_topology(context.config, nodes)
    token = credentials.ensure_token(context.store, context.name)
    plan = make_plan(context, installer, settings, topology, token.reveal())
    run = _Run(context, installer, session, plan, topology, float(settings.ready_timeout))

    if context.dry_run:
        run.event(f"would install {installer.name} {plan.version} on {len(nodes)} nodes")
        return list(nodes)
    releases = _releases(run, nodes, settings)
    changed = _write_files(run, releases)
    _start_balancer(run)
    installed = _install(run, releases)
    active = _active(run)
    restart = {n for n in changed if changed[n]} | installed | {n for n in active if not active[n]}

    _refresh_join_credentials(run, restart)
    for position, server in enumerate(topology.servers):
        if server.name in restart:
            _start_server(run, server, position + 1)
            _record_first(context, server, topology, plan)
    for batch in topology.agent_batches(settings.agent_batch_size):
        _start_agents(run, [a for a in batch if a.name in restart])

    _fetch_kubeconfig(run)
    builtin = installer.pod_network_builtin(plan)
    ready = _wait_ready(run, settings) if builtin else _wait_registered(run, settings)
    return [
        attrs.evolve(
            node,
            extra={
                **node.extra,
                EXTRA_KEY: {
                    "distribution": installer.name,
                    "version": plan.version,
                    "role": role_of(node),
                    "init": topology.initialises and node.name == topology.first.name,
                    "podNetwork": "distribution" if builtin else "addon",
                    # False: registered, NotReady until the add-ons phase delivers the CNI
                    "ready": ready,
                },
            },
        )
        for node in nodes
    ]


def wait_ready_after_cni(
    context: ClusterContext, installer: Installer, nodes: Sequence[NodeRecord], default: Any
) -> list[NodeRecord]:
    """The ``distro_wait_ready`` hook: once the add-ons phase has delivered the CNI, wait until
    every node is Ready — same timeout (``readyTimeout``), progress and log tails as the distro
    phase, events in the add-ons phase. Returns the nodes recorded Ready."""
    if not nodes:
        return []
    session = context.remote
    if session is None:
        raise SlothError(
            "waiting for Ready nodes needs SSH access to the nodes",
            hint="run `up` without --only/--until that skip the connect phase",
        )
    settings = settings_of(context, default)
    topology = plan_topology(context.config, nodes)
    plan = attrs.evolve(
        make_plan(context, installer, settings, topology, SECRET_MARKER), reveal=False
    )  # names and addresses only: waiting needs no token
    run = _Run(context, installer, session, plan, topology, float(settings.ready_timeout), "addons")
    run.event(f"waiting for {len(nodes)} nodes to be Ready now that the CNI add-on is delivered")
    _wait_nodes(run, settings, "Ready")
    return [
        attrs.evolve(
            node, extra={**node.extra, EXTRA_KEY: {**node.extra[EXTRA_KEY], "ready": True}}
        )
        if isinstance(node.extra.get(EXTRA_KEY), dict)
        else node
        for node in nodes
    ]


_UNIT_MARKER = "--sloth-unit--"


def drift(context: ClusterContext, installer: Installer, nodes: Sequence[NodeRecord]) -> list[str]:
    """The ``distro_drift`` hook: one read per role over all its nodes at once — the installed
    version against the one the phase installs, and the node's service (``systemctl
    is-active``). Each finding names the node: "demo-agent-1: k3s-agent is inactive"."""
    session = context.remote
    reached = [n for n in nodes if session is not None and n.name in session.records]
    if session is None or not reached:
        return []
    version = context.config.spec.kubernetes.version or installer.default_version()
    findings: list[str] = []
    for role in ("server", "agent"):
        group = [n.name for n in reached if role_of(n) == role]
        if not group:
            continue
        unit = installer.units[role]
        command = (
            f"{installer.version_command()} 2>/dev/null; echo {_UNIT_MARKER}; "
            f"systemctl is-active {shlex.quote(unit)} 2>/dev/null || true"
        )
        for name, result in sorted(session.shell(command, nodes=group).items()):
            head, _, unit_state = result.stdout.partition(_UNIT_MARKER)
            found = installer.parse_version(head)
            state = unit_state.strip() or "unknown"
            if found != version:
                findings.append(
                    f"{name}: {installer.name} {found or 'is not installed'}"
                    + (f", not {version}" if found else "")
                )
            elif state != "active":
                findings.append(f"{name}: {unit} is {state}")
    return findings


def _releases(run: _Run, nodes: Sequence[NodeRecord], settings: Any) -> dict[str, Release]:
    """Detect each node's architecture and make sure the release is in the local cache."""
    outputs = run.shell("uname -m", [n.name for n in nodes], what="detecting the architecture")
    arch_of: dict[str, str] = {}
    for name, result in outputs.items():
        machine = result.stdout.strip()
        if machine not in _ARCH:
            raise SlothError(
                f"{name}: unsupported architecture {machine!r}", hint="use amd64/arm64"
            )
        arch_of[name] = _ARCH[machine]
    releases: dict[str, Release] = {}
    for arch in sorted(set(arch_of.values())):
        release = run.installer.release(run.plan.version, arch, settings.mirror)
        if artifacts.cached(run.context.data_dir, release, airgap=settings.airgap) is None:
            run.event(
                f"fetching {release.distro} {release.version} ({arch}) from {release.base_url}"
            )
            artifacts.fetch(run.context.data_dir, release, airgap=settings.airgap)
        releases[arch] = release
    return {name: releases[arch] for name, arch in arch_of.items()}


def _staged(release: Release, airgap: bool) -> dict[str, str]:
    base = f"{STAGE_DIR}/{release.distro}/{release.version}"
    return {a.name: f"{base}/{a.name}" for a in release.files(airgap=airgap)}


def _write_files(run: _Run, releases: Mapping[str, Release]) -> dict[str, bool]:
    """Stage release files and write each node's files (SFTP, or stdin for secret files: no
    content in any argv)."""
    from pyinfra.operations import files

    airgap = run.plan.settings.airgap
    nodes = {n.name: n for n in (*run.topology.servers, *run.topology.agents)}
    metas: dict[str, list[Any]] = {name: [] for name in nodes}
    local = {
        name: artifacts.verify(
            artifacts.cache_dir(run.context.data_dir, release), release, airgap=airgap
        )
        for name, release in releases.items()
    }

    def deploy(node: NodeRecord) -> None:
        release = releases[node.name]
        for artifact, target in _staged(release, airgap).items():
            files.put(
                name=f"distro: stage {artifact}",
                src=str(local[node.name].paths[artifact]),
                dest=target,
                mode="600",
                create_remote_dir=True,
            )
        metas[node.name] += _put_files("distro", run.installer.node_files(run.plan, node))

    run.event(f"writing {run.installer.name} files on {len(nodes)} nodes")
    result = run.session.apply("distro files", deploy, nodes=list(nodes))
    errors = {n: r.error for n, r in result.per_node.items() if r.error is not None}
    if errors:
        raise next(iter(errors.values()))
    return {name: any(m.is_complete() and m.did_change() for m in metas[name]) for name in nodes}


def _put_files(label: str, items: Sequence[NodeFile]) -> list[Any]:
    """pyinfra operations writing ``items`` (root-owned; secret files 0600 from the start,
    through stdin); their metas."""
    import io

    from pyinfra.operations import files

    metas = []
    for item in items:
        directory = item.path.rsplit("/", 1)[0] or "/"
        files.directory(name=f"{label}: directory {directory}", path=directory, present=True)
        if item.secret:  # never readable by others, not even until a chmod
            written = put_private(f"{label}: {item.path}", item.content, item.path)
        else:
            written = files.put(
                name=f"{label}: {item.path}",
                src=io.StringIO(item.content),
                dest=item.path,
                mode=f"{item.mode:o}",
                user="root",
                group="root",
            )
        if written is not None:
            metas.append(written)
    return metas


def _start_balancer(run: _Run) -> None:
    """Mode nodeLocal: write the node-local balancer's files and (re)load it on every node
    before any distribution unit starts, so nodes register through it. Its own files: a server
    added or lost rewrites them and reloads haproxy without restarting the distribution."""
    endpoint = endpoint_of(run.context, run.installer, run.topology, run.plan.settings)
    if endpoint.mode != "nodeLocal":
        return
    nodes = {n.name: n for n in (*run.topology.servers, *run.topology.agents)}
    metas: dict[str, list[Any]] = {name: [] for name in nodes}

    def deploy(node: NodeRecord) -> None:
        metas[node.name] += _put_files(
            "balancer", api_endpoint.balancer_files(endpoint, role_of(node))
        )

    result = run.session.apply("api balancer files", deploy, nodes=list(nodes))
    errors = {n: r.error for n, r in result.per_node.items() if r.error is not None}
    if errors:
        raise next(iter(errors.values()))
    changed = [n for n in nodes if any(m.is_complete() and m.did_change() for m in metas[n])]
    unchanged = [n for n in nodes if n not in changed]
    if changed:
        run.event(
            f"node-local API balancer over {len(endpoint.servers)} server(s) on "
            f"{len(changed)} node(s)"
        )
    for group, did_change in ((changed, True), (unchanged, False)):
        if group:
            run.shell(
                api_endpoint.start_command(did_change), group, what="starting the API balancer"
            )


def _install(run: _Run, releases: Mapping[str, Release]) -> set[str]:
    """Install where the installed version differs; return the nodes that were (re)installed."""
    names = list(releases)
    outputs = run.session.shell(run.installer.version_command(), nodes=names)
    todo = [
        n
        for n in names
        if not outputs[n].ok or run.installer.parse_version(outputs[n].stdout) != run.plan.version
    ]
    groups: dict[tuple[str, Role], list[str]] = {}
    for name in todo:
        groups.setdefault((releases[name].arch, role_of_name(run, name)), []).append(name)
    for (_arch, role), group in groups.items():
        release = releases[group[0]]
        run.event(f"installing {release.distro} {release.version} on {len(group)} {role}(s)")
        command = run.installer.install_command(
            release, _staged(release, run.plan.settings.airgap), role
        )
        run.shell(command, group, what=f"installing {release.distro}")
    return set(todo)


def _active(run: _Run) -> dict[str, bool]:
    active: dict[str, bool] = {}
    for role, group in (("server", run.topology.servers), ("agent", run.topology.agents)):
        if not group:
            continue
        unit = shlex.quote(run.installer.units[role])  # type: ignore[index]
        outputs = run.session.shell(f"systemctl is-active {unit}", nodes=[n.name for n in group])
        active.update({n: r.stdout.strip() == "active" for n, r in outputs.items()})
    return active


def _refresh_join_credentials(run: _Run, restart: set[str]) -> None:
    """Nodes join a running cluster whose first server is not restarted in this run: renew the
    join credentials there first when they expire (kubeadm), so a later join never meets an
    expired token."""
    first = run.topology.first.name
    joining = [n.name for n in (*run.topology.servers, *run.topology.agents) if n.name != first]
    command = run.installer.join_credentials_command()
    if command is None or first in restart or not restart.intersection(joining):
        return
    run.event("renewing the join credentials", node=first)
    run.shell(command, [first], what="renewing the join credentials")


def _start_server(run: _Run, server: NodeRecord, members: int) -> None:
    first = server.name == run.topology.first.name
    initialising = first and run.topology.initialises
    run.event(
        "initialising the cluster" if initialising else "joining",
        node=server.name,
        status="started",
    )
    run.shell(run.installer.start_command("server"), [server.name], what="starting the server")

    def healthy() -> bool:
        readyz = run.session.shell(run.installer.readyz_command(), nodes=[server.name])[server.name]
        if not (readyz.ok and readyz.stdout.strip() == "ok"):
            return False
        count = run.session.shell(run.installer.etcd_members_command(), nodes=[server.name])
        result = count[server.name]
        return result.ok and result.stdout.strip().isdigit() and int(result.stdout) >= members

    run.wait(server.name, f"/readyz ok and {members} etcd member(s)", healthy)
    run.event(f"healthy ({members} etcd member(s))", node=server.name, status="done")


def _record_first(
    context: ClusterContext, server: NodeRecord, topology: Topology, plan: DistroPlan
) -> None:
    """Record the initialising server at once, so a crashed run never initialises a second one."""
    if server.name != plan.first_server or context.state is None:
        return
    extra = {**server.extra, EXTRA_KEY: {"version": plan.version, "role": "server", "init": True}}
    context.state.put_node(attrs.evolve(server, cluster=context.name, extra=extra))


def _registered(run: _Run) -> set[str]:
    first = run.topology.first.name
    result = run.session.shell(run.installer.nodes_command(), nodes=[first])[first]
    if not result.ok:
        return set()
    return {line.strip().removeprefix("node/") for line in result.stdout.splitlines() if line}


def _start_agents(run: _Run, batch: Sequence[NodeRecord]) -> None:
    if not batch:
        return
    names = [a.name for a in batch]
    run.event(f"joining {len(names)} agent(s): {', '.join(names)}", status="started")
    run.shell(run.installer.start_command("agent"), names, what="starting agents")
    pending = set(names)

    def registered() -> bool:
        pending.difference_update(_registered(run))
        return not pending

    run.wait(names[0], f"agents registered ({', '.join(names)})", registered)
    run.event(f"{len(names)} agent(s) registered", status="done")


def _fetch_kubeconfig(run: _Run) -> None:
    first = run.topology.first.name
    result = run.shell(
        f"base64 -w0 {shlex.quote(run.installer.kubeconfig_path)}",
        [first],
        what="reading kubeconfig",
    )[first]
    text = base64.b64decode(result.stdout.strip()).decode()
    ours = kubeconfig.for_cluster(
        text, run.context.name, api_url(run.context, run.installer, run.topology)
    )
    credentials.store_kubeconfig(run.context.store, run.context.name, ours)
    run.event("admin kubeconfig stored (encrypted); `sloth-kubernetes kubeconfig` writes it")


def _wait_ready(run: _Run, settings: Any) -> bool:
    _wait_nodes(run, settings, "Ready")
    return True


def _wait_registered(run: _Run, settings: Any) -> bool:
    """The CNI is an add-on: wait until every node is registered and the servers are healthy,
    then say honestly why the nodes are not Ready yet. True when they already are (the CNI was
    delivered by an earlier run)."""
    seen = _wait_nodes(run, settings, "registered")
    _servers_healthy(run)
    waiting = {name: ready for name, ready in seen.items() if ready.status != "True"}
    if not waiting:
        run.event(f"all {len(seen)} nodes Ready (their CNI add-on is already delivered)")
        return True
    cni = getattr(run.context.config.spec.kubernetes.cni, "name", "the CNI")
    by_reason: dict[str, list[str]] = {}
    for name, ready in sorted(waiting.items()):
        by_reason.setdefault(ready.describe(), []).append(name)
    why = "; ".join(f"{', '.join(names)}: {reason}" for reason, names in by_reason.items())
    run.event(
        f"{len(seen)} nodes registered, {len(waiting)} NotReady until the addons phase "
        f"delivers the CNI (cni/{cni}) and waits for Ready — {why}",
        status="done",
    )
    return False


def _servers_healthy(run: _Run) -> None:
    """Every server answers ``/readyz`` (which includes etcd) and etcd has all of them; on
    timeout the error names the servers that do not, with the first one's log tail."""
    servers = [s.name for s in run.topology.servers]
    first = run.topology.first.name
    unhealthy: list[str] = []

    def healthy() -> bool:
        readyz = run.session.shell(run.installer.readyz_command(), nodes=servers)
        unhealthy[:] = [n for n in servers if readyz[n].stdout.strip() != "ok"]
        if unhealthy:
            return False
        count = run.session.shell(run.installer.etcd_members_command(), nodes=[first])[first]
        if count.ok and count.stdout.strip().isdigit() and int(count.stdout) >= len(servers):
            return True
        unhealthy[:] = [first]  # asked there: etcd lacks members
        return False

    try:
        run.wait(first, f"/readyz ok on every server and {len(servers)} etcd member(s)", healthy)
    except RemoteError as error:
        if not unhealthy or unhealthy == [first]:
            raise
        raise RemoteError(
            f"{', '.join(unhealthy)}: /readyz not ok within {run.timeout:g}s",
            host=unhealthy[0],
            output=run.log_tail(unhealthy[0]),
            hint=error.hint,
        ) from error


def _wait_nodes(run: _Run, settings: Any, until: Until) -> dict[str, NodeReady]:
    """Wait until every node is ``until`` through the API, or over SSH with the first server's
    kubectl (``readiness: ssh``); same timeout, progress and log tails either way."""
    names = [n.name for n in (*run.topology.servers, *run.topology.agents)]
    if getattr(settings, "readiness", "api") == "ssh":
        return poll(
            lambda: _ready_over_ssh(run), names, run.timeout, run.event, run.log_tail, until=until
        )
    cause, hint = api_access(run.context, run.installer)
    check_reachable(api_url(run.context, run.installer, run.topology), cause=cause, hint=hint)
    secret = credentials.stored_kubeconfig(run.context.store, run.context.name)
    return wait_ready(
        secret.reveal(),
        names,
        timeout=run.timeout,
        progress=run.event,
        log_tail=run.log_tail,
        until=until,
    )


def _ready_over_ssh(run: _Run) -> dict[str, NodeReady]:
    first = run.topology.first.name
    ready = '{.status.conditions[?(@.type=="Ready")]'
    template = (
        '{range .items[*]}{.metadata.name}{"\\t"}'
        + '{"\\t"}'.join(f"{ready}.{field}}}" for field in ("status", "reason", "message"))
        + '{"\\n"}{end}'
    )
    result = run.session.shell(
        run.installer.kubectl(f"get nodes -o jsonpath={shlex.quote(template)}"), nodes=[first]
    )[first]
    found: dict[str, NodeReady] = {}
    for line in result.stdout.splitlines():
        name, _, rest = line.partition("\t")
        if not name or not rest:
            continue
        status, reason, message = [*rest.split("\t", 2), "", ""][:3]
        found[name] = NodeReady(status, reason, message) if status else NO_CONDITION
    return found


def uninstall_cluster(
    context: ClusterContext, installer: Installer, nodes: Sequence[NodeRecord]
) -> list[str]:
    """Stop and remove the distribution: agents first, then servers (the first one last)."""
    session = context.remote
    if session is None or not nodes:
        return []
    topology = plan_topology(context.config, nodes) if any(n.is_server for n in nodes) else None
    agents = [n.name for n in nodes if not n.is_server]
    servers = [n.name for n in reversed(topology.servers)] if topology else []
    done: list[str] = []
    for role, group in (("agent", agents), ("server", servers)):
        if not group:
            continue
        outputs = session.shell(installer.uninstall_command(role), nodes=group)  # type: ignore[arg-type]
        done += [n for n in group if outputs[n].ok]
        context.event(PHASE, f"removed {installer.name} from {len(group)} {role}(s)")
    if done:  # the node-local API balancer goes with the distribution (whatever the mode now)
        session.shell(api_endpoint.uninstall_command(), nodes=done)
    return done
