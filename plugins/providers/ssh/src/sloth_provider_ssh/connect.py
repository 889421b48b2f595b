"""The system ``ssh`` client with pinned host keys: reachability checks, key scans, commands.

Every connection uses ``-F none`` (the user's ssh config cannot change what we check),
``StrictHostKeyChecking=yes`` and a pin file holding exactly the keys we decided to trust, looked
up by ``HostKeyAlias`` = the host's name, so an address reused by another machine is never
confused with the one we pinned. ``HostKeyAlgorithms`` is restricted to the pinned key's type,
so the key ssh verifies is exactly the key recorded.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import attrs

from .resolve import Target

_ALGORITHMS = {"ssh-rsa": "rsa-sha2-512,rsa-sha2-256,ssh-rsa"}
_SCAN_TYPES = {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}
_KEY_CHANGED = (
    "Host key verification failed",
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "HOST KEY FOR",
    "host key for",
)
_UNREACHABLE = (
    "Connection refused",
    "Connection timed out",
    "timed out",
    "No route to host",
    "Could not resolve hostname",
    "Network is unreachable",
    "Connection closed",
    "kex_exchange_identification",
    "port 65535",
)


@attrs.frozen
class Pins:
    """Where the pinned keys are (a 0600 file) and which key each alias is pinned to."""

    file: Path
    keys: dict[str, str]  # alias → "type base64"


@attrs.frozen
class Outcome:
    """What a command over ssh did: ``problem`` is None, key-changed, unreachable, auth or
    command (the command ran and failed)."""

    exit_status: int
    output: str
    problem: str | None


def _options(target: Target, pins: Pins, timeout: int) -> list[str]:
    key_type = pins.keys[target.alias].split()[0]
    options = [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={pins.file}",
        "-o",
        f"GlobalKnownHostsFile={pins.file}",
        "-o",
        f"HostKeyAlias={target.alias}",
        "-o",
        f"HostKeyAlgorithms={_ALGORITHMS.get(key_type, key_type)}",
        "-o",
        "UpdateHostKeys=no",
        "-o",
        f"ConnectTimeout={timeout}",
        "-o",
        "LogLevel=ERROR",
        "-p",
        str(target.port),
        "-l",
        target.user,
    ]
    if target.key is not None:
        options += ["-i", str(target.key), "-o", "IdentitiesOnly=yes"]
    return options


def _escape(argument: str) -> str:
    return argument.replace("%", "%%")  # ssh expands %-tokens in ProxyCommand


def ssh_argv(target: Target, pins: Pins, command: str, *, timeout: int = 10) -> list[str]:
    """argv that runs ``command`` on ``target`` (through its bastion), host keys pinned."""
    argv = ["ssh", "-F", "none", *_options(target, pins, timeout)]
    if target.bastion is not None:
        jump = [
            "ssh",
            "-F",
            "none",
            *_options(target.bastion, pins, timeout),
            "-W",
            "[%h]:%p",
            "--",
            target.bastion.address,
        ]
        proxy = " ".join(a if a == "[%h]:%p" else shlex.quote(_escape(a)) for a in jump)
        argv += ["-o", f"ProxyCommand={proxy}"]
    return [*argv, "--", target.address, command]


def run(target: Target, pins: Pins, command: str, *, timeout: int = 10) -> Outcome:
    """Run ``command``; classify a failure as key-changed, unreachable, auth or command."""
    try:
        done = subprocess.run(
            ssh_argv(target, pins, command, timeout=timeout),
            capture_output=True,
            text=True,
            timeout=timeout * 3 + 30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return Outcome(255, f"no answer within {timeout * 3 + 30} s", "unreachable")
    output = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        return Outcome(0, output, None)
    if done.returncode != 255:
        return Outcome(done.returncode, output, "command")
    if any(marker in done.stderr for marker in _KEY_CHANGED):
        return Outcome(255, output, "key-changed")
    if "Permission denied" in done.stderr or "Too many authentication failures" in done.stderr:
        return Outcome(255, output, "auth")
    if "no matching host key type" in done.stderr:
        return Outcome(255, output, "key-type")
    return Outcome(255, output, "unreachable")


def keyscan(
    target: Target, key_type: str, *, via: Pins | None = None, timeout: int = 10
) -> str | None:
    """The ``key_type`` host key ``target`` presents now (``None`` if it offers none).

    Behind a bastion the scan runs *on* the bastion (reached with its pinned key), since
    ssh-keyscan cannot tunnel. The result is unauthenticated: trust it only on first use.
    """
    scan_type = "ecdsa" if key_type.startswith("ecdsa-") else _SCAN_TYPES.get(key_type, key_type)
    scan = [
        "ssh-keyscan",
        "-T",
        str(timeout),
        "-t",
        scan_type,
        "-p",
        str(target.port),
        target.address,
    ]
    if target.bastion is not None:
        if via is None:
            return None
        outcome = run(target.bastion, via, shlex.join(scan), timeout=timeout)
        text = outcome.output if outcome.problem is None else ""
    else:
        try:
            done = subprocess.run(
                scan,
                capture_output=True,
                text=True,
                timeout=timeout + 10,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return None
        text = done.stdout
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#") and fields[1] == key_type:
            return f"{fields[1]} {fields[2]}"
    return None
