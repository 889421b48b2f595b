"""Sizing, images, user data, host keys, the catalog cache and the firewall rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sloth_kubernetes.cloud import Image, Size
from sloth_kubernetes.cloud.catalog import Catalog, CatalogCache
from sloth_kubernetes.cloud.rules import cluster_rules
from sloth_kubernetes.cloud.sizing import choose_size, resolve_image
from sloth_kubernetes.cloud.userdata import (
    cloud_config,
    new_host_key,
    parse_console_host_keys,
    public_host_key_in,
)
from sloth_kubernetes.errors import ProviderError
from sloth_kubernetes.model.cluster import SizeRequest
from sloth_kubernetes.secrets import redact

SIZES = [
    Size("big", 8, 32, 0.30),
    Size("cheap-small", 2, 4, 0.02, ("fra1",)),
    Size("cheap", 2, 4, 0.03),
    Size("tiny", 1, 1, 0.01),
    Size("unpriced", 4, 8, None),
]


def test_cheapest_matching_size_in_the_region() -> None:
    assert choose_size("x", "fra1", SIZES, SizeRequest(2, 4)).id == "cheap-small"
    assert choose_size("x", "nyc3", SIZES, SizeRequest(2, 4)).id == "cheap"
    assert choose_size("x", "nyc3", SIZES, SizeRequest(3, 4)).id == "big"  # priced beats unknown


def test_no_size_large_enough_is_an_error_with_a_hint() -> None:
    with pytest.raises(ProviderError, match=r"x: no size in fra1 has 64 vCPU and 512 GiB") as err:
        choose_size("x", "fra1", SIZES, SizeRequest(64, 512))
    assert err.value.hint is not None
    assert "name a size" in err.value.hint


def test_image_aliases_and_own_ids() -> None:
    aliases = {"ubuntu-24.04": "ubuntu-24-04-x64"}
    assert resolve_image(aliases, "ubuntu-24.04") == "ubuntu-24-04-x64"
    assert resolve_image(aliases, None) == "ubuntu-24-04-x64"  # the default alias
    assert resolve_image(aliases, "my-own-image-123") == "my-own-image-123"


def test_cloud_config_installs_operator_key_and_the_pinned_host_key() -> None:
    key = new_host_key()
    text = cloud_config(operator_key="ssh-ed25519 AAAAop op@x", host_key=key, hostname="n1")
    assert text.startswith("#cloud-config\n")
    assert "  - ssh-ed25519 AAAAop op@x\n" in text
    assert public_host_key_in(text) == key.public
    assert key.public.startswith("ssh-ed25519 ")
    assert "ssh_genkeytypes: []" in text  # cloud-init must not replace it with its own
    # keys only: no packages, no commands (prepare installs what nodes need, with their apt)
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load(text)
    assert set(document) == {"hostname", "disable_root", "ssh_pwauth", "ssh_deletekeys",
                             "ssh_genkeytypes", "ssh_authorized_keys", "ssh_keys"}  # fmt: skip
    private = key.private.reveal()
    assert "OPENSSH PRIVATE KEY" in private
    assert private not in repr(key)
    assert private.strip() not in redact(f"oops: {private.strip()}")


def test_console_host_keys_are_parsed_from_the_last_block() -> None:
    console = (
        "boot...\n-----BEGIN SSH HOST KEY KEYS-----\nssh-ed25519 OLD root@a\n"
        "-----END SSH HOST KEY KEYS-----\nreboot\n"
        "-----BEGIN SSH HOST KEY KEYS-----\r\necdsa-sha2-nistp256 AAAAE2 root@a\r\n"
        "ssh-ed25519 AAAAC3 root@a\r\n-----END SSH HOST KEY KEYS-----\n"
    )
    assert parse_console_host_keys(console) == [
        "ecdsa-sha2-nistp256 AAAAE2",
        "ssh-ed25519 AAAAC3",
    ]
    assert parse_console_host_keys("nothing here") == []


def test_catalog_is_cached_until_the_ttl(tmp_path: Path) -> None:
    now = [1000.0]
    fetched: list[int] = []

    def fetch() -> Catalog:
        fetched.append(1)
        return Catalog((Size("s", 1, 1.0, 0.1, ("r",)),), (Image("i", "Image"),))

    cache = CatalogCache(tmp_path, ttl=60, clock=lambda: now[0])
    first = cache.get("demo", "https://api", "r", fetch)
    path = cache.path("demo", "https://api", "r")
    now[0] = path.stat().st_mtime + 30
    assert cache.get("demo", "https://api", "r", fetch) == first
    assert len(fetched) == 1
    now[0] += 60
    cache.get("demo", "https://api", "r", fetch)
    assert len(fetched) == 2
    path.write_text("{not json", encoding="utf-8")  # a corrupt cache is fetched again
    assert cache.get("demo", "https://api", "r", fetch) == first
    assert json.loads(path.read_text())["sizes"][0]["id"] == "s"


def test_firewall_rules_follow_the_security_spec(  # type: ignore[no-untyped-def]
    config_factory, sloth_manager, dummy_provider
) -> None:
    from sloth_kubernetes.config.loader import load_config

    security = {"sshAllowedCIDRs": ["203.0.113.0/24"], "apiAllowedCIDRs": ["198.51.100.7/32"]}
    path = config_factory({"spec": {"security": security}})
    config = load_config([path], sloth_manager.hooks.catalog())
    rules = {(r.protocol, r.ports): r.sources for r in cluster_rules(config, "10.240.0.0/16")}
    assert rules[("tcp", "22")] == ("203.0.113.0/24",)
    assert rules[("tcp", "6443")] == ("198.51.100.7/32",)
    assert rules[("udp", "51820")] == ("0.0.0.0/0",)
    assert rules[("tcp", "1-65535")] == ("10.240.0.0/16",)
    assert ("tcp", "1-65535") not in {(r.protocol, r.ports) for r in cluster_rules(config, None)}


def test_the_api_rule_defaults_to_anywhere_and_goes_with_an_empty_list(  # type: ignore[no-untyped-def]
    config_factory, sloth_manager, dummy_provider
) -> None:
    from sloth_kubernetes.config.loader import load_config

    catalog = sloth_manager.hooks.catalog()
    default = load_config([config_factory({})], catalog)
    rules = {(r.protocol, r.ports): r.sources for r in cluster_rules(default, None)}
    assert rules[("tcp", "6443")] == ("0.0.0.0/0",)
    mesh_only = load_config(
        [config_factory({"spec": {"security": {"apiAllowedCIDRs": []}}}, name="mesh-only.yaml")],
        catalog,
    )
    assert ("tcp", "6443") not in {(r.protocol, r.ports) for r in cluster_rules(mesh_only, None)}


def test_a_driver_that_cannot_update_firewall_rules_warns_naming_them() -> None:
    """A driver without update_firewall_rules (a third-party plugin) never drops a CIDR change
    silently: converging warns with each rule the cloud firewall still needs or should lose."""
    from types import SimpleNamespace

    from sloth_kubernetes.cloud import CloudDriver, FirewallRule, Resource
    from sloth_kubernetes.cloud.shared import converge_firewall

    class FixedRules(CloudDriver):  # keeps the base class's firewall_update_blocker
        name = "fixed"
        features = frozenset({"ssh", "tags", "firewall"})

        def firewall_rules(self, firewall: Resource) -> list[FirewallRule]:
            return [
                FirewallRule("tcp", "6443", ("0.0.0.0/0",)),
                FirewallRule("icmp", "", ("10.0.0.0/8",)),
            ]

    events: list[dict[str, object]] = []
    context = SimpleNamespace(
        event=lambda phase, message, **f: events.append({"message": message, **f})
    )
    session = SimpleNamespace(spec=SimpleNamespace(name="fixed"), context=context)
    firewall = Resource("firewall", "fw-1", "sloth-demo")
    driver = FixedRules(None, {}, "r")
    same = [FirewallRule("tcp", "6443", ("0.0.0.0/0",)), FirewallRule("icmp", "0", ("10.0.0.0/8",))]
    converge_firewall(session, driver, firewall, same)  # type: ignore[arg-type]
    assert events == []  # nothing to change: nothing said (ICMP ports compare as none)
    wanted = [FirewallRule("tcp", "6443", ("198.51.100.7/32",)), same[1]]
    converge_firewall(session, driver, firewall, wanted)  # type: ignore[arg-type]
    (warning,) = events
    assert warning["status"] == "warning"
    message = str(warning["message"])
    assert "firewall rules changed in the config but fixed cannot update them here" in message
    assert "+tcp 6443 from 198.51.100.7/32, -tcp 6443 from 0.0.0.0/0" in message
