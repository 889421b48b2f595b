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


def failover_path(interface: str) -> str:
    """The node's gateway failover table (:func:`.failover.render_failover`)."""
    return f"{CONFIG_DIR}/{_checked(interface)}.failover"


def watch_unit_name(interface: str) -> str:
    """The systemd unit running the gateway watcher on systemd nodes."""
    return f"sloth-wg-{_checked(interface)}-watch.service"


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
    *,
    address: str,
    mtu: int,
    forward: bool,
    implementation: str,
    client_cidr: str,
    supervisor: str = "detached",
    failover_interval: int = 0,
) -> str:
    """The per-node settings the script reads (no secret in it). ``failover_interval`` 0 means
    no gateway watcher on this node (full topology, nothing to fail over, or turned off)."""
    if implementation not in ("kernel", "userspace"):
        raise ValueError(f"implementation must be kernel or userspace, not {implementation!r}")
    if supervisor not in ("systemd", "detached"):
        raise ValueError(f"supervisor must be systemd or detached, not {supervisor!r}")
    return (
        "# Written by sloth-kubernetes; do not edit.\n"
        f"ADDRESS={shlex.quote(address)}\n"
        f"MTU={int(mtu)}\n"
        f"FORWARD={1 if forward else 0}\n"
        f"IMPLEMENTATION={implementation}\n"
        f"CLIENT_CIDR={shlex.quote(client_cidr)}\n"
        f"SUPERVISOR={supervisor}\n"
        f"FAILOVER_INTERVAL={max(0, int(failover_interval))}\n"
    )


#: How long one probe of a gateway waits for a reply (ping sends every 0.5 s until the first
#: reply): a live gateway answers in milliseconds, so "no reply in 2 s" means dead or cut off.
PROBE_SECONDS = 2

#: The watcher's decision, in POSIX awk (no python on the node). Input lines: the failover table
#: (``peer``/``rule``), ``alive NAME`` per peer that answered, ``live KEY PREFIX...`` from
#: ``wg show IFACE allowed-ips``. Output: ``down GATEWAY BACKUP|-`` per dead gateway, then
#: ``set KEY PREFIXES NAME COUNT`` per configured peer whose live AllowedIPs differ from the
#: desired ones -- peers that gain prefixes first, so a moving prefix is claimed before it is
#: dropped.
#: Same result as :func:`sloth_mesh_wireguard.failover.desired_allowed_ips` (tested).
DECIDE_AWK = r"""
function toset(list, set,   parts, n, i) {
  split("", set); n = split(list, parts, ",")
  for (i = 1; i <= n; i++) set[parts[i]] = 1
}
function minus(list, drop,   gone, parts, n, i, out) {
  toset(drop, gone); out = ""; n = split(list, parts, ",")
  for (i = 1; i <= n; i++) if (!(parts[i] in gone)) out = out (out == "" ? "" : ",") parts[i]
  return out
}
function plus(list, add,   have, parts, n, i, out) {
  toset(list, have); out = list; n = split(add, parts, ",")
  for (i = 1; i <= n; i++) if (!(parts[i] in have)) {
    out = out (out == "" ? "" : ",") parts[i]; have[parts[i]] = 1
  }
  return out
}
function subset(a, b,   in_b, parts, n, i) {
  toset(b, in_b); n = split(a, parts, ",")
  for (i = 1; i <= n; i++) if (!(parts[i] in in_b)) return 0
  return 1
}
$1 == "peer" { n++; order[n] = $2; key[$2] = $3; want[$2] = $5 }
$1 == "rule" {
  r++; gw[r] = $2; moved[r] = $3; nb[r] = NF - 3
  for (i = 4; i <= NF; i++) backup[r, i - 3] = $i
}
$1 == "alive" { alive[$2] = 1 }
$1 == "live" {
  s = ""
  for (i = 3; i <= NF; i++) if ($i != "(none)") s = s (s == "" ? "" : ",") $i
  live[$2] = s; configured[$2] = 1
}
END {
  for (j = 1; j <= r; j++) {
    g = gw[j]
    if (g in alive) continue
    b = ""
    for (i = 1; i <= nb[j]; i++) {
      c = backup[j, i]  # a backup missing from the interface cannot take anything
      if ((c in alive) && (key[c] in configured)) { b = c; break }
    }
    print "down", g, (b == "" ? "-" : b)
    if (b == "") continue
    want[g] = minus(want[g], moved[j])
    want[b] = plus(want[b], moved[j])
  }
  for (pass = 1; pass <= 2; pass++) for (i = 1; i <= n; i++) {
    p = order[i]; k = key[p]
    if (!(k in configured) || want[p] == "") continue
    gains = !subset(want[p], live[k])
    if (!gains && subset(live[k], want[p])) continue
    if ((pass == 1) == gains) print "set", k, want[p], p, split(want[p], parts, ",")
  }
}
"""


