"""Credentials, throttling and a machine that never boots, on recorded exchanges."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from conftest import PROJECT
from sloth_kubernetes.errors import PartialProvisionError, ProviderError

pytestmark = pytest.mark.emulator

VARIABLE = "GOOGLE_APPLICATION_CREDENTIALS"


def _refusal(harness: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    error = caught.value
    assert "\n" not in str(error)
    assert "gcp" in str(error)
    return error


@pytest.mark.parametrize("scenario", ["bad-key", "token-revoked"])
def test_recorded_refused_credentials_are_one_line_naming_the_variable(
    scenario: str, replay: Callable[[str], Any], cloud_harness: Callable[..., Any]
) -> None:
    # bad-key: the token endpoint refuses the JWT (400 invalid_grant); token-revoked: the token
    # is issued but Compute answers 401. Both take the session's "refused credentials" path.
    api = replay(scenario)
    harness = cloud_harness(name="demo", count=1, endpoint=api.endpoint)
    error = _refusal(harness)
    assert f"${{env:{VARIABLE}}}" in str(error)
    assert "refused the credentials" in str(error)
    assert error.hint is not None
    assert VARIABLE in error.hint
    assert not any(r[0] == "POST" and "/instances" in r[1] for r in api.received)
    assert api.unmatched == []


def test_recorded_permission_denied_names_the_key_and_the_roles(
    replay: Callable[[str], Any], cloud_harness: Callable[..., Any]
) -> None:
    api = replay("forbidden")
    harness = cloud_harness(name="demo", count=1, endpoint=api.endpoint)
    error = _refusal(harness)
    assert f"${{env:{VARIABLE}}}" in str(error)
    assert "compute.networks.list" in str(error)
    assert error.hint is not None
    assert "roles/compute" in error.hint
    assert [r[1] for r in api.received].count(
        f"/compute/v1/projects/{PROJECT}/global/networks"
    ) == 1
    assert api.unmatched == []


def test_missing_project_and_unreadable_key_are_clear(
    cloud_harness: Callable[..., Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, str(tmp_path / "missing.json"))
    harness = cloud_harness(count=1, endpoint="http://127.0.0.1:9")
    error = _refusal(harness)
    assert "cannot read the service account key" in str(error)
    assert VARIABLE in str(error)

    (tmp_path / "adc.json").write_text('{"type": "authorized_user", "client_id": "x"}')
    monkeypatch.setenv(VARIABLE, str(tmp_path / "adc.json"))
    error = _refusal(harness)
    assert "authorized_user" in str(error)
    assert error.hint
    assert "service-accounts" in error.hint

    harness = cloud_harness(count=1, endpoint="http://127.0.0.1:9", project=None)
    error = _refusal(harness)
    assert "spec.providers.gcp.project" in str(error)


def test_recorded_throttling_and_unavailable_are_retried_without_a_second_create(
    replay: Callable[[str], Any], cloud_harness: Callable[..., Any]
) -> None:
    # listing: 403 rateLimitExceeded; create: 429 (retried at once, the cloud did not act on
    # it), then 503 (ambiguous: the machine is looked up by label before creating again).
    api = replay("throttled")
    harness = cloud_harness(
        name="demo", count=1, endpoint=api.endpoint, privateNetwork=False, firewall=False
    )
    (record,) = harness.provision()
    assert record.name == "demo-server-1"
    assert record.public_address == "34.76.10.21"
    creates = [
        r.status
        for r in api.requests.records
        if r.method == "POST" and r.path.endswith("/instances")
    ]
    assert creates == [429, 503, 200]  # one instance created
    listings = [m for m, p, _ in api.received if p.endswith("/aggregated/instances")]
    assert len(listings) == 3  # rate limited, before creating, after the 503
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == 3
    assert summary["retryReasons"] == {"429": 2, "503": 1}
    assert record.extra["apiRetries"] == 2  # the create's; the listing was nobody's
    harness.destroy([record])
    assert harness.resources() == []
    assert api.unmatched == []


def test_recorded_machine_that_never_runs_is_named_and_deleted(
    replay: Callable[[str], Any], cloud_harness: Callable[..., Any]
) -> None:
    api = replay("never-running")
    harness = cloud_harness(
        name="demo", count=1, endpoint=api.endpoint, privateNetwork=False, firewall=False,
        createTimeout=0.3,
    )  # fmt: skip
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "demo-server-1" in message
    assert "did not reach running" in message
    assert "it was deleted" in message
    deletes = [p for m, p, _ in api.received if m == "DELETE"]
    assert deletes == [
        f"/compute/v1/projects/{PROJECT}/zones/europe-west1-b/instances/demo-server-1"
    ]
    assert caught.value.records == []
    assert api.unmatched == []
    assert os.environ[VARIABLE].endswith("service-account.json")


def test_recorded_name_conflict_adopts_our_instance_and_refuses_a_foreign_one(
    replay: Callable[[str], Any], cloud_harness: Callable[..., Any]
) -> None:
    # 409 alreadyExists on insert: an earlier attempt's lost reply (our labels: adopted), or an
    # unrelated instance with the node's name (refused, named, left alone).
    api = replay("already-exists")
    harness = cloud_harness(
        name="demo", count=2, endpoint=api.endpoint, privateNetwork=False, firewall=False
    )
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    (record,) = caught.value.records
    assert record.name == "demo-server-1"
    assert record.public_address == "34.76.10.21"
    assert list(caught.value.failed) == ["demo-agent-1"]
    assert "already exists" in caught.value.failed["demo-agent-1"]
    assert "team" in caught.value.failed["demo-agent-1"]
    harness.destroy([record])
    assert [p.rsplit("/", 1)[-1] for m, p, _ in api.received if m == "DELETE"] == ["demo-server-1"]
    assert harness.resources() == []
    assert api.unmatched == []
