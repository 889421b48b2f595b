"""Recorded responses (no Vultr server or spec exists here): refusals, busy answers, timeouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sloth_kubernetes.errors import PartialProvisionError, ProviderError

pytestmark = pytest.mark.emulator


def test_recorded_invalid_key_is_one_line_naming_provider_and_variable(
    cloud_harness: Callable[..., Any], vultr_api: Callable[[str], Any]
) -> None:
    api = vultr_api("invalid-key")  # 401 {"error": "Invalid API token.", "status": 401}
    harness = cloud_harness(name="vbad", count=1, endpoint=api.endpoint)

    with pytest.raises(ProviderError) as caught:
        harness.provision()

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("vultr: the API refused the credentials from ${env:VULTR_API_KEY}")
    assert caught.value.http_status == 401
    assert "VULTR_API_KEY" in (caught.value.hint or "")
    assert "V" * 36 not in message  # the key itself is never shown
    assert not [p for m, p, _ in api.received if m != "GET"]  # nothing was attempted
    assert api.unmatched == []


def test_recorded_missing_key_names_the_variable(
    cloud_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = cloud_harness(name="vnokey", count=1, endpoint="http://127.0.0.1:9")
    monkeypatch.delenv("VULTR_API_KEY")

    with pytest.raises(ProviderError, match=r"^vultr: no credentials: .*VULTR_API_KEY"):
        harness.provision()


def test_recorded_busy_answers_are_retried_and_a_create_is_never_sent_twice(
    cloud_harness: Callable[..., Any], vultr_api: Callable[[str], Any], sent: Any
) -> None:
    # 503 on the key listing, 429 on one create (Vultr did nothing: repeated), and a lost reply
    # (502) on the other create (Vultr did create it: found by its tag, never sent again).
    api = vultr_api("faults")
    harness = cloud_harness(
        name="vflt", count=2, endpoint=api.endpoint, firewall=False, privateNetwork=False
    )

    records = harness.provision()

    assert {r.name for r in records} == {"vflt-server-1", "vflt-agent-1"}
    labels = [body["label"] for body in sent(api, "POST", "/v2/instances")]
    assert sorted(labels) == ["vflt-agent-1", "vflt-server-1", "vflt-server-1"]
    assert all("attach_vpc" not in b for b in sent(api, "POST", "/v2/instances"))
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == 2
    assert summary["retryReasons"] == {"503": 1, "429": 1}
    by_name = {r.name: r for r in records}
    assert by_name["vflt-server-1"].extra["apiRetries"] == 1  # the 429, counted for its node

    harness.destroy(records)
    assert harness.resources() == []
    assert api.unmatched == []


def test_recorded_machine_that_never_runs_is_named_and_deleted(
    cloud_harness: Callable[..., Any], vultr_api: Callable[[str], Any]
) -> None:
    api = vultr_api("never-running")  # stays "pending" in every listing
    harness = cloud_harness(
        name="vstk",
        count=1,
        endpoint=api.endpoint,
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
    instance = "a0b1c2d3-e4f5-4a6b-8c7d-e8f9a0b1c2d3"
    assert ("DELETE", f"/v2/instances/{instance}", None) in api.received
    assert api.unmatched == []


def test_recorded_firewall_group_with_a_refused_rule_is_not_left_half_built(
    cloud_harness: Callable[..., Any], vultr_api: Callable[[str], Any]
) -> None:
    from sloth_kubernetes.cloud.rules import cluster_rules

    api = vultr_api("firewall-rule-refused")  # the second rule is refused (400)
    harness = cloud_harness(name="vfw", count=1, endpoint=api.endpoint)
    rules = cluster_rules(harness.context.config, None)

    with pytest.raises(Exception, match="maximum rule count reached"):
        harness.driver().create_firewall("vfw", rules, None)

    # Deleted, so the next run creates it again instead of adopting a group missing rules.
    assert api.received[-1] == ("DELETE", "/v2/firewalls/5678ef01", None)
    assert api.unmatched == []
