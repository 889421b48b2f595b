"""``spec.kubernetes.apiEndpoint`` applied: where each node registers, the API certificate's
names, and the node-local balancer of mode ``nodeLocal`` (docs/ha.md).

Distribution-agnostic. An installer says which ports its servers register nodes on
(``join_port``) and serve the API on (``api_port``), whether it supports the node-local balancer
(``node_local_balancer``) and where on a node of each role the balancer listens
(:meth:`~.installer.Installer.balancer_ports`); the core renders the balancer and tells the
installer the registration address of each role (:meth:`.installer.DistroPlan.server_url`).

Why a balancer on every node when K3s and RKE2 agents already balance on their own: their
client-side load balancer (k3s-io/k3s ``pkg/agent/loadbalancer``, ``pkg/agent/proxy``; K3s on
127.0.0.1:6444, RKE2 also on 6443 for the API) learns the servers only *after* the first contact
with the ``server:`` address, and a new node has nothing but that address. docs.k3s.io "High
Availability Embedded etcd" asks for a *fixed registration address* for this reason. The
node-local balancer is that fixed address on each node itself: 127.0.0.1, health-checked over
every server's mesh address, rewritten when the servers change — so losing any one server never
stops a new node from joining or a restarted one from registering, and ``kubectl`` on any node
reaches the API through it. It adds no second hop to steady-state traffic of K3s/RKE2 agents
(their own balancer talks to the servers directly once it learned them).

The balancer is haproxy (Debian package ``haproxy``, installed by prepare), in TCP mode: TLS
passes through untouched, so client certificates and the servers' own certificates work as
without it. Its unit is our own (``sloth-api-balancer``) so a haproxy the user runs is never
touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import attrs

from ..model import ClusterConfig, NodeRecord, api_endpoint_of

if TYPE_CHECKING:
    from .installer import Installer, NodeFile, Role

#: the balancer's own systemd unit, config file and the Debian package that provides haproxy
BALANCER_UNIT = "sloth-api-balancer"
BALANCER_CONFIG = "/etc/sloth-kubernetes/api-balancer.cfg"
BALANCER_PACKAGE = "haproxy"
#: where on a node the balancer listens: 127.0.0.1 only (nodes and kubectl on the node)
LOOPBACK = "127.0.0.1"
#: servers listen on the distribution's own ports on every address; their balancer listens this
#: much higher (6443 → 16443, 9345 → 19345: below the ephemeral and NodePort ranges)
SERVER_PORT_OFFSET = 10000

#: ``firstServer``: the distribution does not support nodeLocal and none was asked for
Mode = Literal["nodeLocal", "dns", "firstServer"]

UNIT = """\
# Written by sloth-kubernetes (spec.kubernetes.apiEndpoint mode nodeLocal): the node-local
# balancer over every server's mesh address. The unit follows Debian's haproxy.service.
[Unit]
Description=Kubernetes API balancer on 127.0.0.1 - managed by sloth-kubernetes
Documentation=https://www.haproxy.org/ man:haproxy(1)
After=network-online.target
Wants=network-online.target

[Service]
Environment="CONFIG={config}" "PIDFILE=/run/{unit}.pid"
ExecStartPre=/usr/sbin/haproxy -Ws -f $CONFIG -c -q
ExecStart=/usr/sbin/haproxy -Ws -f $CONFIG -p $PIDFILE
ExecReload=/usr/sbin/haproxy -Ws -f $CONFIG -c -q
ExecReload=/bin/kill -USR2 $MAINPID
KillMode=mixed
LimitNOFILE=16384
Restart=always
RestartSec=2s
Type=notify

[Install]
WantedBy=multi-user.target
"""

CONFIG_HEAD = """\
# Written by sloth-kubernetes (spec.kubernetes.apiEndpoint mode nodeLocal); `up` rewrites it
# when the servers change. TCP mode: TLS passes through, certificates are the servers' own.
global
    # registrations, kubectl and (RKE2 agents) the API: a few connections per node; haproxy
    # needs about 2 file descriptors per connection (the unit's LimitNOFILE)
    maxconn 4096

defaults
    mode tcp
    # a server that died takes its mesh address with it: connections to it time out rather
    # than being refused, so the connect timeout bounds what a client waits before the next
    # server is tried (option redispatch 1: every retry goes to another server)
    timeout connect 3s
    # API watches stay open for long: do not cut them
    timeout client 1h
    timeout server 1h
    timeout check 2s
    retries 2
    option redispatch 1
    # a server is out after 2 failed checks 1 s apart, back after 2 good ones (checked every
    # 2 s while down); sessions to a server marked down are closed so clients reconnect to a
    # live one at once
    default-server inter 1s downinter 2s fall 2 rise 2 on-marked-down shutdown-sessions
