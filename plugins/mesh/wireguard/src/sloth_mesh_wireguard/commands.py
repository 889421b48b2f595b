"""Shell commands the plugin runs on a node (through the core's remote layer, as root).

Pure functions returning POSIX ``sh`` scripts or argv lists. Every value that reaches a script is
validated or quoted; the private key only ever moves between files on the node (``wg genkey >
file``, ``wg pubkey < file``, ``wg set ... private-key FILE``) and never appears on a command line
or in output.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

#: Where keys and configs live on a node (root-only, like wg-quick's).
CONFIG_DIR = "/etc/wireguard"
#: wireguard-go's control sockets (hard-coded in wireguard-go and wg).
SOCKET_DIR = "/var/run/wireguard"

_INTERFACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$")

#: Markers printed by :func:`ensure_interface` so the caller can record the implementation.
KERNEL = "implementation=kernel"
USERSPACE = "implementation=userspace"


def _checked(interface: str) -> str:
    if not _INTERFACE.match(interface):
        raise ValueError(f"{interface!r} is not a valid interface name")
    return interface


def key_path(interface: str, config_dir: str = CONFIG_DIR) -> str:
    """Path of the node's private key file for ``interface``."""
    return f"{config_dir}/{_checked(interface)}.key"


def config_path(interface: str, config_dir: str = CONFIG_DIR) -> str:
    """Path of the rendered ``wg setconf`` file for ``interface`` (holds no private key)."""
    return f"{config_dir}/{_checked(interface)}.conf"


def ensure_key(interface: str, config_dir: str = CONFIG_DIR) -> str:
    """Generate the private key once (0600, atomically) and print only the public key."""
    key = shlex.quote(key_path(interface, config_dir))
    directory = shlex.quote(config_dir)
    return (
        "set -eu; umask 077; "
        f"mkdir -p {directory}; "
        f"if [ ! -s {key} ]; then wg genkey > {key}.tmp && mv -f {key}.tmp {key}; fi; "
        f"wg pubkey < {key}"
    )


def ensure_interface(
    interface: str, *, userspace_binary: str = "wireguard-go", log_file: str | None = None
) -> str:
    """Create the interface if absent: kernel module first (``ip link add ... type wireguard``),
    else a detached ``wireguard-go``. Prints :data:`KERNEL` or :data:`USERSPACE` as the last line.

    wireguard-go runs in the foreground under ``setsid``/``nohup`` so it outlives the SSH session
    and does not hold it open; the script waits (up to 5 s) for its control socket.
    """
    iface = shlex.quote(_checked(interface))
    socket = shlex.quote(f"{SOCKET_DIR}/{interface}.sock")
    log = shlex.quote(log_file or f"/var/log/sloth-wireguard-go.{interface}.log")
    binary = shlex.quote(userspace_binary)
    missing = shlex.quote(f"no WireGuard kernel module and no {userspace_binary} on this node")
    failed = shlex.quote(
        f"{userspace_binary} did not create {interface}; see {log_file or 'its log'}"
    )
    return f"""set -u
if ! ip link show dev {iface} >/dev/null 2>&1; then
  if ! ip link add dev {iface} type wireguard 2>/dev/null; then
    if ! command -v {binary} >/dev/null 2>&1; then
      printf '%s\\n' {missing} >&2; exit 3
    fi
    WG_PROCESS_FOREGROUND=1 nohup setsid {binary} -f {iface} >{log} 2>&1 </dev/null &
    tries=0
    until [ -S {socket} ] && ip link show dev {iface} >/dev/null 2>&1; do
      tries=$((tries + 1))
      if [ "$tries" -gt 50 ]; then
        printf '%s\\n' {failed} >&2; exit 4
      fi
      sleep 0.1
    done
  fi
fi
if [ -S {socket} ]; then echo {USERSPACE}; else echo {KERNEL}; fi
"""


def configure_address(interface: str, address: str, mtu: int) -> str:
    """Set the mesh address (idempotent ``replace``), the MTU, and bring the interface up."""
    iface = shlex.quote(_checked(interface))
    return (
        "set -eu; "
        f"ip address replace {shlex.quote(address)} dev {iface}; "
        f"ip link set dev {iface} mtu {int(mtu)} up"
    )


def install_config(interface: str, config_dir: str = CONFIG_DIR) -> str:
    """Write the rendered config from stdin to :func:`config_path` (0600, atomic)."""
    path = shlex.quote(config_path(interface, config_dir))
    directory = shlex.quote(config_dir)
    return f"set -eu; umask 077; mkdir -p {directory}; cat > {path}.tmp; mv -f {path}.tmp {path}"


def apply_config(interface: str, config_dir: str = CONFIG_DIR) -> str:
    """Sync the interface with the config file plus the node's private key: ``wg syncconf`` only
    changes what differs, so established sessions survive.

    ``wg syncconf`` clears a private key its input does not mention, so the key is merged in on
    the node, through a pipe (``printf`` is a shell builtin; the key is never on an argv).
    """
    iface = shlex.quote(_checked(interface))
    key = shlex.quote(key_path(interface, config_dir))
    config = shlex.quote(config_path(interface, config_dir))
    return (
        "set -eu; "
        f"{{ printf '[Interface]\\nPrivateKey = '; cat {key}; cat {config}; }} "
        f"| wg syncconf {iface} /dev/stdin"
    )


