"""Refusals, busy answers and timeouts from the fake Vultr API (checked against its OpenAPI
document): 401 for a key it does not know, scripted transient 429/502/503, an instance that never
boots, a firewall group that refuses a rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sloth_kubernetes.errors import PartialProvisionError, ProviderError

pytestmark = pytest.mark.emulator


def test_invalid_key_is_one_line_naming_provider_and_variable(
    cloud_harness: Callable[..., Any], fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = cloud_harness(name="vbad", count=1)
    monkeypatch.setenv("VULTR_API_KEY", "W" * 36)  # 401 {"error": "Invalid API token.", ...}

    with pytest.raises(ProviderError) as caught:
        harness.provision()

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("vultr: the API refused the credentials from ${env:VULTR_API_KEY}")
    assert caught.value.http_status == 401
    assert "VULTR_API_KEY" in (caught.value.hint or "")
    assert "W" * 36 not in message  # the key itself is never shown
    assert fake.requests.count(status=401) >= 1
    assert not [p for m, p, _ in fake.received if m != "GET"]  # nothing was attempted


def test_missing_key_names_the_variable(
    cloud_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = cloud_harness(name="vnokey", count=1)
    monkeypatch.delenv("VULTR_API_KEY")

    with pytest.raises(ProviderError, match=r"^vultr: no credentials: .*VULTR_API_KEY"):
        harness.provision()


def test_busy_answers_are_retried_and_a_create_is_never_sent_twice(
    cloud_harness: Callable[..., Any], fake: Any
) -> None:
    # 503 on the key listing, 429 on one create (Vultr did nothing: repeated), and a lost reply
    # (502) on the other create (Vultr did create it: found by its tag, never sent again).
    fake.fail_next("GET", "/v2/ssh-keys", 503)
    fake.fail_next("POST", "/v2/instances", 429, body={"label": "vflt-server-1"})
    fake.fail_next("POST", "/v2/instances", 502, body={"label": "vflt-agent-1"}, after=True)
    harness = cloud_harness(name="vflt", count=2, firewall=False, privateNetwork=False)

    records = harness.provision()

    assert {r.name for r in records} == {"vflt-server-1", "vflt-agent-1"}
    labels = [body["label"] for body in fake.sent("POST", "/v2/instances")]
    assert sorted(labels) == ["vflt-agent-1", "vflt-server-1", "vflt-server-1"]
    assert all("attach_vpc" not in b for b in fake.sent("POST", "/v2/instances"))
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == 2
    assert summary["retryReasons"] == {"503": 1, "429": 1}
    by_name = {r.name: r for r in records}
    assert by_name["vflt-server-1"].extra["apiRetries"] == 1  # the 429, counted for its node

    assert len(fake.instances) == 2  # the lost reply's instance is the one adopted
    harness.destroy(records)
    assert harness.resources() == []
    assert fake.instances == {}


def test_machine_that_never_runs_is_named_and_deleted(
    cloud_harness: Callable[..., Any], fake: Any
) -> None:
    fake.never_boot = {"vstk-server-1"}  # stays "pending" in every listing
    harness = cloud_harness(
        name="vstk",
        count=1,
        firewall=False,
        privateNetwork=False,
        createTimeout=0.3,
    )

    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()

    message = str(caught.value)
    assert "vstk-server-1" in message
    assert "did not reach running within 0.3 s" in message
    assert "it was deleted" in message
    assert caught.value.records == []
    (create,) = fake.sent("POST", "/v2/instances")
    assert create["label"] == "vstk-server-1"
    deleted = [p for m, p, _ in fake.received if m == "DELETE" and p.startswith("/v2/instances/")]
    assert len(deleted) == 1
    assert fake.instances == {}  # the stuck instance was deleted, not left billing


def test_firewall_group_with_a_refused_rule_is_not_left_half_built(
    cloud_harness: Callable[..., Any], fake: Any
) -> None:
    from sloth_kubernetes.cloud.rules import cluster_rules

    fake.max_rule_count = 1  # the second rule is refused (400 "maximum rule count reached")
    harness = cloud_harness(name="vfw", count=1)
    rules = cluster_rules(harness.context.config, None)

    with pytest.raises(Exception, match="maximum rule count reached"):
        harness.driver().create_firewall("vfw", rules, None)

    # Deleted, so the next run creates it again instead of adopting a group missing rules.
    method, path, _ = fake.received[-1]
    assert method == "DELETE"
    assert path.startswith("/v2/firewalls/")
    assert fake.firewalls == {}
