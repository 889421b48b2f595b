"""Faults in front of DigitalOcean: rate limits and 503s, a droplet that never boots, bad token."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sloth_kubernetes.cloud import PartialProvisionError
from sloth_kubernetes.errors import ProviderError


def test_thirty_percent_429_and_503_ten_droplets_no_duplicate_retries_reported(
    cloud_harness: Callable[..., Any], digitalocean_emulator: Any, faulty_proxy: Any
) -> None:
    proxy = faulty_proxy(digitalocean_emulator, fault_rate=0.3, retry_after=0, seed=7)
    harness = cloud_harness(count=10, endpoint=proxy.endpoint)
    proxy.reset()
    records = harness.provision()
    faults = proxy.counters.faults
    droplets = list(digitalocean_emulator.fake.droplets.values())
    assert len(records) == 10
    assert sorted(d["name"] for d in droplets) == sorted(r.name for r in records)  # no duplicate
    assert faults > 0
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == faults  # every injected fault was retried, once
    assert set(summary["retryReasons"]) <= {"429", "503"}
    assert sum(r.extra["apiRetries"] for r in records) <= faults
    proxy.configure(type(proxy.policy)())  # no faults while cleaning up
    harness.destroy(records)
    assert harness.resources() == []


def test_droplet_that_never_runs_times_out_by_name_and_is_deleted(
    cloud_harness: Callable[..., Any],
    digitalocean_emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = digitalocean_emulator.fake
    monkeypatch.setattr(fake, "shown", lambda droplet: {**droplet, "status": "new"})
    harness = cloud_harness(count=1, createTimeout=0.3)
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    (name,) = [r.name for r in harness.requests()]
    assert f"machine {name} " in str(caught.value)
    assert "did not reach running within 0.3 s" in str(caught.value)
    assert caught.value.failed.keys() == {name}
    assert fake.droplets == {}  # cleaned up


def test_recorded_unauthorized_token_is_one_line_naming_provider_and_variable(
    cloud_harness: Callable[..., Any], recorded_api: Any, tmp_path: Path
) -> None:
    scenario = tmp_path / "unauthorized"
    scenario.mkdir()
    exchange = {
        "request": {"method": "GET", "path": "/v2/account/keys"},
        "response": {
            "status": 401,
            "body": {"id": "unauthorized", "message": "Unable to authenticate you"},
        },
    }
    (scenario / "001-keys.json").write_text(json.dumps(exchange), encoding="utf-8")
    server = recorded_api(scenario)
    harness = cloud_harness(count=1, endpoint=server.endpoint)
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("digitalocean: the API refused the credentials from ")
    assert "${env:DIGITALOCEAN_TOKEN}" in message
    assert caught.value.hint == "set DIGITALOCEAN_TOKEN to a valid key for digitalocean"
