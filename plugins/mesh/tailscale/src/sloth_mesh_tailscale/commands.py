"""Shell commands for Tailscale on a node: install, join, read the address.

The auth key never appears on a command line: the plugin uploads it over SFTP to a 0600 file
(:data:`KEY_FILE`), ``tailscale up`` reads it with ``--auth-key=file:PATH``, and the join script
removes the file whatever happens.
"""

from __future__ import annotations

import shlex

from .model import TailscaleMeshSpec

STATIC_BASE = "https://pkgs.tailscale.com/stable"
KEY_FILE = "/run/sloth-tailscale.authkey"


def install(spec: TailscaleMeshSpec, arch: str = "amd64") -> str:
    """Install tailscale(d) if absent: the official apt repository, or a pinned, checksummed
    static tarball (binaries to /usr/local/bin, the systemd unit from the tarball)."""
    if spec.install == "package":
        pin = "=${TS_VERSION}" if spec.version else ""
        version = f"TS_VERSION={shlex.quote(spec.version)}; " if spec.version else ""
        return (
            "set -eu; command -v tailscale >/dev/null 2>&1 && exit 0; "
            f"{version}. /etc/os-release; "
            f'curl -fsSL "{STATIC_BASE}/$ID/$VERSION_CODENAME.noarmor.gpg" '
            "-o /usr/share/keyrings/tailscale-archive-keyring.gpg; "
            f'curl -fsSL "{STATIC_BASE}/$ID/$VERSION_CODENAME.tailscale-keyring.list" '
            "-o /etc/apt/sources.list.d/tailscale.list; "
            "apt-get update -q; "
            f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q tailscale{pin}; "
            "systemctl enable --now tailscaled"
        )
    assert spec.version is not None
    assert spec.checksum is not None
    name = f"tailscale_{spec.version}_{arch}"
    url = f"{STATIC_BASE}/{name}.tgz"
    return (
        "set -eu; "
        f"if tailscale version 2>/dev/null | head -n1 | grep -qx {shlex.quote(spec.version)}; "
        "then exit 0; fi; "
        "work=$(mktemp -d); trap 'rm -rf \"$work\"' EXIT; "
        f'curl -fsSL {shlex.quote(url)} -o "$work/ts.tgz"; '
        f'echo {shlex.quote(spec.checksum + "  ")}"$work/ts.tgz" | sha256sum -c --quiet; '
        'tar -xzf "$work/ts.tgz" -C "$work"; '
        f'install -m 0755 "$work/{name}/tailscale" "$work/{name}/tailscaled" /usr/local/bin/; '
        f'install -m 0644 "$work/{name}/systemd/tailscaled.service" /etc/systemd/system/; '
        "sed -i 's#/usr/sbin/tailscaled#/usr/local/bin/tailscaled#' "
        "/etc/systemd/system/tailscaled.service; "
        "touch /etc/default/tailscaled; systemctl daemon-reload; "
        "systemctl enable --now tailscaled"
    )


def up_argv(spec: TailscaleMeshSpec, hostname: str) -> list[str]:
    """``tailscale up`` arguments; the key is read from :data:`KEY_FILE`, never an argument."""
    argv = ["tailscale", "up", f"--auth-key=file:{KEY_FILE}", f"--hostname={hostname}"]
    if spec.login_server:
        argv.append(f"--login-server={spec.login_server}")
    if spec.tags:
        argv.append("--advertise-tags=" + ",".join(spec.tags))
    if spec.accept_routes:
        argv.append("--accept-routes")
    return argv


def join(spec: TailscaleMeshSpec, hostname: str) -> str:
    """Join the tailnet unless already logged in, reading the key from :data:`KEY_FILE` (put
    there by the plugin over SFTP, 0600) and removing it afterwards."""
    argv = shlex.join(up_argv(spec, hostname))
    return (
        f"set -eu; trap 'rm -f {KEY_FILE}' EXIT; "
        "if tailscale status --peers=false >/dev/null 2>&1; then exit 0; fi; "
        f"{argv}"
    )


def address() -> str:
    """The node's tailnet IPv4 address (``tailscale ip -4``)."""
    return "tailscale ip -4"
