"""Hetzner's asynchronous actions: ``set_rules`` (and creating a firewall that applies to servers)
answers actions that are still ``running``; the driver reports the rules done only once every
action succeeded, fails naming an action that ended in ``error``, and gives up at
``createTimeout``. The fake's actions run on their own, as hcloud.json describes them (through
Prism, which checks every reply against the spec)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sloth_kubernetes.plugin import FirewallRule, ProviderError
from test_hetzner_fake import call, create_server

pytestmark = pytest.mark.emulator

RULES = [FirewallRule("tcp", "6443", ("198.51.100.7/32",), "Kubernetes API")]


def test_the_fake_runs_actions_on_its_own(hetzner_emulator: Any) -> None:
    fake = hetzner_emulator.fake
    server = create_server(hetzner_emulator, "web-1", {"role": "web"})
    web = {"type": "label_selector", "label_selector": {"selector": "role=web"}}
    status, body = call(hetzner_emulator, "POST", "/firewalls", {"name": "fw", "apply_to": [web]})
    assert status == 201, body
    (applied,) = body["actions"]
    assert (applied["command"], applied["status"]) == ("apply_firewall", "running")
    firewall = body["firewall"]["id"]
    fake.failing_commands.add("apply_firewall")
    status, body = call(
        hetzner_emulator, "POST", f"/firewalls/{firewall}/actions/set_rules", {"rules": []}
    )
    assert status == 201, body
    assert [(a["command"], a["status"], a["finished"]) for a in body["actions"]] == [
        ("set_firewall_rules", "running", None),
        ("apply_firewall", "running", None),
    ]
    assert body["actions"][1]["resources"] == [
        {"id": firewall, "type": "firewall"}, {"id": server["id"], "type": "server"},
    ]  # fmt: skip
    time.sleep(fake.action_seconds + 0.1)
    done = [
        call(hetzner_emulator, "GET", f"/actions/{a['id']}")[1]["action"] for a in body["actions"]
    ]
    assert [(a["status"], a["progress"]) for a in done] == [("success", 100), ("error", 100)]
    assert done[1]["error"]["code"] == "action_failed"
    assert done[0]["finished"] is not None
    status, scoped = call(hetzner_emulator, "GET", f"/firewalls/actions/{done[0]['id']}")
    assert (status, scoped["action"]["id"]) == (200, done[0]["id"])


def _harness_with_firewall(cloud_harness: Any, **block: Any) -> tuple[Any, Any, Any]:
    harness = cloud_harness(count=1, **block)
    harness.provision()
    driver = harness.driver()
    (firewall,) = driver.list_firewalls(harness.name)
    return harness, driver, firewall


def test_set_rules_is_done_only_when_its_actions_succeeded(
    cloud_harness: Any, hetzner_emulator: Any
) -> None:
    fake = hetzner_emulator.fake
    _harness, driver, firewall = _harness_with_firewall(cloud_harness)
    fake.action_seconds = 0.6
    before = set(fake.actions)
    fake.requests.clear()
    started = time.monotonic()
    driver.update_firewall_rules(firewall, RULES)
    took = time.monotonic() - started
    started_here = [fake.action_now(i) for i in set(fake.actions) - before]
    # set_firewall_rules, and apply_firewall on the cluster's one server (label selector)
    assert sorted(a["command"] for a in started_here) == ["apply_firewall", "set_firewall_rules"]
    assert {a["status"] for a in started_here} == {"success"}
    assert took >= 0.6
    assert fake.requests.count("GET", "/actions/") >= 2


def test_an_action_that_failed_fails_the_update_naming_it(
    cloud_harness: Any, hetzner_emulator: Any
) -> None:
    fake = hetzner_emulator.fake
    _harness, driver, firewall = _harness_with_firewall(cloud_harness)
    fake.failing_commands.add("apply_firewall")
    with pytest.raises(ProviderError) as raised:
        driver.update_firewall_rules(firewall, RULES)
    message = str(raised.value)
    assert "setting the rules of" in message
    assert "apply_firewall" in message
    assert "[action_failed] Action failed" in message


def test_an_action_still_running_at_the_deadline_fails_the_update(
    cloud_harness: Any, hetzner_emulator: Any
) -> None:
    fake = hetzner_emulator.fake
    _harness, driver, firewall = _harness_with_firewall(cloud_harness, createTimeout=0.5)
    fake.action_seconds = 30
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        driver.update_firewall_rules(firewall, RULES)
    assert time.monotonic() - started < 5
    assert "still running after 0.5 s" in str(raised.value)
    assert "set_firewall_rules" in str(raised.value)
