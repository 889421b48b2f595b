"""spec.providers.ssh and ssh pool options: what validates; every mistake located in the file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sloth_kubernetes import api
from sloth_kubernetes.config.loader import load_config
from sloth_kubernetes.engine.plan import node_requests
from sloth_kubernetes.errors import ConfigError
from sloth_provider_ssh.resolve import resolve
from sloth_provider_ssh.settings import SshPoolOptions, SshSettings

SERVER = {"name": "servers", "provider": "ssh", "count": 1, "roles": ["server"]}


def _line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def _issue(error: ConfigError, path_text: str) -> str:
    rendered = [issue.render() for issue in error.issues]
    found = [r for r in rendered if f" {path_text}:" in r]
    assert found, f"no issue at {path_text}; issues: {rendered}"
    return found[0]


def test_bare_metal_template_validates_and_assigns_hosts_in_order(
    ssh_manager, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "known_hosts").write_text("")
    path = tmp_path / "bare-metal.yaml"
    path.write_text(api.template_text("bare-metal"))
    config = load_config([path], ssh_manager.hooks.catalog())
    settings = config.spec.providers["ssh"].settings
    assert isinstance(settings, SshSettings)
    assert [h.name for h in settings.hosts] == ["node1", "node2", "node3"]
    resolved = resolve(config)
    assert {pool: [t.name for t in hosts] for pool, hosts in resolved.pools.items()} == {
        "servers": ["node1"],
        "workers": ["node2", "node3"],
    }
    node1 = resolved.targets["node1"]
    assert node1.key == tmp_path / "home" / ".ssh" / "id_ed25519"
    assert resolved.known_hosts == tmp_path / "home" / ".ssh" / "known_hosts"
    assert node1.cloud_id == "ssh://admin@192.0.2.11:22"


def test_key_and_known_hosts_are_relative_to_the_config_file(ssh_config, tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "pinned").write_text("")
    hosts = [{"name": "a", "address": "192.0.2.1", "key": "keys/id_a"}]
    _, config = ssh_config({"hosts": hosts, "knownHosts": "pinned"}, [SERVER])
    resolved = resolve(config)
    assert resolved.targets["a"].key == tmp_path / "keys" / "id_a"
    assert resolved.known_hosts == tmp_path / "pinned"


@pytest.mark.parametrize(
    ("host", "where", "message"),
    [
        ({"name": "a", "adress": "192.0.2.1"}, "hosts[0].adress", "did you mean 'address'"),
        ({"name": "a", "address": "192.0.2.1", "port": 70000}, "hosts[0].port", "out of range"),
        ({"name": "a", "address": "192.0.2.1", "port": "22"}, "hosts[0].port", "an integer"),
        ({"name": "a", "address": "-oProxyCommand=x"}, "hosts[0].address", "not an IP address"),
        ({"name": "a", "address": "192.0.2.1", "user": "-x"}, "hosts[0].user", "login name"),
        ({"name": "a b", "address": "192.0.2.1"}, "hosts[0].name", "host name"),
        ({"name": "a", "address": "192.0.2.1", "labels": {"-x": "1"}}, "hosts[0].labels", "label"),
        ({"name": "a", "address": "192.0.2.1", "bastion": {"port": 1}}, "hosts[0].bastion",
         "missing required key 'address'"),
    ],
)  # fmt: skip
def test_host_mistakes_are_located(ssh_config, host, where, message):
    with pytest.raises(ConfigError) as caught:
        ssh_config({"hosts": [host]}, [SERVER])
    rendered = _issue(caught.value, f"spec.providers.ssh.{where}")
    assert message in rendered
    assert re.search(r"\.yaml:\d+:\d+:", rendered), rendered


def test_duplicate_hosts_and_unknown_bastion_are_reported(ssh_config):
    hosts = [
        {"name": "a", "address": "192.0.2.1"},
        {"name": "a", "address": "192.0.2.2", "bastion": "jump"},
    ]
    with pytest.raises(ConfigError) as caught:
        ssh_config({"hosts": hosts}, [SERVER])
    assert "hosts[1]: name 'a' is used twice" in _issue(caught.value, "spec.providers.ssh.hosts")
    hosts[1]["name"] = "b"
    with pytest.raises(ConfigError) as caught:
        ssh_config({"hosts": hosts}, [SERVER])
    assert "bastion 'jump' is not a host listed here" in str(caught.value)


def test_pool_options_choose_hosts_or_selector(ssh_config):
    hosts = [{"name": "a", "address": "192.0.2.1"}]
    pool = {**SERVER, "options": {"hosts": ["a"], "selector": {"x": "y"}}}
    with pytest.raises(ConfigError) as caught:
        ssh_config({"hosts": hosts}, [pool])
    assert "either `hosts` or `selector`" in _issue(
        caught.value, "spec.nodePools[0].options.selector"
    )
    pool = {**SERVER, "options": {"host": ["a"]}}
    with pytest.raises(ConfigError) as caught:
        ssh_config({"hosts": hosts}, [pool])
    assert "did you mean 'hosts'" in _issue(caught.value, "spec.nodePools[0].options.host")
    _, config = ssh_config({"hosts": hosts}, [{**SERVER, "options": {"hosts": ["a"]}}])
    assert config.spec.node_pools[0].options == SshPoolOptions(hosts=["a"])


def test_pool_count_not_matching_its_hosts_is_located_at_count(ssh_config):
    hosts = [{"name": f"n{i}", "address": f"192.0.2.{i}"} for i in range(1, 4)]
    pools = [
        {**SERVER, "options": {"hosts": ["n1"]}},
        {"name": "workers", "provider": "ssh", "count": 3, "options": {"hosts": ["n2", "n3"]}},
    ]
    path, config = ssh_config({"hosts": hosts}, pools)
    with pytest.raises(ConfigError) as caught:
        resolve(config)
    rendered = _issue(caught.value, "spec.nodePools[1].count")
    assert "pool 'workers' has count 3 but `options.hosts` selects 2 host(s): n2, n3" in rendered
    assert f"{path}:{_line_of(path, 'count: 3')}:" in rendered
    assert "set `count: 2`" in rendered


def test_selector_unknown_host_and_shared_host_are_located(ssh_config):
    hosts = [
        {"name": "n1", "address": "192.0.2.1", "labels": {"role": "cp"}},
        {"name": "n2", "address": "192.0.2.2", "labels": {"role": "cp"}},
        {"name": "n3", "address": "192.0.2.3"},
    ]
    pools = [
        {**SERVER, "options": {"selector": {"role": "cp"}}},
        {"name": "workers", "provider": "ssh", "count": 2, "options": {"hosts": ["n2", "nx3"]}},
    ]
    _, config = ssh_config({"hosts": hosts}, pools)
    with pytest.raises(ConfigError) as caught:
        resolve(config)
    error = caught.value
    assert "selects 2 host(s): n1, n2" in _issue(error, "spec.nodePools[0].count")
    assert "did you mean 'n3'" in _issue(error, "spec.nodePools[1].options.hosts[1]")
    assert "'n2' is already used by pool 'servers'" in _issue(error, "spec.nodePools[1].options")


def test_pools_without_options_take_free_hosts_but_not_bastions(ssh_config):
    hosts = [
        {"name": "jump", "address": "198.51.100.1"},
        {"name": "n1", "address": "10.0.0.1", "bastion": "jump"},
        {"name": "n2", "address": "10.0.0.2", "bastion": "jump", "labels": {"disk": "ssd"}},
        {"name": "n3", "address": "10.0.0.3", "bastion": {"address": "198.51.100.9", "user": "j"}},
    ]
    pools = [
        SERVER,
        {
            "name": "storage",
            "provider": "ssh",
            "count": 1,
            "options": {"selector": {"disk": "ssd"}},
        },
        {"name": "workers", "provider": "ssh", "count": 1},
    ]
    _, config = ssh_config({"hosts": hosts}, pools)
    resolved = resolve(config)
    by_node = {r.name: resolved.target_for(r) for r in node_requests(config)}
    assert {n: t.name for n, t in by_node.items()} == {
        "bare-servers-1": "n1",
        "bare-storage-1": "n2",
        "bare-workers-1": "n3",
    }
    assert by_node["bare-servers-1"].bastion.name == "jump"
    inline = by_node["bare-workers-1"].bastion
    assert (inline.address, inline.port, inline.user) == ("198.51.100.9", 22, "j")

    pools[2]["count"] = 2
    _, config = ssh_config({"hosts": hosts}, pools)
    with pytest.raises(ConfigError) as caught:
        resolve(config)
    assert "needs 2 host(s) but only 1" in _issue(caught.value, "spec.nodePools[2].count")


def test_missing_known_hosts_file_is_located(ssh_config):
    hosts = [{"name": "a", "address": "192.0.2.1"}]
    _, config = ssh_config({"hosts": hosts, "knownHosts": "nowhere/known_hosts"}, [SERVER])
    with pytest.raises(ConfigError) as caught:
        resolve(config)
    assert "does not exist" in _issue(caught.value, "spec.providers.ssh.knownHosts")


def test_no_hosts_at_all_is_an_error(ssh_config):
    with pytest.raises(ConfigError) as caught:
        ssh_config({}, [SERVER])
    assert "no hosts" in _issue(caught.value, "spec.providers.ssh.hosts")


def test_chained_bastions_are_refused(ssh_config):
    hosts = [
        {"name": "outer", "address": "198.51.100.1"},
        {"name": "inner", "address": "10.0.0.1", "bastion": "outer"},
        {"name": "n1", "address": "10.1.0.1", "bastion": "inner"},
    ]
    pools = [{**SERVER, "options": {"hosts": ["n1"]}}]
    _, config = ssh_config({"hosts": hosts}, pools)
    with pytest.raises(ConfigError) as caught:
        resolve(config)
    assert "itself behind a bastion" in _issue(caught.value, "spec.providers.ssh.hosts[2].bastion")
