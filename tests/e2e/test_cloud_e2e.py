"""Real clouds, real K3s and RKE2 (opt-in): ``pytest -m e2e tests/e2e``.

For every cloud whose credential variables are set (``e2e_clouds.CLOUDS``; references only, the
workflow maps GitHub secrets into them) and each distribution: ``up`` a 1 server + 1 agent
cluster (which downloads the pinned release and verifies its checksums), fetch the kubeconfig
(0600), see every node Ready through the API, ``destroy``, then list what the provider still has
tagged with the cluster: nothing may be left. Skipped without credentials.

``SLOTH_E2E_DIR`` keeps the configs where the workflow's always-run cleanup step finds them
(``python tests/e2e/e2e_clouds.py cleanup DIR``) even when a test is killed.
"""

from __future__ import annotations

import os
from pathlib import Path

import e2e_clouds as clouds  # next to this file (pytest puts this directory on sys.path)
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(5400)]

CASES = [
    pytest.param(cloud, distro, id=f"{cloud}-{distro}")
    for cloud in clouds.CLOUDS
    for distro in clouds.DISTROS
]


@pytest.mark.parametrize(("cloud", "distro"), CASES)
def test_up_nodes_ready_destroy_nothing_left(cloud: str, distro: str, tmp_path: Path) -> None:
    missing = clouds.missing_credentials(cloud)
    if missing:
        pytest.skip(f"{cloud}: set {', '.join(missing)} to run it")
    from sloth_kubernetes.distro.readiness import client_for, node_conditions

    name = clouds.cluster_name(cloud, distro)
    directory = Path(os.environ.get("SLOTH_E2E_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / f"{name}.yaml"
    config.write_text(clouds.config_text(cloud, distro, name), encoding="utf-8")
    try:
        up = clouds.sloth("up", "-f", str(config), "--yes", "--no-progress")
        assert up.returncode == 0, up.stdout + up.stderr
        kubeconfig = tmp_path / "kubeconfig"
        fetched = clouds.sloth("kubeconfig", name, "-o", str(kubeconfig))
        assert fetched.returncode == 0, fetched.stderr
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        client = client_for(kubeconfig.read_text())
        try:
            conditions = node_conditions(client)
        finally:
            client.close()
        assert sorted(conditions) == [f"{name}-agent-1", f"{name}-server-1"]
        assert all(status == "True" for status, _ in conditions.values()), conditions
    finally:
        gone = clouds.sloth("--yes", "destroy", name)
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert clouds.leftovers(config) == []
        config.unlink()  # cleaned up: the workflow's cleanup step has nothing to do
