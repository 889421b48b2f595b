"""Tailscale: no control server can run here, so these test the model and the exact commands
and operations the plugin sends (syntax-checked by a real shell)."""

from __future__ import annotations

import shlex
import subprocess

import pytest
from sloth_kubernetes.config.references import Reference
from sloth_mesh_tailscale import commands
from sloth_mesh_tailscale.model import TailscaleMeshSpec

CHECKSUM = "a" * 64


def syntax_ok(script: str) -> bool:
    return subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0


def test_defaults_install_from_the_package_repository_with_the_key_from_the_environment():
    spec = TailscaleMeshSpec()
    assert spec.install == "package"
    assert spec.auth_key == Reference("env", "TS_AUTHKEY")
    script = commands.install(spec)
    assert syntax_ok(script)
    assert "pkgs.tailscale.com/stable/$ID/$VERSION_CODENAME.noarmor.gpg" in script
    assert "apt-get install -y -q tailscale;" in script


def test_a_pinned_package_version_is_installed_exactly():
    script = commands.install(TailscaleMeshSpec(version="1.76.6"))
    assert "TS_VERSION=1.76.6" in script
    assert "tailscale=${TS_VERSION}" in script


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"install": "static"}, "pinned version"),
        ({"install": "static", "version": "1.76.6"}, "checksum"),
        ({"install": "static", "version": "1.76.6", "checksum": "abc"}, "checksum"),
        ({"version": "latest"}, "1.76.6"),
        ({"login_server": "http://headscale.example"}, "https://"),
        ({"tags": ["k8s"]}, "tag:"),
    ],
)
def test_invalid_settings_are_refused_with_the_key_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TailscaleMeshSpec(**kwargs)


def test_static_install_downloads_the_pinned_tarball_and_verifies_its_checksum():
    spec = TailscaleMeshSpec(install="static", version="1.76.6", checksum=CHECKSUM)
    script = commands.install(spec, arch="arm64")
    assert syntax_ok(script)
    assert "https://pkgs.tailscale.com/stable/tailscale_1.76.6_arm64.tgz" in script
    assert f"echo '{CHECKSUM}  '\"$work/ts.tgz\" | sha256sum -c --quiet" in script
    # The checksum is verified before anything is unpacked or installed.
    assert script.index("sha256sum -c") < script.index("tar -xzf") < script.index("install -m")


def test_static_install_refuses_a_tarball_with_another_checksum(tmp_path):
    spec = TailscaleMeshSpec(install="static", version="1.76.6", checksum=CHECKSUM)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "real.tgz").write_bytes(b"not the pinned tarball")
    # A stand-in `curl` that "downloads" a local file; nothing else of the script may run.
    (bin_dir / "curl").write_text(f'#!/bin/sh\ncp {tmp_path / "real.tgz"} "$4"\n')
    (bin_dir / "curl").chmod(0o755)
    (bin_dir / "tar").write_text(f"#!/bin/sh\ntouch {tmp_path / 'unpacked'}\n")
    (bin_dir / "tar").chmod(0o755)
    done = subprocess.run(
        ["sh", "-c", commands.install(spec)],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert not (tmp_path / "unpacked").exists()


def test_join_reads_the_key_from_a_file_never_from_argv_and_removes_it():
    spec = TailscaleMeshSpec(
        login_server="https://headscale.example.org", tags=["tag:k8s"], accept_routes=True
    )
    argv = commands.up_argv(spec, "demo-server-1")
    assert argv == [
        "tailscale", "up", f"--auth-key=file:{commands.KEY_FILE}", "--hostname=demo-server-1",
        "--login-server=https://headscale.example.org", "--advertise-tags=tag:k8s",
        "--accept-routes",
    ]  # fmt: skip
    script = commands.join(spec, "demo-server-1")
    assert syntax_ok(script)
    assert f"trap 'rm -f {commands.KEY_FILE}' EXIT" in script
    assert "tskey" not in script
    assert shlex.join(argv) in script


def test_the_plugin_registers_the_mesh_and_its_model(sloth_manager):
    catalog = sloth_manager.hooks.catalog()
    assert catalog.component("mesh", "tailscale") is not None
