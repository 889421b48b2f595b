"""The secrets sweep on real nodes (#13): a K3s, then an RKE2 cluster on local hosts (systemd, a
real wireguard-go mesh, the **distribution twin** — a sloth twin, not the real distribution),
brought up by the real CLI with every kind of secret planted, then every place a secret could land
is grepped.

Planted or generated, each recognisable (random per run): the state passphrase, etcd's S3 access
and secret keys (cloud credentials, from ``${env:…}``), the operator's SSH private key, the cluster
token the distro phase generates, the admin kubeconfig's client key, and each node's WireGuard
private key (generated on the node). Searched:

* everything written on each node (its disk overlay and its tmpfs ``/run``, ``/tmp``,
  ``/dev/shm``): only the files :func:`allowed_holders` lists may hold a secret, and those 0600;
* every file uploaded over SFTP, stat'ed the moment the upload finished: one holding a secret
  must never have been readable by anyone but its owner, not even until the next ``chmod``;
* every command sent over SSH (the argv of the node's shell) and every process's argv on the
  machine and in the hosts, sampled every 20 ms during the run;
* every line printed (``--debug`` logs, ``plan -o json``, ``status``, ``audit log``, ``state
  show``/``history``), every file under the data and temp directories, ``render --out``.

The agent token and kubeadm's bootstrap token and certificate key are not in this leg: sloth-
kubernetes gives K3s agents the cluster token (no separate agent token), and kubeadm has no twin
that runs on hosts (its rendered files are swept in ``test_render_secrets``).
"""

from __future__ import annotations

import fnmatch
import os
import secrets
import tempfile
from pathlib import Path

import pytest
from sloth_kubernetes.api.distro import installer_for
from sloth_kubernetes.testing import distro_twin, sweep

pytestmark = [pytest.mark.hosts, pytest.mark.slow, pytest.mark.timeout(900)]


def allowed_holders(installer) -> dict[str, set[str]]:
    """Node files allowed to hold a secret (path pattern → kinds), each of them 0600. The
    twin's own files are what the distribution itself writes there (server/token, the admin
    kubeconfig, its client key)."""
    data = installer.data_dir
    return {
        installer.config_path: {"cluster token", "s3 access key", "s3 secret key"},
        f"{data}/server/token": {"cluster token"},
        installer.kubeconfig_path: {"kubeconfig client key"},
        f"{data}/server/tls/client-admin.key": {"kubeconfig client key"},
        "/etc/wireguard/*.key": {"wireguard private key"},
    }


#: Operator-side files allowed to hold secrets: the encrypted store and its key file.
STATE_FILES = ("state.db", "state.db-wal", "state.db-shm", "state.key")


def _pem_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) >= 16 and "-----" not in line]


def _kubeconfig_key(kubeconfig: str) -> str:
    import base64

    from ruamel.yaml import YAML

    document = YAML(typ="safe").load(kubeconfig)
    return base64.b64decode(document["users"][0]["user"]["client-key-data"]).decode()


@pytest.fixture
def with_ssh_provider(sloth_manager, register_plugin):
    """The plugin manager with the ``ssh`` provider (machines you already have) registered."""
    if not sloth_manager.pm.has_plugin("ssh"):
        from sloth_provider_ssh import plugin

        register_plugin(plugin.PLUGIN, "ssh")
    return sloth_manager


