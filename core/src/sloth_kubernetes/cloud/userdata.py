"""cloud-init user data: install the operator key, and give the machine a host key we know.

Pinning before the first connection needs the machine's SSH host key before anyone connects.
Clouds with a console-output API (AWS, GCE, Azure, OpenStack) can *report* it — cloud-init
prints the keys between ``-----BEGIN SSH HOST KEY KEYS-----`` markers, read back with
:func:`parse_console_host_keys` — but DigitalOcean, Hetzner, Linode and Vultr have no such API.
So every cloud plugin uses one mechanism that works everywhere and that the emulators exercise:
the tool generates the node's ed25519 host key (:func:`new_host_key`), hands it to cloud-init in
``ssh_keys`` (cloud-init installs it instead of generating one), and records the public half as
the node's pinned ``host_key`` when the machine is created. The private half exists only in
memory and in the user data sent over TLS to the cloud; it is registered for redaction and never
stored. docs/providers/README.md discusses the trade-off (user data is readable from the instance
metadata service) and the console cross-check on clouds that have one.

The user data carries keys only — no ``packages:``, no commands: the machine boots as the stock
image it is, and the prepare phase installs what a node needs with the node's own apt (so one
path installs packages on every provider, and its errors name node, package and fix).
"""

from __future__ import annotations

import re

import attrs

from ..secrets import Secret, register

_CONSOLE_BLOCK = re.compile(
    r"-----BEGIN SSH HOST KEY KEYS-----\s*(.*?)\s*-----END SSH HOST KEY KEYS-----", re.DOTALL
)


@attrs.frozen
class HostKey:
    """A node's SSH host key pair: ``public`` (``ssh-ed25519 AAAA…``) is pinned in the state."""

    public: str
    private: Secret


def new_host_key() -> HostKey:
    """A fresh ed25519 host key; the private half is registered for redaction."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    register(private)
    return HostKey(public=public, private=Secret(private, source="host key"))


def cloud_config(*, operator_key: str, host_key: HostKey, hostname: str) -> str:
    """The ``#cloud-config`` document for one node.

    Root login with the operator key only (the engine connects as root), no passwords, the
    generated host key installed in place of cloud-init's own.
    """
    private = host_key.private.reveal()
    indented = "\n".join("      " + line for line in private.strip().splitlines())
    return (
        "#cloud-config\n"
        f"hostname: {hostname}\n"
        "disable_root: false\n"
        "ssh_pwauth: false\n"
        "ssh_deletekeys: true\n"
        "ssh_genkeytypes: []\n"
        "ssh_authorized_keys:\n"
        f"  - {operator_key.strip()}\n"
        "ssh_keys:\n"
        "  ed25519_private: |\n"
        f"{indented}\n"
        f"  ed25519_public: {host_key.public}\n"
    )


def public_host_key_in(user_data: str) -> str | None:
    """The ``ed25519_public`` host key a cloud-config document installs (for tests/checks)."""
    match = re.search(r"^\s*ed25519_public:\s*(\S+ \S+)", user_data, re.MULTILINE)
    return match.group(1) if match else None


def parse_console_host_keys(console: str) -> list[str]:
    """The host keys cloud-init printed on the console (``type base64`` lines), newest block."""
    blocks = _CONSOLE_BLOCK.findall(console)
    if not blocks:
        return []
    keys = []
    for line in blocks[-1].splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(("ssh-", "ecdsa-")):
            keys.append(f"{parts[0]} {parts[1]}")
    return keys
