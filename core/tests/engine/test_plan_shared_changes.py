"""`plan` shows the rules a provider's cloud firewall would gain and lose, and `up` makes them
even when no machine changes (#12). The engine's side, with the dummy provider given a firewall
(a test double: its rules in memory, converged by ``provision`` like a cloud provider's); the
clouds' own answers are checked on their emulators by the provider contract."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from sloth_kubernetes.cloud.rules import cluster_rules, describe_permission, permissions
from sloth_kubernetes.model import ResourceChange
from sloth_kubernetes.testing.dummy import DummyProvider
from sloth_kubernetes.testing.plugin import DUMMY_CLUSTER


class WalledDummy(DummyProvider):
    """The dummy provider with a firewall whose rules ``provision`` brings to the config's."""

    def __init__(self, blocked: str = "") -> None:
        super().__init__()
        self.rules: set[tuple[str, str, str]] | None = None  # no firewall until the first run
        self.batches: list[list[str]] = []
        self.blocked = blocked

    def shared_changes(self, context: Any) -> list[ResourceChange]:
        if self.rules is None:
            return []
        wanted = permissions(cluster_rules(context.config, None))
        found = {"add-rule": wanted - self.rules, "remove-rule": self.rules - wanted}
        return [
            ResourceChange(
                "dummy", kind, "firewall sloth-test", describe_permission(p), self.blocked
            )
            for kind, changed in found.items()
            for p in sorted(changed)
        ]

    def provision(self, context: Any, requests: Sequence[Any]) -> list[Any]:
        self.batches.append([r.name for r in requests])
        if not self.blocked:
            self.rules = permissions(cluster_rules(context.config, None))
        return super().provision(context, requests)


@pytest.fixture
def walled(register_plugin: Any, dummy_cluster: Any) -> WalledDummy:
    provider = WalledDummy()
    register_plugin(provider, "dummy")
    return provider


def _config(config_factory: Any, api: list[str]) -> Any:
    spec = {**DUMMY_CLUSTER["spec"], "security": {"apiAllowedCIDRs": api}}
    return config_factory({"spec": spec}, name="walled.yaml")


def test_plan_lists_each_rule_and_up_applies_them_with_no_machine_changing(
    sloth_cli: Any, config_factory: Any, walled: WalledDummy, tmp_path: Any
) -> None:
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}")
    config = str(_config(config_factory, ["0.0.0.0/0"]))
    assert sloth_cli(*state, "--yes", "up", "-f", config).exit_code == 0
    assert sloth_cli(*state, "plan", "-f", config, "--detailed-exitcode").exit_code == 0

    config = str(_config(config_factory, ["198.51.100.7/32", "203.0.113.0/24"]))
    text = sloth_cli(*state, "plan", "-f", config)
    assert text.exit_code == 0, text.stderr
    lines = [line.strip() for line in text.stdout.splitlines()]
    assert "+ add-rule firewall sloth-test  (tcp 6443 from 198.51.100.7/32)" in lines
    assert "+ add-rule firewall sloth-test  (tcp 6443 from 203.0.113.0/24)" in lines
    assert "- remove-rule firewall sloth-test  (tcp 6443 from 0.0.0.0/0)" in lines
    assert "2 to add-rule" in text.stdout
    data = json.loads(sloth_cli(*state, "-o", "json", "plan", "-f", config).stdout)
    rules = [a for a in data["actions"] if a["kind"] in ("add-rule", "remove-rule")]
    assert rules == [
        {"phase": "provision", "kind": "add-rule", "target": "firewall sloth-test",
         "detail": "tcp 6443 from 198.51.100.7/32", "provider": "dummy"},
        {"phase": "provision", "kind": "add-rule", "target": "firewall sloth-test",
         "detail": "tcp 6443 from 203.0.113.0/24", "provider": "dummy"},
        {"phase": "provision", "kind": "remove-rule", "target": "firewall sloth-test",
         "detail": "tcp 6443 from 0.0.0.0/0", "provider": "dummy"},
    ]  # fmt: skip
    assert data["counts"]["add-rule"] == 2
    assert data["counts"]["remove-rule"] == 1
    assert sloth_cli(*state, "plan", "-f", config, "--detailed-exitcode").exit_code == 3
    assert sloth_cli(*state, "plan", "-f", config, "--no-refresh").stdout.count("rule") == 0

    walled.batches.clear()
    up = sloth_cli(*state, "--yes", "up", "-f", config)
    assert up.exit_code == 0, up.stderr
    assert walled.batches == [[]]  # provisioned with no machine to make: the firewall converged
    assert walled.rules is not None
    assert {p[2] for p in walled.rules if p[1] == "6443"} == {"198.51.100.7/32", "203.0.113.0/24"}
    after = json.loads(sloth_cli(*state, "-o", "json", "plan", "-f", config).stdout)
    assert [a for a in after["actions"] if "rule" in a["kind"]] == []
    assert sloth_cli(*state, "plan", "-f", config, "--detailed-exitcode").exit_code == 0


def test_a_change_the_provider_cannot_make_is_shown_with_why(
    sloth_cli: Any, config_factory: Any, walled: WalledDummy, tmp_path: Any
) -> None:
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}")
    assert sloth_cli(*state, "--yes", "up", "-f", str(_config(config_factory, []))).exit_code == 0
    walled.blocked = "its driver does not implement update_firewall_rules yet"
    config = str(_config(config_factory, ["192.0.2.0/24"]))
    data = json.loads(sloth_cli(*state, "-o", "json", "plan", "-f", config).stdout)
    (added,) = [a for a in data["actions"] if a["kind"] == "add-rule"]
    assert added["detail"] == (
        "tcp 6443 from 192.0.2.0/24 — cannot be applied here: "
        "its driver does not implement update_firewall_rules yet"
    )
