"""A secrets sweep: plant every kind of secret, run the commands that write things, and grep every
artefact they leave — output and ``--debug`` logs, saved plans, exports, crash logs, files in the
data and temp directories, and every process's argv sampled during the run — finding none.

This leg runs the engine with the dummy provider, mesh and distro (no machines): the secrets are
the state passphrase, a cloud token from ``${env:…}``, the generated operator SSH key, and a
kubeconfig (client key and token) and WireGuard private keys stored the way the distro and mesh
plugins store them. Allowed to hold them, and listed here: the encrypted state store itself.
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from sloth_kubernetes.config import Reference
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.registry import Component, ConfigBlock
from sloth_kubernetes.state import open_store
from sloth_kubernetes.testing import sweep
from sloth_kubernetes.testing.plugin import DUMMY_CLUSTER

#: Files allowed to hold secrets, because holding them encrypted is their job.
ALLOWED = ("state.db", "state.db-wal", "state.db-shm", "state.key")


@attrs.frozen
class VaultSettings:
    token: Reference


class TokenCloud:
    """A configured provider block whose token comes from the environment (resolved and
    registered as a secret when the config loads), and a distro hook that crashes when asked,
    quoting the token — the bug a crash log must not carry out."""

    crash = False

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register(Component("provider", "tokencloud", "a provider needing a token"))

    @hookimpl
    def register_config_models(self, register: Any) -> None:
        register(ConfigBlock("providers", "tokencloud", VaultSettings))

    @hookimpl
    def install_distro(self, context: Any, distro: str, nodes: Any) -> None:
        settings = context.config.spec.providers["tokencloud"].settings
        if self.crash:
            raise RuntimeError(f"cannot talk to the API with {settings.token.resolve().reveal()}")


def _pem_body(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) >= 16 and "-----" not in line]


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Every kind of secret, random per run, so finding one anywhere can only mean a leak."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, x25519

    client_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    wg_key = base64.b64encode(
        x25519.X25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    ).decode()
    found = {
        "passphrase": "pp-" + secrets.token_urlsafe(24),
        "cloud token": "tok-" + secrets.token_hex(24),
        "kubeconfig token": "K10" + secrets.token_hex(24) + "::server:" + secrets.token_hex(16),
        "kubeconfig client key": base64.b64encode(client_key).decode(),
        "wireguard private key": wg_key,
    }
    monkeypatch.setenv("SLOTH_STATE_PASSPHRASE", found["passphrase"])
    monkeypatch.setenv("SWEEP_CLOUD_TOKEN", found["cloud token"])
    (tmp_path / "tmp").mkdir()  # the temp directory, swept with the rest
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return found


def _needles(planted: dict[str, str], operator_key: str) -> dict[str, str]:
    needles = dict(planted)
    for index, line in enumerate(_pem_body(operator_key)):
        needles[f"operator key line {index}"] = line
    return needles


@pytest.fixture
def argv_sampler() -> Iterator[sweep.ArgvSampler]:
    """Every process's argv on this machine, sampled every 20 ms while the test runs."""
    with sweep.ArgvSampler() as sampler:
        yield sampler


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_no_secret_in_any_artefact(
    sloth_cli: Any,
    config_factory: Any,
    dummy_provider: Any,
    dummy_cluster: Any,
    register_plugin: Any,
    planted: dict[str, str],
    argv_sampler: sweep.ArgvSampler,
    tmp_path: Path,
) -> None:
    cloud = TokenCloud()
    register_plugin(cloud, "tokencloud")
    data = Path(os.environ["SLOTH_DATA_DIR"])
    state_url = f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    (tmp_path / "state").mkdir()
    config = config_factory(
        {
            **DUMMY_CLUSTER,
            "spec": {
                **DUMMY_CLUSTER["spec"],
                "providers": {"dummy": {}, "tokencloud": {"token": "${env:SWEEP_CLOUD_TOKEN}"}},
            },
        }
    )
    with open_store(state_url) as store:  # what the distro and mesh plugins keep
        store.put_secret("test", "kubeconfig/admin", (
            "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
            f"    token: {planted['kubeconfig token']}\n"
            f"    client-key-data: {planted['kubeconfig client key']}\n"
        ))  # fmt: skip
        store.put_secret("test", "wireguard/test-server-1", planted["wireguard private key"])
    shown: list[str] = []

    def run(*args: str, code: int = 0) -> None:
        result = sloth_cli("--state", state_url, *args)
        shown.extend([result.stdout, result.stderr])
        assert result.exit_code == code, (args, result.stdout, result.stderr)

    run("--debug", "plan", "-f", str(config), "--out", str(tmp_path / "saved.plan"))
    cloud.crash = True  # a bug in the distro phase: exit 70 and a crash log
    run("--debug", "up", "-f", str(config), "--yes", code=70)
    cloud.crash = False
    run("--debug", "up", "-f", str(config), "--yes")  # resumes
    run("--debug", "up", "-f", str(config), "--yes")  # the no-op re-run logs too
    run("--debug", "-o", "json", "state", "show", "test")
    run("--debug", "state", "history", "test")
    run("--debug", "state", "export", "test", "-o", str(tmp_path / "export.json"))
    run("--debug", "-o", "json", "nodes", "list", "test")

    with open_store(state_url) as store:
        operator = store.get_secret("test", "operator/ssh-private-key")
    assert operator is not None
    needles = _needles(planted, operator.reveal())
    crash_logs = list((data / "logs").glob("crash-*.log"))
    assert crash_logs, "the forced crash wrote no crash log"
    artefacts = [
        *(sweep.text(f"output {i}", text) for i, text in enumerate(shown)),
        *sweep.files_under(data, tmp_path, skip=ALLOWED),
        *argv_sampler.artefacts(),
    ]
    found = sorted(
        f"{kind} in {holder.where}"
        for kind, holders in sweep.exposures(needles, artefacts).items()
        for holder in holders
    )
    assert found == [], found
    # and the sweep looked where it claims to
    assert any("crash-" in artefact.where for artefact in artefacts)
    assert (tmp_path / "saved.plan").is_file()
    assert (tmp_path / "export.json").is_file()
    assert argv_sampler.samples > 0
    assert tempfile.gettempdir() == str(tmp_path / "tmp")
