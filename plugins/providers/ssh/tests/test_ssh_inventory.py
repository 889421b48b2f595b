"""Hosts imported from Terraform outputs and Ansible inventories, as the README documents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sloth_kubernetes.errors import ConfigError
from sloth_provider_ssh.inventory import import_hosts
from sloth_provider_ssh.resolve import resolve
from sloth_provider_ssh.settings import Bastion

DATA = Path(__file__).parent / "data"
SERVER = {"name": "servers", "provider": "ssh", "count": 1, "roles": ["server"]}


def _by_name(hosts):
    return {imported.host.name: imported.host for imported in hosts}


def test_terraform_list_output_maps_every_key():
    hosts = _by_name(import_hosts("terraform", DATA / "terraform-list.json"))
    assert list(hosts) == ["cp-1", "worker-1", "worker-2"]
    cp = hosts["cp-1"]
    assert (cp.address, cp.port, cp.user) == ("203.0.113.10", 22, "ubuntu")
    assert cp.key == str(DATA / "keys" / "cp.pem")  # relative to the output file
    assert cp.labels == {"role": "control-plane", "zone": "a"}
    assert hosts["worker-1"].port == 2222  # Terraform map(string) gives text: accepted
    assert hosts["worker-1"].bastion == "cp-1"
    assert hosts["worker-2"].bastion == Bastion(address="203.0.113.99", user="jump")


def test_terraform_map_of_addresses_and_named_output():
    hosts = _by_name(import_hosts("terraform", DATA / "terraform-map.json", output="nodes"))
    assert {n: (h.address, h.user, h.port) for n, h in hosts.items()} == {
        "alpha": ("198.51.100.1", "root", 22),
        "beta": ("198.51.100.2", "root", 22),
    }


def test_terraform_missing_output_names_the_available_ones():
    with pytest.raises(ConfigError) as caught:
        import_hosts("terraform", DATA / "terraform-map.json")
    assert "no output named 'sloth_hosts' (outputs: nodes)" in str(caught.value)
    assert "terraform-map.json" in str(caught.value)


def test_terraform_bad_values_are_located_by_output_path(tmp_path):
    bad = tmp_path / "out.json"
    value = [{"name": "a", "address": "192.0.2.1", "port": 0}, {"address": "192.0.2.2"}]
    bad.write_text(json.dumps({"sloth_hosts": {"value": value}}))
    with pytest.raises(ConfigError) as caught:
        import_hosts("terraform", bad)
    text = str(caught.value)
    assert "sloth_hosts.value[0].port: 0 is out of range" in text
    assert "sloth_hosts.value[1]: missing required key 'name'" in text


def test_terraform_file_that_is_not_json_is_located(tmp_path):
    bad = tmp_path / "out.json"
    bad.write_text('{\n  "sloth_hosts": oops\n}\n')
    with pytest.raises(ConfigError) as caught:
        import_hosts("terraform", bad)
    assert f"{bad}:2:1: not JSON" in str(caught.value)


def test_ansible_ini_groups_children_vars_and_ranges():
    hosts = _by_name(import_hosts("ansible", DATA / "ansible.ini"))
    assert list(hosts) == ["ungrouped-box", "cp1", "worker01", "worker02", "worker03"]
    box = hosts["ungrouped-box"]
    assert (box.address, box.user, box.port, box.key, box.labels) == (
        "192.0.2.50", "root", 22, None, {}
    )  # fmt: skip
    cp1 = hosts["cp1"]
    assert (cp1.address, cp1.user, cp1.port) == ("192.0.2.10", "admin", 22)  # host var wins
    assert cp1.key == str(DATA / "keys" / "ops_ed25519")  # from [k8s:vars], relative to the file
    assert cp1.labels == {"k8s": "true", "servers": "true"}
    w3 = hosts["worker03"]
    assert (w3.address, w3.user, w3.port) == ("worker03", "ops", 2222)  # no ansible_host: name
    assert w3.labels == {
        "gpu": "true", "k8s": "true", "workers": "true", "accelerator": "nvidia", "tier": "gold"
    }  # fmt: skip


def test_ansible_yaml_inventory():
    hosts = _by_name(import_hosts("ansible", DATA / "ansible.yaml"))
    assert list(hosts) == ["cp1", "worker1", "worker2", "worker3"]
    assert (hosts["cp1"].user, hosts["cp1"].port, hosts["cp1"].key) == ("admin", 22, "/keys/k8s")
    assert (hosts["worker1"].address, hosts["worker1"].user, hosts["worker1"].port) == (
        "worker1", "root", 2222
    )  # fmt: skip
    assert hosts["worker3"].labels == {
        "k8s": "true", "workers": "true", "accelerator": "nvidia"
    }  # fmt: skip


def test_ansible_ini_mistakes_name_the_line(tmp_path):
    bad = tmp_path / "hosts.ini"
    bad.write_text("[servers]\ncp1 ansible_port=http\n[servers:weird]\n")
    with pytest.raises(ConfigError) as caught:
        import_hosts("ansible", bad)
    assert f"{bad}:3:1: unknown section kind 'weird'" in str(caught.value)
    bad.write_text("[servers]\ncp1 ansible_port=http\n")
    with pytest.raises(ConfigError) as caught:
        import_hosts("ansible", bad)
    assert f"{bad}:2:1: cp1.port: expected an integer" in str(caught.value)


def test_inventory_hosts_join_inline_hosts_and_pools_select_them(ssh_config, tmp_path):
    shutil.copy(DATA / "ansible.ini", tmp_path / "hosts.ini")
    pools = [
        {**SERVER, "options": {"selector": {"servers": "true"}}},
        {"name": "gpu", "provider": "ssh", "count": 1, "options": {"selector": {"gpu": "true"}}},
        {"name": "workers", "provider": "ssh", "count": 3},
    ]
    inline = [{"name": "extra", "address": "192.0.2.99"}]
    _, config = ssh_config({"hosts": inline, "inventory": {"ansible": "hosts.ini"}}, pools)
    resolved = resolve(config)
    assert {p: [t.name for t in ts] for p, ts in resolved.pools.items()} == {
        "servers": ["cp1"],
        "gpu": ["worker03"],
        "workers": ["extra", "ungrouped-box", "worker01"],
    }


def test_inline_host_clashing_with_inventory_is_located(ssh_config, tmp_path):
    shutil.copy(DATA / "ansible.ini", tmp_path / "hosts.ini")
    inline = [{"name": "cp1", "address": "192.0.2.99"}]
    _, config = ssh_config({"hosts": inline, "inventory": {"ansible": "hosts.ini"}}, [SERVER])
    with pytest.raises(ConfigError) as caught:
        resolve(config)
    assert "spec.providers.ssh.hosts[0].name: host 'cp1' is also in the inventory" in str(
        caught.value
    )


def test_inventory_needs_exactly_one_source(ssh_config):
    with pytest.raises(ConfigError) as caught:
        ssh_config({"inventory": {"terraform": "a.json", "ansible": "b.ini"}}, [SERVER])
    assert "spec.providers.ssh.inventory.ansible: give either" in str(caught.value)
