"""Credentials, permissions, throttling, conflicts and a machine that never boots, on the fake."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from gce_fake.support import PROJECT, ZONE, insert_instance, paths, rsa_key_pem
from sloth_kubernetes.cloud import MachineSpec
from sloth_kubernetes.errors import PartialProvisionError, ProviderError

pytestmark = pytest.mark.emulator

VARIABLE = "GOOGLE_APPLICATION_CREDENTIALS"
INSTANCES = f"/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances"


def _refusal(harness: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        harness.provision()
    error = caught.value
    assert "\n" not in str(error)
    assert "gcp" in str(error)
    return error


def _assert_refused_credentials(error: ProviderError, gce: Any) -> None:
    assert f"${{env:{VARIABLE}}}" in str(error)
    assert "refused the credentials" in str(error)
    assert error.hint is not None
    assert VARIABLE in error.hint
    assert INSTANCES not in paths(gce, "POST")


def test_a_key_google_does_not_know_is_refused_in_one_line_naming_the_variable(
    gce: Any, cloud_harness: Callable[..., Any], key_file: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # A key the service account does not have (deleted, or another account's): the token
    # endpoint refuses the assertion's signature (400 invalid_grant).
    monkeypatch.setenv(VARIABLE, str(key_file(gce.endpoint + "/token", pem=rsa_key_pem())))
    harness = cloud_harness(name="demo", count=1)
    _assert_refused_credentials(_refusal(harness), gce)
    assert paths(gce, "POST") == ["/token"]  # the refusal is not retried


def test_a_revoked_token_is_refused_in_one_line_naming_the_variable(
    gce: Any, cloud_harness: Callable[..., Any]
) -> None:
    harness = cloud_harness(name="demo", count=1)
    harness.driver().check_credentials()  # a token is issued and cached
    gce.fake.revoke_tokens()  # then revoked: Compute answers 401
    _assert_refused_credentials(_refusal(harness), gce)


def test_permission_denied_names_the_key_and_the_roles(
    gce: Any, cloud_harness: Callable[..., Any]
) -> None:
    gce.fake.forbid("compute.networks.list", "compute.networks.list")
    harness = cloud_harness(name="demo", count=1)
    error = _refusal(harness)
    assert f"${{env:{VARIABLE}}}" in str(error)
    assert "compute.networks.list" in str(error)
    assert error.hint is not None
    assert "roles/compute" in error.hint
    assert paths(gce, "GET").count(f"/compute/v1/projects/{PROJECT}/global/networks") == 1


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


def test_throttling_and_unavailable_are_retried_without_a_second_create(
    gce: Any, cloud_harness: Callable[..., Any]
) -> None:
    # listing: 403 rateLimitExceeded; create: 429 (retried at once, the cloud did not act on
    # it), then 503 (ambiguous: the machine is looked up by label before creating again).
    fake = gce.fake
    fake.fail_next("GET", ".*/aggregated/instances", 403)  # rateLimitExceeded
    fake.fail_next("POST", INSTANCES, 429)
    fake.fail_next("POST", INSTANCES, 503)  # before acting
    harness = cloud_harness(name="demo", count=1, privateNetwork=False, firewall=False)
    (record,) = harness.provision()
    assert record.name == "demo-server-1"
    assert record.public_address == "34.76.10.21"
    creates = [r.status for r in gce.requests.records
               if r.method == "POST" and r.path == INSTANCES]  # fmt: skip
    assert creates == [429, 503, 200]  # one instance created
    assert list(fake.instances) == [(ZONE, "demo-server-1")]
    listings = [p for p in paths(gce, "GET") if p.endswith("/aggregated/instances")]
    assert len(listings) >= 3  # rate limited, before creating, after the 503 (then the polls)
    (summary,) = [e for e in harness.events if e.get("retries")]
    assert summary["retries"] == 3
    assert summary["retryReasons"] == {"429": 2, "503": 1}
    assert record.extra["apiRetries"] == 2  # the create's; the listing was nobody's
    harness.destroy([record])
    assert harness.resources() == []


def test_machine_that_never_runs_is_named_and_deleted(
    gce: Any, cloud_harness: Callable[..., Any]
) -> None:
    gce.fake.never_running("demo-server-1")
    harness = cloud_harness(
        name="demo", count=1, privateNetwork=False, firewall=False, createTimeout=0.3
    )
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    message = str(caught.value)
    assert "demo-server-1" in message
    assert "did not reach running" in message
    assert "it was deleted" in message
    assert paths(gce, "DELETE") == [f"{INSTANCES}/demo-server-1"]
    assert caught.value.records == []
    assert gce.fake.instances == {}
    assert os.environ[VARIABLE].endswith("service-account.json")


def test_a_failed_create_operation_is_reported_with_its_error(
    gce: Any, cloud_harness: Callable[..., Any]
) -> None:
    # GCE accepts the insert, then the zone has no capacity: the operation ends DONE with an
    # error, which is the create's error.
    gce.fake.fail_operation("compute.instances.insert", "ZONE_RESOURCE_POOL_EXHAUSTED",
                            f"The zone '{ZONE}' does not have enough resources available "
                            "to fulfill the request.", 503)  # fmt: skip
    harness = cloud_harness(name="demo", count=1, privateNetwork=False, firewall=False,
                            retryAttempts=1)  # fmt: skip
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    failure = caught.value.failed["demo-server-1"]
    assert "creating demo-server-1 failed" in failure
    assert "does not have enough resources" in failure
    assert gce.fake.instances == {}  # a failed insert leaves no instance behind


def test_name_conflict_refuses_a_foreign_instance_and_adopts_our_own(
    gce: Any, cloud_harness: Callable[..., Any]
) -> None:
    # An instance with a node's name but someone else's labels: 409 alreadyExists on insert,
    # refused, named, left alone.
    insert_instance(gce, "demo-agent-1", {"team": "data"})
    harness = cloud_harness(name="demo", count=2, privateNetwork=False, firewall=False)
    with pytest.raises(PartialProvisionError) as caught:
        harness.provision()
    (record,) = caught.value.records
    assert record.name == "demo-server-1"
    assert list(caught.value.failed) == ["demo-agent-1"]
    assert "already exists" in caught.value.failed["demo-agent-1"]
    assert "team" in caught.value.failed["demo-agent-1"]
    conflicts = [r for r in gce.requests.records if r.status == 409]
    assert [(r.method, r.path) for r in conflicts] == [("POST", INSTANCES)]

    # An insert whose earlier reply was lost: the instance exists with this node's labels and
    # the second insert's 409 adopts it instead of failing.
    driver = harness.driver()
    (ours,) = driver.list_machines("demo")
    spec = MachineSpec("demo-server-1", "demo", "e2-standard-2",
                       driver.image_aliases["ubuntu-24.04"], "europe-west1", "#cloud-config\n",
                       dict(ours.tags))  # fmt: skip
    assert driver.create_machine(spec).id == ours.id
    assert len(gce.fake.instances) == 2

    harness.destroy([record])
    assert [p.rsplit("/", 1)[-1] for p in paths(gce, "DELETE")] == ["demo-server-1"]
    assert harness.resources() == []
    assert (ZONE, "demo-agent-1") in gce.fake.instances  # the foreign one is left alone
