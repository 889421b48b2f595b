"""What lives on a node: the mesh control script, its settings file and (with systemd) its unit.

The script ``/usr/local/sbin/sloth-wg-IFACE`` is the same on every node; what differs per node is
in ``/etc/wireguard/IFACE.env`` (address, MTU, forwarding, implementation) and
``/etc/wireguard/IFACE.conf`` (peers, ``wg setconf`` format, no private key). So the node can
bring its mesh back by itself — after a reboot, a crash of ``wireguard-go``, or ``stop``/``start``
— with the same address, key and peers, without the operator's machine.

Supervision, chosen per node from facts:

* PID 1 is systemd → a unit ``sloth-wg-IFACE.service`` (``Restart=always`` for wireguard-go,
  ``oneshot`` for the kernel module), enabled for boot;
* anything else (containers, the local provider's fast hosts) → ``sloth-wg-IFACE up`` starts a
  *detached* supervisor (``nohup setsid … &``, pid file in /run) that restarts wireguard-go when
  it dies and re-applies the config; ``up`` again is idempotent and restarts a dead supervisor.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from .topology import Peer

SCRIPT_DIR = "/usr/local/sbin"
UNIT_DIR = "/etc/systemd/system"
CONFIG_DIR = "/etc/wireguard"

_INTERFACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")


def _checked(interface: str) -> str:
    if not _INTERFACE.match(interface):
        raise ValueError(f"{interface!r} is not a valid interface name")
    return interface


def script_path(interface: str) -> str:
    """The node's control script for ``interface``."""
    return f"{SCRIPT_DIR}/sloth-wg-{_checked(interface)}"


def unit_name(interface: str) -> str:
    """The systemd unit supervising ``interface`` on systemd nodes."""
    return f"sloth-wg-{_checked(interface)}.service"


def env_path(interface: str) -> str:
    return f"{CONFIG_DIR}/{_checked(interface)}.env"


def operators_path(interface: str) -> str:
    """Operator devices' peers (``vpn join``), kept apart from the node peers so joining or
    leaving rewrites one small file that is the same on every node."""
    return f"{CONFIG_DIR}/{_checked(interface)}.operators.conf"


def render_operators(peers: Sequence[Peer]) -> str:
    """``[Peer]`` blocks for operator devices (appended to the node config by the script)."""
    blocks = ["# sloth-kubernetes operator devices (vpn join); do not edit."]
    for peer in peers:
        blocks.append(
            f"[Peer]\n# {peer.name}\nPublicKey = {peer.public_key}\n"
            f"AllowedIPs = {', '.join(peer.allowed_ips)}"
        )
    return "\n\n".join(blocks) + "\n"


def render_env(
    *, address: str, mtu: int, forward: bool, implementation: str, client_cidr: str
) -> str:
    """The per-node settings the script reads (no secret in it)."""
    if implementation not in ("kernel", "userspace"):
        raise ValueError(f"implementation must be kernel or userspace, not {implementation!r}")
    return (
        "# Written by sloth-kubernetes; do not edit.\n"
        f"ADDRESS={shlex.quote(address)}\n"
        f"MTU={int(mtu)}\n"
        f"FORWARD={1 if forward else 0}\n"
        f"IMPLEMENTATION={implementation}\n"
        f"CLIENT_CIDR={shlex.quote(client_cidr)}\n"
    )


