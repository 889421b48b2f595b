"""The ssh provider against real machines (local test hosts standing in for "machines you have").

Everything goes through the plugin manager facade, with node requests planned from the config,
a real SQLite state store and the system ssh client.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from sloth_kubernetes.context import ClusterContext, OperatorKey
from sloth_kubernetes.engine.plan import node_requests
from sloth_kubernetes.errors import ProviderError
from sloth_kubernetes.state import open_store
from sloth_provider_ssh import connect
from sloth_provider_ssh.knownhosts import fingerprint
from sloth_provider_ssh.provider import recorded_pins, target_of

pytestmark = pytest.mark.hosts


def _key(handle) -> str:
    return " ".join(handle.host.host_public_key.split()[:2])


def _host(handle, **extra):
    return {"name": handle.name, "address": handle.address, "port": handle.port,
            "key": str(handle.private_key), **extra}  # fmt: skip


def _pools(server: str, agent: str | None = None):
    pools = [{"name": "servers", "provider": "ssh", "count": 1, "roles": ["server"],
              "options": {"hosts": [server]}}]  # fmt: skip
    if agent:
        pools.append(
            {"name": "agents", "provider": "ssh", "count": 1, "options": {"hosts": [agent]}}
        )
    return pools


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


def _provision(manager, config, store, **context):
    ctx = ClusterContext(config=config, state=store, **context)
    return ctx, manager.hooks.provision_nodes(ctx, "ssh", node_requests(config))


def test_provision_list_and_destroy_with_pinned_known_hosts(
    local_hosts, ssh_config, ssh_manager, store
):
    a, b = local_hosts(2)
    _, config = ssh_config(
        {"hosts": [_host(a, labels={"rack": "r1"}), _host(b)], "knownHosts": str(a.known_hosts)},
        _pools(a.name, b.name),
    )
    ctx, records = _provision(ssh_manager, config, store)
    by_name = {r.name: r for r in records}
    server = by_name["bare-servers-1"]
    assert server.cloud_id == f"ssh://root@{a.address}:{a.port}"
    assert (server.public_address, server.ssh_port, server.ssh_user) == (a.address, a.port, "root")
    assert server.host_key == _key(a)
    assert server.roles == ("server",)
    assert server.extra["host"] == a.name
    assert server.extra["host_labels"] == {"rack": "r1"}
    assert server.extra["identity_file"] == str(a.private_key)
    assert "known_hosts" in server.extra["host_key_source"]
    assert by_name["bare-agents-1"].host_key == _key(b)
    assert store.audit_entries("bare") == []  # nothing was trusted on first use

    for record in records:
        store.put_node(record)
    assert {r.name for r in ssh_manager.hooks.list_nodes(ctx, "ssh")} == set(by_name)

    a.run("mkdir -p /etc/sloth-kubernetes /var/lib/sloth-kubernetes && "
          "touch /etc/sloth-kubernetes/x /var/lib/sloth-kubernetes/y /etc/keep-me")  # fmt: skip
    removed = ssh_manager.hooks.destroy_nodes(ctx, "ssh", [server])
    assert removed == ["bare-servers-1"]
    left = a.run("ls -d /etc/sloth-kubernetes /var/lib/sloth-kubernetes /etc/keep-me", check=False)
    assert left.stdout.split() == ["/etc/keep-me"]  # ours removed, the machine's files kept
    assert a.run("hostname").stdout.strip() == a.name  # and the machine is left running
    # The engine checks for leftovers with list_nodes: a cleaned-up machine is no longer listed.
    assert [r.name for r in ssh_manager.hooks.list_nodes(ctx, "ssh")] == ["bare-agents-1"]


def test_a_machine_of_another_cluster_is_refused(local_hosts, ssh_config, ssh_manager, store):
    (a,) = local_hosts(1)
    _, config = ssh_config({"hosts": [_host(a)], "knownHosts": str(a.known_hosts)}, _pools(a.name))
    _provision(ssh_manager, config, store)
    assert a.run("cat /etc/sloth-kubernetes/cluster").stdout.strip() == "bare"
    a.run("echo prod > /etc/sloth-kubernetes/cluster")
    with pytest.raises(ProviderError) as caught:
        _provision(ssh_manager, config, store)
    assert "already belongs to cluster prod" in str(caught.value)


def test_unknown_host_key_is_refused_unless_trusted_then_audited(
    local_hosts, ssh_config, ssh_manager, store, tmp_path
):
    (a,) = local_hosts(1)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    _, config = ssh_config({"hosts": [_host(a)], "knownHosts": str(empty)}, _pools(a.name))
    with pytest.raises(ProviderError) as caught:
        _provision(ssh_manager, config, store)
    assert f"no host key is pinned for {a.name} (root@{a.address}:{a.port})" in str(caught.value)
    assert "--trust-new-host-keys" in caught.value.hint
    assert store.audit_entries("bare") == []

    events = []
    _, records = _provision(ssh_manager, config, store, trust_new_host_keys=True,
                            emit=events.append)  # fmt: skip
    assert records[0].host_key == _key(a)
    assert records[0].extra["host_key_source"] == "the key trusted on first use"
    (entry,) = store.audit_entries("bare")
    assert (entry.command, entry.outcome) == ("trust-host-key", "trusted")
    assert entry.resources["host"] == a.name
    assert entry.resources["fingerprint"] == fingerprint(_key(a))
    assert any(fingerprint(_key(a)) in e["message"] for e in events)


def _replace_host_key(handle) -> str:
    """Give the machine a new ed25519 host key (as a reinstall would); wait until it serves it."""
    handle.run("rm -f /etc/ssh/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key.pub && "
               "ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && "
               "kill $(cat /run/sshd.pid)")  # fmt: skip
    new = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        scan = subprocess.run(
            ["ssh-keyscan", "-T", "2", "-t", "ed25519", "-p", str(handle.port), handle.address],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        fields = scan.stdout.split()
        if len(fields) >= 3 and f"{fields[1]} {fields[2]}" != _key(handle):
            new = f"{fields[1]} {fields[2]}"
            break
        time.sleep(0.3)
    assert new is not None, "the host never presented its new key"
    return new


def test_changed_host_key_is_a_hard_error_naming_both_fingerprints(
    local_hosts, ssh_config, ssh_manager, store, tmp_path
):
    (a,) = local_hosts(1)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    _, config = ssh_config({"hosts": [_host(a)], "knownHosts": str(empty)}, _pools(a.name))
    _, records = _provision(ssh_manager, config, store, trust_new_host_keys=True)
    store.put_node(records[0])
    old = _key(a)
    new = _replace_host_key(a)

    # Even --trust-new-host-keys never replaces a recorded key.
    with pytest.raises(ProviderError) as caught:
        _provision(ssh_manager, config, store, trust_new_host_keys=True)
    message = str(caught.value)
    assert f"{a.name} (root@{a.address}:{a.port})" in message
    assert fingerprint(old) in message
    assert fingerprint(new) in message
    assert "the state store" in message
    assert store.get_node("bare", "bare-servers-1").host_key == old

    # Pinned by the user's known_hosts instead of the state: the same refusal.
    fresh = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    with fresh, pytest.raises(ProviderError) as caught:
        _provision(ssh_manager, _with_known(ssh_config, a), fresh)
    assert fingerprint(old) in str(caught.value)
    assert fingerprint(new) in str(caught.value)


def _with_known(ssh_config, handle):
    _, config = ssh_config({"hosts": [_host(handle)], "knownHosts": str(handle.known_hosts)},
                           _pools(handle.name))  # fmt: skip
    return config


def test_bastion_host_is_used_and_its_key_pinned(
    local_hosts, ssh_config, ssh_manager, store, tmp_path
):
    jump, inner = local_hosts(2)
    hosts = [_host(jump), _host(inner, bastion=jump.name)]
    _, config = ssh_config(
        {"hosts": hosts, "knownHosts": str(jump.known_hosts)}, _pools(inner.name)
    )
    _, (record,) = _provision(ssh_manager, config, store)
    assert record.private_address == inner.address
    assert record.public_address is None
    assert record.extra["bastion"]["host_key"] == _key(jump)
    # Reaching the node as recorded goes through the bastion: the node sees the bastion's address.
    pins = recorded_pins([record], tmp_path)
    outcome = connect.run(target_of(record), pins, "echo $SSH_CONNECTION")
    assert outcome.problem is None, outcome.output
    assert outcome.output.split()[0] == jump.address


def test_operator_key_installed_on_request_and_removed_on_destroy(
    local_hosts, ssh_config, ssh_manager, store, tmp_path
):
    (a,) = local_hosts(1)
    operator = tmp_path / "operator"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(operator)], check=True)
    public = operator.with_suffix(".pub").read_text().strip()
    _, config = ssh_config(
        {"hosts": [_host(a)], "knownHosts": str(a.known_hosts), "installOperatorKey": True},
        _pools(a.name),
    )
    ctx, records = _provision(ssh_manager, config, store,
                              operator=OperatorKey(public, operator))  # fmt: skip
    assert records[0].extra["operator_key_installed"] is True
    authorized = a.run("cat /root/.ssh/authorized_keys").stdout
    assert " ".join(public.split()[:2]) + " sloth-kubernetes:bare" in authorized
    _provision(ssh_manager, config, store, operator=OperatorKey(public, operator))
    assert a.run("grep -c sloth-kubernetes:bare /root/.ssh/authorized_keys").stdout.strip() == "1"

    assert ssh_manager.hooks.destroy_nodes(ctx, "ssh", records) == ["bare-servers-1"]
    after = a.run("cat /root/.ssh/authorized_keys").stdout  # the user's own key still works
    assert "sloth-kubernetes:bare" not in after


def test_new_key_behind_a_bastion_is_scanned_from_the_bastion(
    local_hosts, ssh_config, ssh_manager, store, tmp_path
):
    jump, inner = local_hosts(2)
    only_jump = tmp_path / "known_hosts"
    only_jump.write_text(f"{jump.address} {jump.host.host_public_key}\n")
    hosts = [_host(jump), _host(inner, bastion=jump.name)]
    _, config = ssh_config({"hosts": hosts, "knownHosts": str(only_jump)}, _pools(inner.name))
    with pytest.raises(ProviderError, match=f"no host key is pinned for {inner.name} "):
        _provision(ssh_manager, config, store)
    _, (record,) = _provision(ssh_manager, config, store, trust_new_host_keys=True)
    assert record.host_key == _key(inner)
    assert record.extra["bastion"]["host_key"] == _key(jump)
    (entry,) = store.audit_entries("bare")  # only the inner host was trusted on first use
    assert entry.resources["host"] == inner.name


def test_wrong_login_key_is_reported_as_such(local_hosts, ssh_config, ssh_manager, store, tmp_path):
    (a,) = local_hosts(1)
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    host = {**_host(a), "key": str(stranger), "user": "root"}
    _, config = ssh_config({"hosts": [host], "knownHosts": str(a.known_hosts)}, _pools(a.name))
    with pytest.raises(ProviderError) as caught:
        _provision(ssh_manager, config, store)
    assert f"refused the login of 'root' with key {stranger}" in str(caught.value)
