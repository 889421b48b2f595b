"""The mesh phase on real nodes: probe, plan, push only what changed, verify, record.

1. **Addresses** from the state store (pool ``mesh``): stable across re-runs and replacements.
2. **Probe** every node with one SSH command: the key is generated there if missing (only the
   public key is printed), PID 1 and kernel-module support are read, and the live peer list is
   dumped when the interface exists.
3. **Plan** with :func:`topology.build_mesh` from the probed keys, plus recorded nodes that are
   not part of this run (SSH-unreachable: kept as peers, never chosen as gateways) and the
   operator devices from ``vpn join``.
4. **Push**, one command per node in parallel: the control script, settings and peer files are
   written only when they differ; a running interface gets exactly the ``wg set`` changes
   :func:`render.diff_peers` computes (no restart, other sessions untouched); a stopped one is
   started through its supervisor (systemd unit, or the detached supervisor) which loads the files.
5. **Verify**: a ping matrix over mesh addresses from every node at once; pairs that fail get
   their handshake state checked and, when stuck, nudged (peer removed and re-added on both
   ends), until :data:`SETTLE_SECONDS`; anything still broken fails the phase naming the pairs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
from sloth_kubernetes.plugin import ClusterContext, NodeRecord, RemoteError

from . import commands, node_script, verify
from .failover import FailoverTable, failover_tables, render_failover
from .members import (
    ADDRESS_POOL,
    EXTRA_KEY,
    OperatorPeer,
    member_of,
    mesh_data,
    operator_peers,
    recorded_members,
    with_operators,
)
from .model import WireGuardMeshSpec
from .render import DeviceDump, diff_peers, nudge_peer, parse_dump, render_setconf
from .topology import MeshError, MeshMember, MeshPlan, NodeMeshConfig, build_mesh

#: How long the phase waits for every pair to answer before it fails (handshakes take
#: milliseconds; the rest is for nudging stuck pairs).
SETTLE_SECONDS = 30.0
PHASE = "mesh"


@attrs.frozen
class Probe:
    """What :func:`commands.probe` found on one node."""

    public_key: str | None
    init: str
    implementation: str  # kernel | userspace | none
    running: bool
    dump: DeviceDump | None
    missing: str | None = None
    link_up: bool = False
    address: str = ""  # the interface's IPv4 address with its prefix ("" when none or stopped)
    forwarding: str = ""  # /proc/sys/net/ipv4/ip_forward
    #: ``{path: "MODE SHA256"}`` of the mesh's files that exist on the node.
    files: dict[str, str] = attrs.field(factory=dict)

    @property
    def supervisor(self) -> str:
        return "systemd" if self.init == "systemd" else "detached"


def parse_probe(stdout: str) -> Probe:
    head, _, dump_text = stdout.partition(commands.DUMP_MARKER)
    facts: dict[str, str] = {}
    files: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "file":
            path, _, digest = value.strip().partition(" ")
            files[path] = digest
        elif sep:
            facts[key.strip()] = value.strip()
    dump = parse_dump(dump_text) if dump_text.strip() else None
    return Probe(
        public_key=facts.get("public_key") or None,
        init=facts.get("init", "unknown"),
        implementation=facts.get("implementation", "none"),
        running=facts.get("running") == "1",
        dump=dump,
        missing=facts.get("missing"),
        link_up=facts.get("link_up") == "1",
        address=facts.get("address", ""),
        forwarding=facts.get("forwarding", ""),
        files=files,
    )


def managed_paths(interface: str) -> list[str]:
    """Every file :func:`node_files` may write (both supervisors), for the probe to report."""
    return [
        node_script.script_path(interface),
        node_script.env_path(interface),
        commands.config_path(interface),
        node_script.operators_path(interface),
        node_script.failover_path(interface),
        f"{node_script.UNIT_DIR}/{node_script.unit_name(interface)}",
        f"{node_script.UNIT_DIR}/{node_script.watch_unit_name(interface)}",
    ]


def require_session(context: ClusterContext, nodes: Sequence[NodeRecord]) -> Any:
    session = context.remote
    unreachable = [n.name for n in nodes if session is None or n.name not in session.records]
    if unreachable:
        raise MeshError(
            f"the WireGuard mesh is configured over SSH, and these nodes are not reached over "
            f"SSH: {', '.join(sorted(unreachable))}",
            hint="use a provider whose machines accept SSH, or choose another mesh",
        )
    return session


def probe_nodes(session: Any, spec: WireGuardMeshSpec, names: Sequence[str]) -> dict[str, Probe]:
    """Probe every node in parallel; raise naming every node that could not be probed."""
    command = commands.probe(spec.interface, files=managed_paths(spec.interface))
    results = session.shell(command, nodes=list(names), timeout=60)
    probes: dict[str, Probe] = {}
    problems = []
    for name in names:
        result = results[name]
        if result.exit_status != 0:
            problems.append(f"{name}: {result.stderr.strip() or f'exit {result.exit_status}'}")
            continue
        probe = parse_probe(result.stdout)
        if probe.missing:
            problems.append(f"{name}: `{probe.missing}` is not installed (wireguard-tools)")
        elif probe.implementation == "none":
            problems.append(f"{name}: no WireGuard kernel module and no wireguard-go (or no tun)")
        elif not probe.public_key:
            problems.append(f"{name}: no public key was read")
        else:
            probes[name] = probe
    if problems:
        raise MeshError(
            "WireGuard cannot run on some nodes: " + "; ".join(problems),
            hint="prepare installs wireguard-tools (and wireguard-go where the kernel has no "
            "wireguard module) with the node's apt: run `up` (not `up --only mesh`) so prepare "
            "runs first, and read its errors",
        )
    return probes


def node_files(
    spec: WireGuardMeshSpec,
    base: NodeMeshConfig,
    operators: Sequence[OperatorPeer],
    probe: Probe,
    failover: FailoverTable | None = None,
) -> list[tuple[str, str, str]]:
    """``(path, content, mode)`` of every file the mesh keeps on one node: the control script,
    its settings, the peers, the operator devices, the failover table and (systemd) the units."""
    iface = spec.interface
    config = with_operators(base, operators)
    table = failover or FailoverTable(base.name)
    env = node_script.render_env(
        address=config.address,
        mtu=spec.mtu,
        forward=config.gateway,
        implementation=probe.implementation,
        client_cidr=spec.client_cidr,
        supervisor=probe.supervisor,
        failover_interval=0 if table.empty else spec.failover_interval,
    )
    files = [
        (node_script.script_path(iface), node_script.render_script(iface), "755"),
        (node_script.env_path(iface), env, "600"),
        (commands.config_path(iface), render_setconf(base), "600"),
        (
            node_script.operators_path(iface),
            node_script.render_operators(config.peers[len(base.peers) :]),
            "600",
        ),
        (node_script.failover_path(iface), render_failover(table, iface), "600"),
    ]
    if probe.supervisor == "systemd":
        files += [
            (
                f"{node_script.UNIT_DIR}/{node_script.unit_name(iface)}",
                node_script.render_unit(iface, probe.implementation),
                "644",
            ),
            (
                f"{node_script.UNIT_DIR}/{node_script.watch_unit_name(iface)}",
                node_script.render_watch_unit(iface),
                "644",
            ),
        ]
    return files


def file_digest(content: str, mode: str) -> str:
    """What :func:`commands.probe` prints for a file written by :func:`commands.write_file`."""
    body = content if content.endswith("\n") else content + "\n"
    return f"{int(mode, 8):o} {hashlib.sha256(body.encode()).hexdigest()}"


def up_to_date(
    spec: WireGuardMeshSpec,
    base: NodeMeshConfig,
    operators: Sequence[OperatorPeer],
    probe: Probe,
    failover: FailoverTable | None = None,
) -> bool:
    """Whether the node already is what its script would make it, as its probe shows: the
    interface running and up with its address, every file as rendered (mode and content), the
    peers as planned, forwarding on where it relays. Nothing needs to be pushed there then. A
    node running a gateway watcher is never called up to date (the probe cannot see the
    watcher's process), so its script runs and restarts the watcher if needed."""
    config = with_operators(base, operators)
    if not probe.running or probe.dump is None or not probe.link_up:
        return False
    if probe.address != config.address or diff_peers(probe.dump, config):
        return False
    if config.gateway and probe.forwarding != "1":
        return False
    if failover is not None and not failover.empty:
        return False
    files = node_files(spec, base, operators, probe, failover)
    return all(probe.files.get(path) == file_digest(text, mode) for path, text, mode in files)


def node_script_for(
    spec: WireGuardMeshSpec,
    base: NodeMeshConfig,
    operators: Sequence[OperatorPeer],
    probe: Probe,
    failover: FailoverTable | None = None,
) -> str:
    """Everything one node needs, as one script: files written when they differ, then either
    the peer-by-peer changes (running) or a start through the supervisor (stopped), then the
    gateway watcher started or stopped as the failover table and ``failoverInterval`` say."""
    iface = spec.interface
    config = with_operators(base, operators)
    script = node_script.script_path(iface)
    parts = [
        "set -eu",
        # A running watcher keeps the script text it started with: restart it on a change.
        f"script_before=$(cksum < {script} 2>/dev/null || true)",
    ]
    parts += [
        commands.write_file(path, text, mode)
        for path, text, mode in node_files(spec, base, operators, probe, failover)
    ]
    unit = node_script.unit_name(iface)
    if probe.supervisor == "systemd":
        parts.append(f"systemctl daemon-reload && systemctl enable --quiet {unit}")
    if probe.running and probe.dump is not None:
        changes = diff_peers(probe.dump, config)
        parts += [
            f"ip address replace {config.address} dev {iface}",
            f"ip link set dev {iface} mtu {spec.mtu} up",
            f"ip route replace {spec.client_cidr} dev {iface}",
        ]
        if config.gateway:
            parts.append(commands.enable_forwarding())
            parts.append(f"sysctl -q -w net.ipv4.conf.{iface}.send_redirects=0")
        if changes:
            parts.append(commands.set_peers(changes))
    elif probe.supervisor == "systemd":
        parts.append(f"systemctl restart {unit} && {script} wait-ready")
    else:
        parts.append(f"{script} up")
    parts.append(
        f'if [ -n "$script_before" ] && [ "$script_before" != "$(cksum < {script})" ]; '
        f"then {script} watcher restart; else {script} watcher; fi"
    )
    return "\n".join(parts)


def push(session: Any, scripts: Mapping[str, str]) -> dict[str, RemoteError]:
    """Run each node's own script, all nodes in one parallel round; return the nodes that
    failed (exit status, and the script's own error output, redacted by the session)."""
    if not scripts:
        return {}
    results = session.shell_each(dict(scripts), timeout=120)
    return {
        name: RemoteError(
            f"the WireGuard mesh script failed on node {name}",
            host=name,
            exit_status=result.exit_status,
            output=result.stderr.strip() or result.stdout.strip(),
            hint="see the node's /var/log/sloth-wg-<interface>.log; re-run `up` to retry",
        )
        for name, result in sorted(results.items())
        if result.exit_status != 0
    }


def read_dumps(
    session: Any, spec: WireGuardMeshSpec, names: Sequence[str]
) -> dict[str, DeviceDump]:
    results = session.shell(commands.show_dump(spec.interface), nodes=list(names), timeout=30)
    dumps = {}
    for name, result in results.items():
        if result.exit_status == 0 and result.stdout.strip():
            dumps[name] = parse_dump(result.stdout)
    return dumps


def settle(
    session: Any,
    spec: WireGuardMeshSpec,
    plan: MeshPlan,
    addresses: Mapping[str, str],
    names: Sequence[str],
    *,
    timeout: float = SETTLE_SECONDS,
    event: Callable[[str], None] = lambda _message: None,
    focus: Sequence[str] = (),
    ring: bool = False,
) -> tuple[verify.Matrix, list[tuple[str, str]]]:
    """Ping matrix until every pair answers, nudging stuck pairs; returns the last matrix and
    the pairs still failing. ``focus``: the nodes whose pairs must all be checked (the others
    only gained peers); with no focus, ``ring`` checks each node with its neighbour only."""
    targets = {name: addresses[name] for name in names}
    if not focus and len(names) > 1 and ring:
        # No tunnel started and no existing peer changed (peers only left): the pairs between
        # the nodes were not touched; each node pinging one hub (the hub its neighbour) shows
        # its tunnel is up — two rounds over all nodes at once, not N(N-1) pings.
        hub, *rest = sorted(names)
        matrix = verify.run_matrix(
            session, names, targets, only={hub: [rest[0]], **{n: [hub] for n in rest}}
        )
    elif focus and set(focus) != set(names):
        # Only pairs with a node whose tunnel was started or whose existing peers changed:
        # the others were verified before and only gained peer entries (adding a node then
        # costs 2(N-1) pings, not N(N-1)).
        # The new nodes ping first: their handshakes come at once, while the old nodes' first
        # initiations (sent before the new interface existed) wait for WireGuard's 5 s retry.
        fresh = {source: [t for t in names if t != source] for source in focus}
        matrix = verify.run_matrix(session, names, targets, only=fresh)
        others = {source: list(focus) for source in names if source not in focus}
        matrix = verify.merge(matrix, verify.run_matrix(session, names, targets, only=others))
    else:
        matrix = verify.run_matrix(session, names, targets)
    deadline = time.monotonic() + timeout
    nudged = 0
    while True:
        failing = verify.failing_pairs(matrix)
        if not failing or time.monotonic() > deadline:
            return matrix, failing
        involved = sorted({node for pair in failing for node in pair})
        dumps = read_dumps(session, spec, involved)
        stuck = _stuck_pairs(failing, dumps, plan, time.time())
        if stuck:
            nudged += len(stuck)
            event(f"nudging {len(stuck)} pair(s) without a handshake: " + _pairs_text(stuck))
            push(session, _nudge_scripts(spec, plan, stuck))
        time.sleep(0.5)
        only: dict[str, list[str]] = {}
        for a, b in failing:
            only.setdefault(a, []).append(b)
            only.setdefault(b, []).append(a)
        matrix = verify.merge(matrix, verify.run_matrix(session, names, targets, only=only))


def _needs_full_check(probe: Probe, desired: NodeMeshConfig) -> bool:
    """A node started now, or whose existing peers change (not just gain new ones)."""
    if not probe.running or probe.dump is None:
        return True
    existing = {peer.public_key for peer in probe.dump.peers}
    for argv in diff_peers(probe.dump, desired):
        if argv[-1] == "remove":
            continue  # a peer leaving changes nothing between the others
        if len(argv) > 4 and argv[3] == "peer" and argv[4] in existing:
            return True
        if len(argv) > 3 and argv[3] == "listen-port":
            return True
    return False


def _stuck_pairs(
    failing: Sequence[tuple[str, str]],
    dumps: Mapping[str, DeviceDump],
    plan: MeshPlan,
    now: float,
) -> list[tuple[str, str]]:
    """Failing pairs whose ends both run but have no recent handshake with each other."""
    stuck = []
    for a, b in failing:
        if a not in dumps or b not in dumps:
            continue  # one end is not running: nudging will not help
        if b not in _peer_keys(plan, a) or a not in _peer_keys(plan, b):
            continue  # no direct peering (relayed in the location topology)
        key_a, key_b = _peer_keys(plan, b)[a], _peer_keys(plan, a)[b]
        peer_b, peer_a = dumps[a].peer(key_b), dumps[b].peer(key_a)
        fresh = [
            peer is not None and peer.latest_handshake and now - peer.latest_handshake < 180
            for peer in (peer_a, peer_b)
        ]
        if not all(fresh):
            stuck.append((a, b))
    return stuck


def _peer_keys(plan: MeshPlan, node: str) -> dict[str, str]:
    return {peer.name: peer.public_key for peer in plan.nodes[node].peers}


def _nudge_scripts(
    spec: WireGuardMeshSpec, plan: MeshPlan, pairs: Sequence[tuple[str, str]]
) -> dict[str, str]:
    argvs: dict[str, list[list[str]]] = {}
    for a, b in pairs:
        for here, there in ((a, b), (b, a)):
            peer = next(p for p in plan.nodes[here].peers if p.name == there)
            argvs.setdefault(here, []).extend(nudge_peer(spec.interface, peer))
    return {node: commands.set_peers(lists) for node, lists in argvs.items()}


def _pairs_text(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{a} <-> {b}" for a, b in pairs)


@attrs.frozen
class Survey:
    """The nodes as probed, and the mesh plan they should follow."""

    names: list[str]
    addresses: dict[str, str]
    probes: dict[str, Probe]
    members: list[MeshMember]
    absent: list[NodeRecord]
    down_members: list[MeshMember]
    plan: MeshPlan


def survey(context: ClusterContext, spec: WireGuardMeshSpec, nodes: Sequence[NodeRecord]) -> Survey:
    """Addresses (allocated once, then stable), one probe round, and the plan from them."""
    session = require_session(context, nodes)
    store = context.store
    cluster = context.name
    names = sorted(n.name for n in nodes)
    by_name = {n.name: n for n in nodes}
    addresses = {
        name: store.allocate_address(cluster, ADDRESS_POOL, name, spec.cidr) for name in names
    }
    context.event(PHASE, f"probing {len(names)} nodes")
    probes = probe_nodes(session, spec, names)
    members = [
        member_of(
            by_name[name], addresses[name], probes[name].public_key or "", spec, context.config
        )
        for name in names
    ]
    absent = [n for n in store.list_nodes(cluster) if n.name not in by_name]
    down_members = recorded_members(absent, spec, context.config)
    plan = build_mesh([*members, *down_members], spec, down={m.name for m in down_members})
    return Survey(names, addresses, probes, members, absent, down_members, plan)


def drift(
    context: ClusterContext, spec: WireGuardMeshSpec, nodes: Sequence[NodeRecord]
) -> list[str]:
    """The ``mesh_drift`` hook: what one probe round finds different from the plan — a missing
    or stopped interface, a wrong address, peers that differ, a key the state does not know."""
    if not nodes:
        return []
    found = survey(context, spec, nodes)
    operators = operator_peers(context.state, context.name)
    by_name = {n.name: n for n in nodes}
    tables = failover_tables(found.plan, [*found.members, *found.down_members])
    findings = []
    for name in found.names:
        probe = found.probes[name]
        desired = with_operators(found.plan.nodes[name], operators)
        if not probe.running or probe.dump is None:
            findings.append(f"{name}: interface {spec.interface} does not exist")
        elif not probe.link_up:
            findings.append(f"{name}: interface {spec.interface} is down")
        elif probe.address != desired.address:
            findings.append(
                f"{name}: {spec.interface} has address {probe.address or 'none'}, "
                f"not {desired.address}"
            )
        elif changes := diff_peers(probe.dump, desired):
            findings.append(f"{name}: {len(changes)} peer change(s) pending")
        elif differing := _differing_files(spec, found, name, operators, tables.get(name)):
            findings.append(f"{name}: {', '.join(differing)} differ from what the mesh wrote")
        recorded = mesh_data(by_name[name]).get("publicKey")
        if recorded and recorded != probe.public_key:
            findings.append(f"{name}: its WireGuard key differs from the recorded one")
    return findings


def _differing_files(
    spec: WireGuardMeshSpec,
    found: Survey,
    name: str,
    operators: Sequence[OperatorPeer],
    table: FailoverTable | None,
) -> list[str]:
    """The mesh's files on ``name`` whose mode or content is not what its script writes."""
    probe = found.probes[name]
    files = node_files(spec, found.plan.nodes[name], operators, probe, table)
    return [path for path, text, mode in files if probe.files.get(path) != file_digest(text, mode)]


def configure(
    context: ClusterContext, spec: WireGuardMeshSpec, nodes: Sequence[NodeRecord]
) -> list[NodeRecord]:
    """The ``configure_mesh`` hook for WireGuard (see the module docstring)."""
    if not nodes:
        return []
    session = require_session(context, nodes)
    store = context.store
    cluster = context.name
    by_name = {n.name: n for n in nodes}
    found = survey(context, spec, nodes)
    names, addresses, probes, plan = found.names, found.addresses, found.probes, found.plan
    members, absent, down_members = found.members, found.absent, found.down_members
    if plan.unreachable:
        raise MeshError(
            "no endpoint can reach either end of: " + _pairs_text(plan.unreachable),
            hint="give one node of each pair a public address, or set "
            "spec.mesh.endpointPreference for a routed private network",
        )
    operators = operator_peers(store, cluster)
    tables = failover_tables(plan, [*members, *down_members])
    # Only nodes whose probe shows a difference get their script: adding a node touches it and
    # the peers that must learn about it, nothing else.
    scripts = {
        name: node_script_for(spec, plan.nodes[name], operators, probes[name], tables[name])
        for name in names
        if not up_to_date(spec, plan.nodes[name], operators, probes[name], tables[name])
    }
    changed = [name for name in names if not probes[name].running]
    context.event(
        PHASE,
        f"pushing to {len(scripts)} nodes ({len(changed)} interfaces to start, "
        f"{len(names) - len(scripts)} up to date)",
    )
    failures = push(session, scripts)
    if failures:
        raise MeshError(
            "configuring WireGuard failed on: "
            + "; ".join(f"{name}: {error}" for name, error in sorted(failures.items())),
            hint="see the node's /var/log/sloth-wg-<interface>.log; re-run `up` to retry",
        )
    matrix, failing = settle(
        session,
        spec,
        plan,
        addresses,
        names,
        event=lambda message: context.event(PHASE, message),
        focus=[name for name in names if _needs_full_check(probes[name], plan.nodes[name])],
        ring=bool(scripts),
    )
    if failing:
        diagnosis = verify.diagnose(matrix, names)
        detail = []
        if diagnosis.down:
            detail.append("nodes unreachable over the mesh: " + ", ".join(sorted(diagnosis.down)))
        if diagnosis.broken_links:
            detail.append("broken pairs: " + _pairs_text(diagnosis.broken_links))
        raise MeshError(
            "the mesh did not verify: " + "; ".join(detail),
            hint="check that UDP port "
            f"{spec.port} is open between those nodes (cloud firewalls, security groups); "
            "`sloth mesh check` shows the full matrix",
        )
    checked = sum(len(row) for row in matrix.values())
    context.event(PHASE, f"verified: {checked} directed pairs answer")
    for node in absent:  # nodes down now: record the roles the plan gave them (no gateway)
        data = mesh_data(node)
        config = plan.nodes.get(node.name)
        if config is not None and data and data.get("gateway") != config.gateway:
            data.update(gateway=config.gateway, homeGateway=config.home_gateway)
            store.put_node(attrs.evolve(node, extra={**node.extra, EXTRA_KEY: data}))
    return [
        _record(by_name[name], addresses[name], probes[name], plan.nodes[name], spec)
        for name in names
    ]


def _record(
    node: NodeRecord,
    address: str,
    probe: Probe,
    config: NodeMeshConfig,
    spec: WireGuardMeshSpec,
) -> NodeRecord:
    data = {
        **mesh_data(node),
        "publicKey": probe.public_key,
        "implementation": probe.implementation,
        "supervisor": probe.supervisor,
        "interface": spec.interface,
        "location": config.location,
        "gateway": config.gateway,
        "homeGateway": config.home_gateway,
    }
    return attrs.evolve(node, mesh_address=address, extra={**node.extra, EXTRA_KEY: data})


def desired_configs(
    context: ClusterContext,
    spec: WireGuardMeshSpec,
    nodes: Sequence[NodeRecord],
    *,
    operators: Sequence[OperatorPeer] | None = None,
    down: Sequence[str] = (),
) -> tuple[MeshPlan, dict[str, NodeMeshConfig], list[MeshMember]]:
    """The plan from what was recorded (no probing): used by ``vpn`` and ``mesh check``."""
    members = recorded_members(nodes, spec, context.config)
    if not members:
        raise MeshError(
            f"cluster {context.name} has no WireGuard mesh recorded yet",
            hint="run `sloth up` (at least `--until mesh`) first",
        )
    plan = build_mesh(members, spec, down=down)
    if operators is None:
        operators = operator_peers(context.state, context.name)
    configs = {m.name: with_operators(plan.nodes[m.name], operators) for m in members}
    return plan, configs, members
