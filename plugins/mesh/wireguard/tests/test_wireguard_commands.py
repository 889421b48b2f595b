"""Node commands: run for real where no root is needed, with a recording `wg` where it is."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from sloth_mesh_wireguard import commands

needs_wg = pytest.mark.skipif(shutil.which("wg") is None, reason="needs wireguard-tools (wg)")


def sh(
    script: str, *, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=30,
    )


@needs_wg
def test_ensure_key_creates_a_0600_key_once_and_prints_only_the_public_key(tmp_path: Path) -> None:
    directory = tmp_path / "wireguard"
    first = sh(commands.ensure_key("wg-sloth", str(directory)))
    assert first.returncode == 0, first.stderr
    key_file = directory / "wg-sloth.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = key_file.read_text().strip()
    public = first.stdout.strip()
    assert len(base64.b64decode(public)) == 32
    assert private not in first.stdout + first.stderr
    again = sh(commands.ensure_key("wg-sloth", str(directory)))
    assert again.stdout.strip() == public  # never regenerated: peers keep trusting this node
    assert key_file.read_text().strip() == private


@pytest.fixture
def recording_wg(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A `wg` that records argv and stdin, and prints a dump with a private key in it."""
    log = tmp_path / "wg.log"
    fake = tmp_path / "bin" / "wg"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "argv: $*" >> {log}\n'
        f'if [ "$1" = syncconf ]; then cat "$3" | sed \'s/^/stdin: /\' >> {log}; fi\n'
        'if [ "$1" = show ]; then printf \'SECRETPRIVATEKEY=\\tPUB=\\t51820\\toff\\n'
        "PEER=\\t(none)\\t(none)\\t10.100.0.2/32\\t0\\t0\\t0\\t25\\n'; fi\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"}
    return env, log


def test_apply_config_feeds_the_key_through_stdin_never_argv(
    tmp_path: Path, recording_wg: tuple[dict[str, str], Path]
) -> None:
    env, log = recording_wg
    (tmp_path / "wg0.key").write_text("SECRETPRIVATEKEY=\n")
    (tmp_path / "wg0.conf").write_text("[Interface]\nListenPort = 51820\n")
    result = sh(commands.apply_config("wg0", str(tmp_path)), env=env)
    assert result.returncode == 0, result.stderr
    recorded = log.read_text()
    argv_lines = [line for line in recorded.splitlines() if line.startswith("argv:")]
    assert argv_lines == ["argv: syncconf wg0 /dev/stdin"]
    assert "stdin: [Interface]" in recorded
    assert "stdin: PrivateKey = SECRETPRIVATEKEY=" in recorded
    assert "stdin: ListenPort = 51820" in recorded
    assert "SECRETPRIVATEKEY" not in commands.apply_config("wg0", str(tmp_path))


def test_show_dump_hides_the_private_key_before_it_leaves_the_node(
    recording_wg: tuple[dict[str, str], Path],
) -> None:
    env, _ = recording_wg
    result = sh(commands.show_dump("wg0"), env=env)
    assert result.returncode == 0, result.stderr
    assert "SECRETPRIVATEKEY" not in result.stdout
    assert result.stdout.splitlines() == [
        "(hidden)\tPUB=\t51820\toff",
        "PEER=\t(none)\t(none)\t10.100.0.2/32\t0\t0\t0\t25",
    ]


def test_show_dump_fails_when_wg_fails(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no wg at all
    assert sh(commands.show_dump("wg0"), env=env).returncode != 0


def test_install_config_writes_stdin_to_a_0600_file(tmp_path: Path) -> None:
    result = sh(commands.install_config("wg0", str(tmp_path)), stdin="[Interface]\n")
    assert result.returncode == 0, result.stderr
    written = tmp_path / "wg0.conf"
    assert written.read_text() == "[Interface]\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_ensure_interface_tries_the_kernel_module_then_wireguard_go() -> None:
    script = commands.ensure_interface("wg-sloth")
    kernel = script.index("ip link add dev wg-sloth type wireguard")
    userspace = script.index("nohup setsid wireguard-go -f wg-sloth")
    assert kernel < userspace
    assert "/var/run/wireguard/wg-sloth.sock" in script
    assert script.rstrip().endswith(
        f"then echo {commands.USERSPACE}; else echo {commands.KERNEL}; fi"
    )
    assert sh(f"sh -n -c {__import__('shlex').quote(script)}").returncode == 0  # valid sh syntax


def test_set_peers_joins_argv_lists_quoted() -> None:
    assert commands.set_peers([]) == ""
    script = commands.set_peers([["wg", "set", "wg0", "peer", "a+b/c=", "remove"]])
    assert script == "set -e; wg set wg0 peer a+b/c= remove"


@pytest.mark.parametrize("name", ["wg0; reboot", "$(id)", "", "a" * 16, "-x"])
def test_unsafe_interface_names_are_refused(name: str) -> None:
    for build in (
        commands.ensure_key,
        commands.ensure_interface,
        commands.apply_config,
        commands.show_dump,
    ):
        with pytest.raises(ValueError, match="not a valid interface name"):
            build(name)


def test_configure_address_is_idempotent_and_sets_mtu() -> None:
    assert commands.configure_address("wg0", "10.100.0.7/16", 1420) == (
        "set -eu; ip address replace 10.100.0.7/16 dev wg0; ip link set dev wg0 mtu 1420 up"
    )