def show_dump(interface: str) -> str:
    """``wg show IFACE dump`` with the private key field blanked on the node, before it travels."""
    iface = shlex.quote(_checked(interface))
    return (
        f"dump=$(wg show {iface} dump) || exit $?; "
        "printf '%s\\n' \"$dump\" | "
        'awk \'BEGIN { FS = OFS = "\\t" } NR == 1 { $1 = "(hidden)" } { print }\''
    )


def enable_forwarding() -> str:
    """Gateways relay between locations (location topology): allow IPv4 forwarding."""
    return "sysctl -q -w net.ipv4.ip_forward=1"


def set_peers(argvs: Sequence[Sequence[str]]) -> str:
    """Join ``wg set`` argument lists (from :func:`~sloth_mesh_wireguard.render.diff_peers`) into
    one script that stops at the first failure. Empty string when there is nothing to do."""
    return "; ".join(["set -e", *(shlex.join(argv) for argv in argvs)]) if argvs else ""


def remove_interface(interface: str) -> str:
    """Delete the interface (kernel) or stop wireguard-go (deleting its link makes it exit)."""
    iface = shlex.quote(_checked(interface))
    return f"ip link del dev {iface} 2>/dev/null || true"


#: Marks the start of the ``wg show dump`` part of :func:`probe` output.
DUMP_MARKER = "--- dump ---"


def probe(
    interface: str, *, userspace_binary: str = "wireguard-go", files: Sequence[str] = ()
) -> str:
    """One read-mostly script for every node: ensure the key (the only write), then print
    ``key=value`` facts — ``public_key``, ``init`` (PID 1's name), ``implementation`` (``kernel``,
    ``userspace`` or ``none``), ``running`` (0/1; with ``link_up`` 0/1 and ``address``, the
    interface's IPv4 address with its prefix), ``forwarding`` (IPv4 forwarding, 0/1), one
    ``file=PATH MODE SHA256`` line per existing file of ``files`` — and, when the interface
    exists, its dump (private key blanked) after :data:`DUMP_MARKER`."""
    iface = shlex.quote(_checked(interface))
    paths = " ".join(shlex.quote(path) for path in files)
    socket = shlex.quote(f"{SOCKET_DIR}/{interface}.sock")
    binary = shlex.quote(userspace_binary)
    return f"""set -u
command -v wg >/dev/null 2>&1 || {{ echo "missing=wg"; exit 0; }}
public=$({ensure_key(interface)}) || exit $?
echo "public_key=$public"
echo "init=$(cat /proc/1/comm 2>/dev/null || echo unknown)"
echo "forwarding=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 0)"
for f in {paths}; do
  [ -f "$f" ] && echo "file=$f $(stat -c %a "$f") $(sha256sum < "$f" | cut -c1-64)"
done
if ip link show dev {iface} >/dev/null 2>&1; then
  if [ -S {socket} ]; then echo implementation=userspace; else echo implementation=kernel; fi
  echo running=1
  up=0; ip -o link show dev {iface} | grep -q '[<,]UP[,>]' && up=1; echo "link_up=$up"
  echo "address=$(ip -o -4 address show dev {iface} | awk '{{print $4; exit}}')"
  echo {shlex.quote(DUMP_MARKER)}
  {show_dump(interface)}
else
  if ip link add dev sloth-wgprobe type wireguard 2>/dev/null; then
    ip link del dev sloth-wgprobe; echo implementation=kernel
  elif command -v {binary} >/dev/null 2>&1 && [ -c /dev/net/tun ]; then
    echo implementation=userspace
  else
    echo implementation=none
  fi
  echo running=0
fi
"""


def write_file(path: str, content: str, mode: str = "600") -> str:
    """Write ``content`` (no secrets: it travels in the command) to ``path`` atomically, only
    when it differs; prints ``changed <path>`` when it did."""
    if "\nSLOTH_EOF\n" in f"\n{content}":
        raise ValueError("content contains the heredoc terminator")
    target = shlex.quote(path)
    body = content if content.endswith("\n") else content + "\n"
    return (
        f"mkdir -p $(dirname {target}) && "
        f"cat > {target}.new <<'SLOTH_EOF'\n{body}SLOTH_EOF\n"
        f"chmod {mode} {target}.new && "
        f"if cmp -s {target}.new {target}; then rm -f {target}.new; "
        f"else mv -f {target}.new {target} && echo changed {target}; fi"
    )


def ping_matrix(targets: Sequence[tuple[str, str]], *, deadline: int = 2) -> str:
    """Ping every ``(name, address)`` in parallel from the node; prints ``name ok|fail`` per
    target. Each ping stops at the first reply or after ``deadline`` seconds."""
    items = " ".join(shlex.quote(f"{name}={address}") for name, address in targets)
    return (
        f"for target in {items}; do "
        "( name=${target%%=*}; address=${target#*=}; "
        f'if ping -n -q -c 1 -i 0.2 -w {int(deadline)} "$address" >/dev/null 2>&1; '
        'then echo "$name ok"; else echo "$name fail"; fi ) & '
        "done; wait"
    )