def render_script(interface: str, *, userspace_binary: str = "wireguard-go") -> str:
    """The control script: ``up``, ``down``, ``restart``, ``configure``, ``supervise``,
    ``status`` (prints ``running`` or ``stopped``; exit 0 / 3)."""
    iface = _checked(interface)
    binary = shlex.quote(userspace_binary)
    return f"""#!/bin/sh
# sloth-kubernetes WireGuard mesh on {iface}; written by sloth-kubernetes, do not edit.
# usage: sloth-wg-{iface} up|down|restart|configure|supervise|wait-ready|status
set -u
IFACE={iface}
DIR={CONFIG_DIR}
KEY="$DIR/$IFACE.key"
CONF="$DIR/$IFACE.conf"
OPERATORS="$DIR/$IFACE.operators.conf"
SOCK="/var/run/wireguard/$IFACE.sock"
PIDFILE="/run/sloth-wg-$IFACE.pid"
READY="/run/sloth-wg-$IFACE.ready"
LOG="/var/log/sloth-wg-$IFACE.log"
. "$DIR/$IFACE.env"

say() {{ printf '%s\\n' "sloth-wg-$IFACE: $*" >&2; }}
link_up() {{ ip link show dev "$IFACE" >/dev/null 2>&1; }}

configure() {{
  # Address, MTU and peers from the files; the private key is merged in through a pipe.
  ip address replace "$ADDRESS" dev "$IFACE" || return 1
  ip link set dev "$IFACE" mtu "$MTU" || return 1
  {{ printf '[Interface]\\nPrivateKey = '; cat "$KEY" "$CONF"
    cat "$OPERATORS" 2>/dev/null; }} | wg setconf "$IFACE" /dev/stdin || return 1
  ip link set dev "$IFACE" up || return 1
  # Operator devices (vpn join) live outside the node range: route their range into the mesh.
  ip route replace "$CLIENT_CIDR" dev "$IFACE" || return 1
  if [ "$FORWARD" = 1 ]; then
    sysctl -q -w net.ipv4.ip_forward=1
    sysctl -q -w "net.ipv4.conf.$IFACE.send_redirects=0"
  fi
}}

wait_socket() {{
  tries=0
  until [ -S "$SOCK" ] && link_up; do
    tries=$((tries + 1))
    [ "$tries" -gt 100 ] && return 1
    sleep 0.05
  done
}}

supervisor_alive() {{
  [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}}

supervise() {{
  # Runs wireguard-go in the foreground and restarts it (re-applying the config) if it dies.
  echo $$ > "$PIDFILE"
  child=
  trap 'stopping=1; [ -n "$child" ] && kill "$child" 2>/dev/null' TERM INT
  stopping=0
  while [ "$stopping" = 0 ]; do
    rm -f "$SOCK" "$READY"
    WG_PROCESS_FOREGROUND=1 {binary} -f "$IFACE" &
    child=$!
    if wait_socket; then
      if configure; then : > "$READY"; else say "configure failed"; fi
    else
      say "no control socket"
    fi
    wait "$child"
    [ "$stopping" = 0 ] && {{ say "wireguard-go exited; restarting"; sleep 1; }}
  done
  ip link del dev "$IFACE" 2>/dev/null
  rm -f "$PIDFILE" "$READY"
}}

wait_ready() {{
  tries=0
  until [ -e "$READY" ] && link_up; do
    tries=$((tries + 1)); [ "$tries" -gt 200 ] && {{ say "not ready; see $LOG"; return 5; }}
    sleep 0.05
  done
}}

up_kernel() {{
  # An existing interface is left as it is: the operator's runs change it peer by peer.
  if link_up; then : > "$READY"; return 0; fi
  ip link add dev "$IFACE" type wireguard || return 1
  configure && : > "$READY"
}}

case "${{1:-}}" in
  up)
    if [ "$IMPLEMENTATION" = kernel ]; then up_kernel; exit $?; fi
    if supervisor_alive && link_up; then wait_ready; exit $?; fi
    supervisor_alive && kill "$(cat "$PIDFILE")" 2>/dev/null
    ip link del dev "$IFACE" 2>/dev/null
    rm -f "$READY"
    nohup setsid "$0" supervise >>"$LOG" 2>&1 </dev/null &
    wait_ready
    ;;
  down)
    if supervisor_alive; then
      pid=$(cat "$PIDFILE"); kill "$pid" 2>/dev/null
      tries=0
      while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 100 ]; do
        tries=$((tries + 1)); sleep 0.05
      done
    fi
    ip link del dev "$IFACE" 2>/dev/null
    rm -f "$PIDFILE" "$READY"
    exit 0
    ;;
  restart) "$0" down; exec "$0" up ;;
  configure) configure ;;
  wait-ready) wait_ready ;;
  supervise) supervise ;;
  kernel-up) up_kernel ;;
  status)
    if link_up && [ -n "$(wg show "$IFACE" public-key 2>/dev/null)" ]; then
      echo running; exit 0
    fi
    echo stopped; exit 3
    ;;
  *) echo "usage: $0 up|down|restart|configure|supervise|status" >&2; exit 2 ;;
esac
"""


def render_unit(interface: str, implementation: str) -> str:
    """The systemd unit: wireguard-go supervised by the script (restarted by systemd if the
    script dies), or a oneshot for the kernel module."""
    iface = _checked(interface)
    script = script_path(iface)
    head = (
        "# Written by sloth-kubernetes; do not edit.\n"
        "[Unit]\n"
        f"Description=sloth-kubernetes WireGuard mesh ({iface})\n"
        "After=network-online.target nftables.service sloth-firewall.service\n"
        "Wants=network-online.target\n\n"
        "[Service]\n"
    )
    if implementation == "kernel":
        body = (
            "Type=oneshot\nRemainAfterExit=yes\n"
            f"ExecStart={script} kernel-up\nExecStop={script} down\n"
        )
    else:
        body = (
            "Type=simple\n"
            f"ExecStart={script} supervise\n"
            f"ExecStopPost=/bin/sh -c 'ip link del dev {iface} 2>/dev/null || true'\n"
            "Restart=always\nRestartSec=1\n"
        )
    return head + body + "\n[Install]\nWantedBy=multi-user.target\n"
