"""Real-cloud end-to-end runs: the clouds, their credential variables, and the leftover check.

Shared by ``test_cloud_e2e.py`` (opt-in, ``-m e2e``) and the workflow: ``require CLOUD`` fails
when the cloud's secrets are not set; the always-run ``cleanup DIR`` destroys every cluster whose
config a test wrote to ``DIR`` and fails when anything tagged with it is left at its provider.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: cloud → credential variables (all must be set) and the provider block (references only).
CLOUDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "hetzner": (("HCLOUD_TOKEN",), {"region": "fsn1"}),
    "digitalocean": (("DIGITALOCEAN_TOKEN",), {"region": "fra1"}),
    "aws": (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), {"region": "eu-west-1"}),
    "linode": (("LINODE_TOKEN",), {"region": "eu-central"}),
    "vultr": (("VULTR_API_KEY",), {"region": "fra"}),
    "gcp": (("GOOGLE_APPLICATION_CREDENTIALS",), {"region": "europe-west1"}),
    "azure": (
        ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_SUBSCRIPTION_ID"),
        {"region": "westeurope"},
    ),
}
DISTROS = ("k3s", "rke2")
#: Small but enough for RKE2's server (its documented minimum is 2 CPU / 4 GiB).
SIZE = {"cpu": 2, "memoryGiB": 4}


def missing_credentials(cloud: str) -> list[str]:
    return [name for name in CLOUDS[cloud][0] if not os.environ.get(name)]


def cluster_name(cloud: str, distro: str) -> str:
    run = os.environ.get("GITHUB_RUN_ID") or str(os.getpid())
    return f"e2e-{cloud[:5]}-{distro}-{run}"[:40].rstrip("-")


def config_text(cloud: str, distro: str, name: str) -> str:
    """One server and one agent on ``cloud`` running ``distro``; credentials stay references
    (each provider's defaults read the variables in :data:`CLOUDS`)."""
    from ruamel.yaml import YAML

    document = {
        "apiVersion": "sloth-kubernetes.io/v1beta1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "providers": {cloud: dict(CLOUDS[cloud][1])},
            "nodePools": [
                {"name": role, "provider": cloud, "count": 1, "roles": [role], "size": dict(SIZE)}
                for role in ("server", "agent")
            ],
            "mesh": {"type": "wireguard"},
            "kubernetes": {"distribution": distro},
        },
    }
    stream = io.StringIO()
    YAML().dump(document, stream)
    return stream.getvalue()


def sloth(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sloth_kubernetes.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def leftovers(config_path: Path) -> list[str]:
    """Machines still tagged with the config's cluster at its providers (``list_nodes``: every
    provider lists by the cluster tag it puts on what it creates)."""
    from sloth_kubernetes import api
    from sloth_kubernetes.context import ClusterContext
    from sloth_kubernetes.paths import data_dir

    manager = api.plugin_manager()
    config = api.load([config_path], manager=manager)
    with api.open_state() as store:
        context = ClusterContext(config=config, state=store, data_dir=data_dir())
        providers = sorted({pool.provider for pool in config.spec.node_pools})
        return [
            f"{provider}: {node.name} ({node.cloud_id})"
            for provider in providers
            for node in manager.hooks.list_nodes(context, provider)
        ]


def cleanup(directory: Path) -> int:
    """Destroy every cluster a test left a config for in ``directory``; 1 if anything remains."""
    from sloth_kubernetes import api

    failed = 0
    for path in sorted(directory.glob("*.yaml")):
        name = api.load([path]).name
        gone = sloth("--yes", "destroy", name)
        print(f"{name}: destroy exit {gone.returncode} {gone.stdout.strip()} {gone.stderr.strip()}")
        left = leftovers(path)
        for line in left:
            print(f"LEFT OVER {line}")
        failed |= bool(left)
    return 1 if failed else 0


def require(cloud: str) -> int:
    """Exit status 1 naming what is missing: a matrix job without its secrets must fail, not
    pass as a skipped test."""
    if cloud not in CLOUDS:
        print(f"unknown cloud {cloud!r}; known: {', '.join(CLOUDS)}")
        return 1
    missing = missing_credentials(cloud)
    if missing:
        print(f"{cloud}: the secrets for {', '.join(missing)} are not set in this repository")
        return 1
    return 0


if __name__ == "__main__":
    commands = {"cleanup": lambda arg: cleanup(Path(arg)), "require": require}
    if len(sys.argv) != 3 or sys.argv[1] not in commands:
        sys.exit("usage: python tests/e2e/e2e_clouds.py cleanup DIR | require CLOUD")
    sys.exit(commands[sys.argv[1]](sys.argv[2]))