"""


@attrs.frozen
class Endpoint:
    """The endpoint decided for the whole cluster.

    ``address``: what clients use (kubeconfig) when set; ``registration``: ``host:port`` each
    role's nodes register with; ``balancer``: per role, (listen port, server port) pairs of the
    node-local balancer (empty unless mode nodeLocal); ``servers``: (name, mesh address) of
    every server the balancer spreads over.
    """

    mode: Mode
    address: str | None
    registration: Mapping[str, str]
    balancer: Mapping[str, tuple[tuple[int, int], ...]] = attrs.field(factory=dict)
    servers: tuple[tuple[str, str], ...] = ()


def effective_mode(config: ClusterConfig, installer: Installer) -> Mode:
    """The mode in force: dns as written; nodeLocal where the installer supports it (config
    validation refuses an explicit nodeLocal it does not; loadBalancer is refused there too)."""
    mode = api_endpoint_of(config.spec.kubernetes).mode
    if mode == "dns":
        return "dns"
    return "nodeLocal" if installer.node_local_balancer else "firstServer"


def resolve(
    config: ClusterConfig,
    installer: Installer,
    servers: Sequence[NodeRecord],
    first_address: str,
    registration_address: str | None = None,
) -> Endpoint:
    """The endpoint of ``config`` over ``servers`` (in join order). ``first_address`` is the
    first server's mesh address (mode firstServer registers there); ``registration_address``
    (the distro block's ``registrationAddress``) overrides every mode's registration."""
    endpoint = api_endpoint_of(config.spec.kubernetes)
    mode = effective_mode(config, installer)
    roles: tuple[str, ...] = ("server", "agent")
    if registration_address or mode != "nodeLocal":
        host = registration_address or (
            endpoint.address if mode == "dns" and endpoint.address else first_address
        )
        registration = dict.fromkeys(roles, f"{host}:{installer.join_port}")
        return Endpoint(mode, endpoint.address, registration)
    balancer: dict[str, tuple[tuple[int, int], ...]] = {
        "server": installer.balancer_ports("server"),
        "agent": installer.balancer_ports("agent"),
    }
    registration = {role: f"{LOOPBACK}:{balancer[role][0][0]}" for role in roles}
    members = tuple((s.name, s.mesh_address or "") for s in servers)
    return Endpoint(mode, endpoint.address, registration, balancer, members)


def tls_sans(config: ClusterConfig, servers: Sequence[NodeRecord]) -> tuple[str, ...]:
    """The endpoint's address and extra names, 127.0.0.1 (kubectl through the node-local
    balancer, and on the server itself), then every server's mesh and public address, once
    each — in the spec's order, so which server was reached (or initialised) first never
    changes the servers' config files."""
    from .topology import spec_order

    endpoint = api_endpoint_of(config.spec.kubernetes)
    names: list[str] = [*([endpoint.address] if endpoint.address else []), *endpoint.sans]
    names.append(LOOPBACK)
    for server in spec_order(config, servers):
        names += [a for a in (server.mesh_address, server.public_address) if a]
    return tuple(dict.fromkeys(names))


def balancer_config(endpoint: Endpoint, role: Role) -> str:
    """haproxy's configuration for a node of ``role``: one frontend on 127.0.0.1 per port, each
    over every server's mesh address on the distribution's port. ``balance first``: every
    connection goes to the first healthy server in join order (the initialising one while it
    lives), the next when it is down — registration stays deterministic, and steady-state load
    is spread by the distributions' own client balancers, not by this one."""
    blocks = [CONFIG_HEAD]
    for listen, port in endpoint.balancer[role]:
        lines = [
            f"frontend api-{listen}",
            f"    bind {LOOPBACK}:{listen}",
            f"    default_backend servers-{port}",
            "",
            f"backend servers-{port}",
            "    balance first",
            *(f"    server {name} {address}:{port} check" for name, address in endpoint.servers),
            "",
        ]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def balancer_files(endpoint: Endpoint, role: Role) -> list[NodeFile]:
    """The balancer's unit and configuration for a node of ``role`` (none unless nodeLocal)."""
    from .installer import NodeFile

    if endpoint.mode != "nodeLocal" or not endpoint.balancer:
        return []
    unit = UNIT.format(config=BALANCER_CONFIG, unit=BALANCER_UNIT)
    return [
        NodeFile(f"/etc/systemd/system/{BALANCER_UNIT}.service", unit, 0o644),
        NodeFile(BALANCER_CONFIG, balancer_config(endpoint, role), 0o644),
    ]


def start_command(changed: bool) -> str:
    """Start the balancer; reload it (hitless: haproxy's master re-execs) when its files
    changed. haproxy checks the configuration first and keeps the old one if it is invalid."""
    unit = BALANCER_UNIT
    action = f"systemctl reload-or-restart {unit}" if changed else f"systemctl start {unit}"
    # on failure, haproxy's own reason (from the journal) becomes the error's output
    return (
        f"systemctl daemon-reload && systemctl enable {unit} >/dev/null 2>&1 && {{ {action} || "
        f"{{ journalctl -u {unit} -n 15 --no-pager 2>/dev/null; exit 1; }}; }}"
    )


def uninstall_command() -> str:
    """Stop and remove the balancer's unit and configuration (nothing else of haproxy: the
    package may serve the user too). Succeeds where there is none."""
    unit = f"/etc/systemd/system/{BALANCER_UNIT}.service"
    return (
        f"systemctl disable --now {BALANCER_UNIT} >/dev/null 2>&1; rm -f {unit} {BALANCER_CONFIG}; "
        "rmdir /etc/sloth-kubernetes 2>/dev/null; systemctl daemon-reload 2>/dev/null; true"
    )