def render_script(interface: str, *, userspace_binary: str = "wireguard-go") -> str:
    """The control script: ``up``, ``down``, ``restart``, ``configure``, ``supervise``,
    ``status`` (prints ``running`` or ``stopped``; exit 0 / 3), and the gateway failover:
    ``watch`` (the watcher loop), ``watcher [restart]`` (start or stop it as the settings say),
    ``failover-round`` (one probe-and-fix round, for debugging)."""
    iface = _checked(interface)
    binary = shlex.quote(userspace_binary)
    return f"""#!/bin/sh
# sloth-kubernetes WireGuard mesh on {iface}; written by sloth-kubernetes, do not edit.
# usage: sloth-wg-{iface} up|down|restart|configure|supervise|wait-ready|status|watch|watcher
set -u
IFACE={iface}
DIR={CONFIG_DIR}
KEY="$DIR/$IFACE.key"
CONF="$DIR/$IFACE.conf"
OPERATORS="$DIR/$IFACE.operators.conf"
FAILOVER="$DIR/$IFACE.failover"
SOCK="/var/run/wireguard/$IFACE.sock"
PIDFILE="/run/sloth-wg-$IFACE.pid"
WATCH_PIDFILE="/run/sloth-wg-$IFACE-watch.pid"
WATCH_UNIT="sloth-wg-$IFACE-watch.service"
READY="/run/sloth-wg-$IFACE.ready"
LOG="/var/log/sloth-wg-$IFACE.log"
SUPERVISOR=detached
FAILOVER_INTERVAL=0
. "$DIR/$IFACE.env"
DECIDE='@DECIDE@'

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

# -- gateway failover (topology: location): see the plugin README, "Failover" ------------
log() {{ printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "sloth-wg-$IFACE watch: $*"; }}

watch_enabled() {{
  case "$FAILOVER_INTERVAL" in ''|*[!0-9]*|0) return 1 ;; esac
}}

probe_peers() {{
  # One ping per peer of the table, all at once; prints "alive NAME" for those that answer.
  awk '$1 == "peer" {{ print $2, $4 }}' "$FAILOVER" | {{
    while read -r name address; do
      ( ping -n -q -c 1 -i 0.5 -w {PROBE_SECONDS} "$address" >/dev/null 2>&1 \
        && echo "alive $name" ) &
    done
    wait
  }}
}}

report() {{
  # $1: last round's "GATEWAY BACKUP" lines, $2: this round's.
  printf '%s\n' "$2" | while read -r gw backup; do
    [ -n "$gw" ] || continue
    printf '%s\n' "$1" | grep -qxF "$gw $backup" && continue
    if [ "$backup" = - ]; then
      log "gateway $gw does not answer, nor does any other gateway of its location"
    else
      log "gateway $gw does not answer: its routes move to $backup"
    fi
  done
  printf '%s\n' "$1" | while read -r gw backup; do
    [ -n "$gw" ] || continue
    printf '%s\n' "$2" | grep -q "^$gw " || log "gateway $gw answers again: its routes move back"
  done
}}

failover_round() {{
  [ -s "$FAILOVER" ] && link_up || return 0
  alive=$(probe_peers)
  # Read after the probes (up to 2 s): a run may have changed the peers meanwhile.
  live=$(wg show "$IFACE" allowed-ips 2>/dev/null) || return 0
  decision=$({{ cat "$FAILOVER"; printf '%s\n' "$alive"
    printf '%s\n' "$live" | sed 's/^/live /'; }} | awk "$DECIDE") || return 0
  down=$(printf '%s\n' "$decision" | sed -n 's/^down //p')
  if [ "$down" != "$LAST_DOWN" ]; then report "$LAST_DOWN" "$down"; LAST_DOWN=$down; fi
  set --
  moved=
  while read -r verb key ips name count; do
    [ "$verb" = set ] || continue
    set -- "$@" peer "$key" allowed-ips "$ips"
    if [ "${{#ips}}" -le 200 ]; then moved="$moved $name=$ips"
    else moved="$moved $name=($count prefixes)"; fi
  done <<SLOTH_DECISION
$decision
SLOTH_DECISION
  [ "$#" -gt 0 ] || return 0
  # One wg set: WireGuard moves a prefix to the last peer given it.
  if wg set "$IFACE" "$@"; then log "allowed IPs set:$moved"; else log "wg set failed"; fi
}}

watch() {{
  if [ "$SUPERVISOR" = detached ]; then echo $$ > "$WATCH_PIDFILE"; fi
  LAST_DOWN=
  log "watching the gateways of $FAILOVER every ${{FAILOVER_INTERVAL}}s"
  while :; do
    . "$DIR/$IFACE.env"  # re-read: a later run may change the interval or turn it off
    watch_enabled || {{ log "failover is off; watcher exits"; exit 0; }}
    # A newer watcher took over (started twice): leave it the job.
    if [ "$SUPERVISOR" = detached ] && [ "$(cat "$WATCH_PIDFILE" 2>/dev/null)" != $$ ]; then
      exit 0
    fi
    failover_round
    sleep "$FAILOVER_INTERVAL"
  done
}}

watcher_alive() {{
  [ -s "$WATCH_PIDFILE" ] && kill -0 "$(cat "$WATCH_PIDFILE")" 2>/dev/null
}}

stop_watcher() {{
  if watcher_alive; then kill "$(cat "$WATCH_PIDFILE")" 2>/dev/null; fi
  rm -f "$WATCH_PIDFILE"
}}

ensure_watcher() {{
  # Running when there is something to fail over, stopped otherwise; "restart" after the
  # script itself changed (a running shell keeps the old text).
  if [ "$SUPERVISOR" = systemd ]; then
    if ! watch_enabled; then
      systemctl disable --now --quiet "$WATCH_UNIT" 2>/dev/null || true
    elif [ "${{1:-}}" = restart ]; then
      systemctl enable --quiet "$WATCH_UNIT" && systemctl restart "$WATCH_UNIT"
    else
      systemctl enable --now --quiet "$WATCH_UNIT"
    fi
    return
  fi
  if ! watch_enabled || [ "${{1:-}}" = restart ]; then stop_watcher; fi
  if watch_enabled && ! watcher_alive; then
    nohup setsid "$0" watch >>"$LOG" 2>&1 </dev/null &
    echo $! > "$WATCH_PIDFILE"  # at once, so a second call right after sees it running
  fi
  return 0
}}

up_kernel() {{
  # An existing interface is left as it is: the operator's runs change it peer by peer.
  if link_up; then : > "$READY"; return 0; fi
  ip link add dev "$IFACE" type wireguard || return 1
  configure && : > "$READY"
}}

case "${{1:-}}" in
  up)
    if [ "$IMPLEMENTATION" = kernel ]; then
      up_kernel || exit $?
    elif supervisor_alive && link_up; then
      wait_ready || exit $?
    else
      supervisor_alive && kill "$(cat "$PIDFILE")" 2>/dev/null
      ip link del dev "$IFACE" 2>/dev/null
      rm -f "$READY"
      nohup setsid "$0" supervise >>"$LOG" 2>&1 </dev/null &
      wait_ready || exit $?
    fi
    [ "$SUPERVISOR" = systemd ] || ensure_watcher
    ;;
  down)
    [ "$SUPERVISOR" = systemd ] || stop_watcher
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
  watch) watch ;;
  watcher) ensure_watcher "${{2:-}}" ;;
  failover-round) LAST_DOWN=; failover_round ;;
  status)
    if link_up && [ -n "$(wg show "$IFACE" public-key 2>/dev/null)" ]; then
      echo running; exit 0
    fi
    echo stopped; exit 3
    ;;
  *) echo "usage: $0 up|down|restart|configure|supervise|status|watch|watcher" >&2; exit 2 ;;
esac
""".replace("@DECIDE@", DECIDE_AWK)


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


def render_watch_unit(interface: str) -> str:
    """The systemd unit of the gateway watcher (``sloth-wg-IFACE watch``); its output goes to
    the journal. It exits by itself (status 0) when failover is turned off."""
    iface = _checked(interface)
    return (
        "# Written by sloth-kubernetes; do not edit.\n"
        "[Unit]\n"
        f"Description=sloth-kubernetes WireGuard gateway failover ({iface})\n"
        f"After={unit_name(iface)}\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={script_path(iface)} watch\n"
        "Restart=on-failure\nRestartSec=2\n"
        "\n[Install]\nWantedBy=multi-user.target\n"
    )
