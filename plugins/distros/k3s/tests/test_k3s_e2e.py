"""Real machines, real K3s (opt-in): ``SLOTH_E2E_CONFIG=cluster.yaml pytest -m e2e``.

The config names real machines (a cloud provider with its credentials in the environment, or the
`ssh` provider with existing hosts) and 3 servers + at least 1 agent. The test runs the same flow
as a user: `up` (which downloads the pinned K3s release and verifies its checksum), `kubeconfig`,
every node Ready through the API, `destroy`. Skipped unless SLOTH_E2E_CONFIG is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _sloth(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sloth_kubernetes.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)


@pytest.mark.skipif(not os.environ.get("SLOTH_E2E_CONFIG"), reason="set SLOTH_E2E_CONFIG")
def test_real_cluster_up_kubeconfig_ready_destroy(tmp_path: Path) -> None:
    from sloth_kubernetes import api
    from sloth_kubernetes.distro.readiness import client_for, node_conditions

    config_path = os.environ["SLOTH_E2E_CONFIG"]
    config = api.load([config_path])
    try:
        done = _sloth("up", "-f", config_path, "--yes")
        assert done.returncode == 0, done.stderr
        kubeconfig = tmp_path / "kubeconfig"
        done = _sloth("kubeconfig", config.name, "-o", str(kubeconfig))
        assert done.returncode == 0, done.stderr
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        client = client_for(kubeconfig.read_text())
        try:
            conditions = node_conditions(client)
        finally:
            client.close()
        assert conditions
        assert all(status == "True" for status, _ in conditions.values())
    finally:
        _sloth("destroy", "-f", config_path, "--yes")