@pytest.mark.parametrize("distro", ["k3s", "rke2"])
def test_no_secret_leaves_its_files_on_twin_nodes(
    distro, local_hosts, with_ssh_provider, sloth_cli, tmp_path, monkeypatch
):
    installer = installer_for(distro, with_ssh_provider)
    allowed_files = allowed_holders(installer)
    planted = {
        "passphrase": "pp-" + secrets.token_urlsafe(24),
        "s3 access key": "AKIA" + secrets.token_hex(10).upper(),
        "s3 secret key": "s3s-" + secrets.token_urlsafe(30),
    }
    monkeypatch.setenv("SLOTH_STATE_PASSPHRASE", planted["passphrase"])
    monkeypatch.setenv("SWEEP_S3_ACCESS", planted["s3 access key"])
    monkeypatch.setenv("SWEEP_S3_SECRET", planted["s3 secret key"])
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))

    bundle = distro_twin.twin_bundle(installer, tmp_path / "bundle")
    assert sloth_cli("artifacts", "import", str(bundle)).exit_code == 0
    hosts = local_hosts(2, mode="systemd")
    config = tmp_path / "sweep.yaml"
    s3 = {
        "bucket": "snapshots",
        "accessKey": "${env:SWEEP_S3_ACCESS}",
        "secretKey": "${env:SWEEP_S3_SECRET}",
    }
    config.write_text(
        distro_twin.ssh_cluster_config(
            "sweep",
            hosts,
            [("servers", 1, "server"), ("agents", 1, "agent")],
            kubernetes={
                "distribution": distro,
                distro: {"readyTimeout": 120, "snapshots": {"s3": s3}},
            },
        )
    )
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state = ("--state", f"sqlite:///{state_dir / 'state.db'}")
    shown: list[sweep.Artefact] = []

    def run(*args: str) -> None:
        result = sloth_cli(*state, *args)
        shown.append(sweep.text(f"output of {' '.join(args[:3])}", result.stdout + result.stderr))
        assert result.exit_code == 0, (args, result.stdout, result.stderr)

    kubeconfig = tmp_path / "sweep.kubeconfig"
    with sweep.ArgvSampler() as sampled, sweep.RemoteCommands() as sent, sweep.SftpUploads() as up:
        run("--debug", "-o", "json", "plan", "-f", str(config))
        run("--debug", "--yes", "up", "-f", str(config), "--no-progress")
        run("--debug", "--yes", "up", "-f", str(config), "--no-progress")  # converged re-run
        run("--debug", "-o", "json", "status", "sweep")
        run("--debug", "-o", "json", "plan", "-f", str(config))
        run("--debug", "kubeconfig", "sweep", "-o", str(kubeconfig))
        run("--debug", "-o", "json", "state", "show", "sweep")
        run("--debug", "state", "history", "sweep")
        run("--debug", "-o", "json", "audit", "log", "sweep")
        run("--debug", "render", "-f", str(config), "--out", str(tmp_path / "rendered"))

    # the secrets the run generated, read where they are meant to be
    from sloth_kubernetes.distro import credentials
    from sloth_kubernetes.state import open_store

    with open_store(f"sqlite:///{state_dir / 'state.db'}") as store:
        token = store.get_secret("sweep", credentials.TOKEN_SECRET)
    assert token is not None
    needles = {**planted, "cluster token": token.reveal()}
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    for index, line in enumerate(_pem_lines(_kubeconfig_key(kubeconfig.read_text()))):
        needles[f"kubeconfig client key line {index}"] = line
    for index, line in enumerate(_pem_lines(hosts[0].private_key.read_text())):
        needles[f"operator key line {index}"] = line
    node_files = {
        h.name: list(sweep.host_files(h.host.root_dir / "ovl/root/upper", h.host.init_pid))
        for h in hosts
    }
    wireguard = {}
    for name, files in node_files.items():
        keys = [f for f in files if fnmatch.fnmatch(f.where, "/etc/wireguard/*.key")]
        assert len(keys) == 1, (name, [f.where for f in keys])
        wireguard[name] = keys[0].content.decode().strip()
        needles[f"wireguard private key of {name}"] = wireguard[name]

    def kind(needle_kind: str) -> str:
        if needle_kind.startswith("kubeconfig client key"):
            return "kubeconfig client key"
        if needle_kind.startswith("wireguard private key"):
            return "wireguard private key"
        return needle_kind

    problems: list[str] = []
    # on the nodes: only the allowed files, 0600, and a WireGuard key only on its own node
    for name, files in node_files.items():
        for found_kind, holders in sweep.exposures(needles, files).items():
            for holder in holders:
                allowed = {
                    k
                    for pattern, kinds in allowed_files.items()
                    if fnmatch.fnmatch(holder.where, pattern)
                    for k in kinds
                }
                own_key = (
                    found_kind != f"wireguard private key of {name}"
                    and found_kind.startswith("wireguard")
                )
                if kind(found_kind) not in allowed or own_key:
                    problems.append(f"{found_kind} in {name}:{holder.where}")
                elif holder.mode != 0o600:
                    problems.append(f"{found_kind} in {name}:{holder.where} mode {holder.mode:o}")
    # uploads: a file holding a secret is never readable by others, even before its chmod
    for upload in up.uploads:
        held = sweep.exposures(needles, [sweep.Artefact(upload.path, upload.content)])
        if held and upload.mode & 0o077:
            problems.append(f"{sorted(held)} uploaded to {upload.path} with mode {upload.mode:o}")
    # argv (sampled and every command sent over SSH), output, operator-side files
    operator = [
        *sampled.artefacts(),
        *sent.artefacts(),
        *shown,
        *sweep.files_under(Path(os.environ["SLOTH_DATA_DIR"]), tmp_path, skip=STATE_FILES),
    ]
    for found_kind, holders in sweep.exposures(needles, operator).items():
        for holder in holders:
            if holder.where == str(kubeconfig) and kind(found_kind) == "kubeconfig client key":
                continue  # the kubeconfig the user asked for, 0600 (checked above)
            if holder.where.startswith(str(tmp_path / "bundle")):
                continue
            problems.append(f"{found_kind} in {holder.where}")
    assert problems == [], "\n".join(problems)

    # and the sweep looked where it claims to
    assert sampled.samples > 50
    assert any(distro in a for a in sampled.seen)
    assert len(sent.commands) > 20
    assert any(distro in u.path for u in up.uploads)  # the release
    for host in hosts:  # the config holds the token (written 0600 from the start, see above)
        (config_file,) = [f for f in node_files[host.name] if f.where == installer.config_path]
        assert token.reveal().encode() in config_file.content
        assert len(distro_twin.starts(host)) == 1  # the converged re-run rewrote nothing
    assert any(f.where.startswith("/run/") for f in node_files[hosts[0].name])
    assert (tmp_path / "rendered" / "nodes").is_dir()
