"""Failures that need no test host: nothing listening, and a dry run that touches nothing."""

from __future__ import annotations

import socket

import pytest
from sloth_kubernetes.context import ClusterContext
from sloth_kubernetes.engine.plan import node_requests
from sloth_kubernetes.errors import ProviderError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMx8R1hEhUmmCIzy0N5mFqfWXvHrBlJ0qFS8hFQwOHiP"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(ssh_config, tmp_path):
    port = _free_port()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {KEY}\n")
    host = {"name": "gone", "address": "127.0.0.1", "port": port}
    pools = [{"name": "servers", "provider": "ssh", "count": 1, "roles": ["server"]}]
    return ssh_config({"hosts": [host], "knownHosts": str(known), "connectTimeout": 2}, pools)[1]


def test_nothing_listening_is_a_clear_provider_error(ssh_config, ssh_manager, tmp_path):
    config = _config(ssh_config, tmp_path)
    context = ClusterContext(config=config)
    with pytest.raises(ProviderError) as caught:
        ssh_manager.hooks.provision_nodes(context, "ssh", node_requests(config))
    assert "cannot reach gone (root@127.0.0.1:" in str(caught.value)
    assert "Connection refused" in str(caught.value)


def test_dry_run_reports_records_without_connecting(ssh_config, ssh_manager, tmp_path):
    config = _config(ssh_config, tmp_path)
    context = ClusterContext(config=config, dry_run=True)
    (record,) = ssh_manager.hooks.provision_nodes(context, "ssh", node_requests(config))
    assert record.host_key == KEY
    assert record.cloud_id.startswith("ssh://root@127.0.0.1:")
