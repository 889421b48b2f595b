"""The provider contract test class every cloud provider plugin runs against its local server.

Subclass :class:`ProviderContract` in the plugin's tests, import the ``cloud_harness`` fixture
into the plugin's ``conftest.py``, and provide three fixtures:

* ``cloud`` — the plugin's :class:`~sloth_kubernetes.cloud.CloudProvider`;
* ``provider_block`` — the ``spec.providers.<name>`` block (a dict) pointing ``endpoint`` at the
  emulator, with short ``pollInterval``/``createTimeout``; set the credential variables with
  ``monkeypatch`` in it;
* ``sent_user_data`` — a function ``(machine name) -> str | None`` reading back the user data
  the emulator received (``None`` if the emulator cannot tell).

Class attributes: ``pool`` (extra keys for the node pool, e.g. an image id the emulator knows),
``portable_size`` (a ``{cpu, memoryGiB}`` the catalog can satisfy, and ``expected_size``, the
size id the cheapest match must be), ``network_cidr``, ``fault_body`` (the error body the fault
proxy answers with, for APIs whose clients read no JSON errors, e.g. an XML error; see
:class:`~sloth_kubernetes.testing.emulators.faults.FaultPolicy`).
Each test creates what it needs under a fresh cluster name and destroys it, proving with a listing
by tag that nothing is left. Plain test functions (fault tests, …) get the same harness from the
``cloud_harness`` fixture: import it into the plugin's ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from ..cloud import FEATURES, CloudProvider, FirewallRule
from ..cloud.contract import NODE_TAG
from ..cloud.rules import DEFAULT_MESH_PORT, cluster_rules, permissions
from ..cloud.userdata import public_host_key_in
from ..context import ClusterContext, OperatorKey
from ..errors import ProviderError
from ..model.cluster import KUBERNETES_API_PORT
from ..model.nodes import NodeRecord, NodeRequest

OPERATOR_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMvrWSe0b0pYbLMwS2NBc6B7GOXVmHcpq5iT9MVWmW4h sloth-test"
)


def capture_posts(fake: Any, monkeypatch: pytest.MonkeyPatch, path: str) -> list[dict[str, Any]]:
    """Record the JSON bodies of ``POST path`` requests a Prism-fronted fake receives (to read
    back what a client sent, e.g. user data, which the fakes do not keep)."""
    import json

    bodies: list[dict[str, Any]] = []
    original = fake._dispatch

    def dispatch(method: str, request_path: str, params: Any, raw: bytes, headers: Any) -> Any:
        if method == "POST" and request_path.rstrip("/") == path and raw:
            with contextlib.suppress(ValueError):
                bodies.append(json.loads(raw))
        return original(method, request_path, params, raw, headers)

    monkeypatch.setattr(fake, "_dispatch", dispatch)
    return bodies


#: The security block the firewall tests change to (the harness's default: 198.51.100.0/24 for
#: SSH, 192.0.2.0/24 for the API).
CHANGED_CIDRS = {"sshAllowedCIDRs": ["203.0.113.0/24"], "apiAllowedCIDRs": ["198.51.100.7/32"]}


def wanted_permissions(harness: ClusterHarness) -> set[tuple[str, str, str]]:
    """The firewall permissions ``harness``'s config asks for on its cloud."""
    settings = harness.context.config.spec.providers[harness.cloud.name].settings
    network = "private-network" in harness.cloud.spec.features and settings.private_network
    config = harness.context.config
    return permissions(cluster_rules(config, settings.network_cidr if network else None))


class ClusterHarness:
    """A cluster config, a context and shortcuts to the provider's hooks, for one test."""

    def __init__(
        self, cloud: CloudProvider, context: ClusterContext, config_path: Path | None = None
    ) -> None:
        self.cloud = cloud
        self.context = context
        self.config_path = config_path  # the config file, for tests through the CLI
        self.events: list[dict[str, Any]] = []
        context.emit = self.events.append

    @property
    def name(self) -> str:
        return self.context.name

    def requests(self, count: int | None = None) -> list[NodeRequest]:
        from ..engine.plan import node_requests

        found = node_requests(self.context.config)
        return found if count is None else found[:count]

    def provision(self, count: int | None = None) -> list[NodeRecord]:
        return self.cloud.provision(self.context, self.requests(count))

    def listed(self) -> dict[str, NodeRecord]:
        return {n.name: n for n in self.cloud.list_nodes(self.context)}

    def destroy(self, nodes: list[NodeRecord] | None = None) -> list[str]:
        return self.cloud.destroy(self.context, nodes if nodes is not None else [])

    def driver(self) -> Any:
        return self.cloud.session(self.context).driver()

    def resources(self) -> list[Any]:
        return list(self.driver().list_resources(self.name))


@pytest.fixture
def cloud_harness(
    request: pytest.FixtureRequest,
    cloud: CloudProvider,
    provider_block: dict[str, Any],
    sloth_manager: Any,
    tmp_path: Path,
    faulty_proxy: Any,
    recorded_api: Any,
) -> Iterator[Callable[..., ClusterHarness]]:
    # ``faulty_proxy`` and ``recorded_api`` are requested (not used) so that the servers a test
    # puts in front of the API are stopped after this fixture's clean-up, not before: otherwise
    # the clean-up talks to a stopped server, retries until its budget runs out (20-50 s a
    # test) and leaves the machines behind.
    from ruamel.yaml import YAML

    from ..config.loader import load_config_text

    made: list[ClusterHarness] = []
    owner = request.instance  # a ProviderContract subclass, or None in plain test functions
    default_pool: dict[str, Any] = getattr(owner, "pool", {})
    default_nodes: int = getattr(owner, "nodes", 3)

    def make(
        *,
        count: int | None = None,
        pool: dict[str, Any] | None = None,
        name: str | None = None,
        security: dict[str, list[str]] | None = None,
        **block: Any,
    ) -> ClusterHarness:
        # A fixed name is for recorded responses, which carry the cluster's tags verbatim.
        name = name or f"c{uuid.uuid4().hex[:8]}"
        total = default_nodes if count is None else count
        document = {
            "apiVersion": "sloth-kubernetes.io/v1beta1",
            "kind": "Cluster",
            "metadata": {"name": name},
            "spec": {
                "providers": {cloud.name: {**provider_block, **block}},
                "nodePools": [
                    {
                        "name": pool_name,
                        "provider": cloud.name,
                        "count": number,
                        "roles": roles,
                        **default_pool,
                        **(pool or {}),
                    }
                    for pool_name, number, roles in (
                        ("server", 1, ["server"]),
                        ("agent", total - 1, ["agent"]),
                    )
                ],
                "security": security
                or {"sshAllowedCIDRs": ["198.51.100.0/24"], "apiAllowedCIDRs": ["192.0.2.0/24"]},
            },
        }
        path = tmp_path / f"{name}.yaml"
        with path.open("w", encoding="utf-8") as handle:
            YAML().dump(document, handle)
        config = load_config_text(
            path.read_text(encoding="utf-8"), sloth_manager.hooks.catalog(), file=str(path)
        )
        context = ClusterContext(
            config=config,
            data_dir=tmp_path / "data",
            operator=OperatorKey(OPERATOR_KEY, tmp_path / "unused"),
            concurrency=8,
        )
        harness = ClusterHarness(cloud, context, path)
        made.append(harness)
        return harness

    yield make
    for harness in made:  # clean up even when the test failed half-way
        # best effort: a failing test already reports its own failure
        with contextlib.suppress(Exception):
            harness.destroy(list(harness.listed().values()))


class ProviderContract:
    """The contract; see the module docstring for what a subclass provides."""

    pool: ClassVar[dict[str, Any]] = {}
    portable_size: ClassVar[dict[str, Any] | None] = None
    expected_size: ClassVar[str | None] = None
    nodes: ClassVar[int] = 3
    fault_body: ClassVar[Callable[[int], tuple[str, bytes]] | None] = None

    # ---------------------------------------------------------------- features

    def test_contract_features_are_declared_known_and_include_ssh(
        self, cloud: CloudProvider
    ) -> None:
        assert cloud.spec.features <= set(FEATURES), cloud.spec.features - set(FEATURES)
        assert "ssh" in cloud.spec.features
        assert "tags" in cloud.spec.features

    def test_contract_undeclared_features_raise_not_implemented(
        self, cloud_harness: Callable[..., ClusterHarness]
    ) -> None:
        harness = cloud_harness()
        driver = harness.driver()
        calls = {
            "firewall": lambda: driver.list_firewalls(harness.name),
            "private-network": lambda: driver.list_networks(harness.name),
            "ssh-key-import": lambda: driver.list_keys(harness.name),
            "catalog": driver.list_sizes,
        }
        for feature, call in calls.items():
            if feature in driver.features:
                call()
            else:
                with pytest.raises(NotImplementedError, match=feature):
                    call()

    # ---------------------------------------------------------------- lifecycle

    def test_contract_provision_tags_pins_adopts_and_destroys_everything(
        self,
        cloud_harness: Callable[..., ClusterHarness],
        sent_user_data: Callable[[str], str | None],
    ) -> None:
        harness = cloud_harness()
        records = harness.provision()
        assert sorted(r.name for r in records) == sorted(r.name for r in harness.requests())
        for record in records:
            assert record.cloud_id, record
            assert record.address, record
            assert record.host_key
            assert record.host_key.startswith("ssh-ed25519 ")
            user_data = sent_user_data(record.name)
            if user_data is not None:  # the machine installs exactly the pinned host key
                assert public_host_key_in(user_data) == record.host_key
                assert OPERATOR_KEY in user_data
        listed = harness.listed()
        assert set(listed) == {r.name for r in records}
        assert {n.cloud_id for n in listed.values()} == {r.cloud_id for r in records}

        again = harness.provision()  # a re-run adopts: same machines, nothing new
        assert {r.cloud_id for r in again} == {r.cloud_id for r in records}
        assert len(harness.listed()) == len(records)

        removed = harness.destroy(records)
        assert sorted(removed) == sorted(r.name for r in records)
        assert harness.listed() == {}
        assert harness.resources() == []

    def test_contract_shared_resources_tagged_with_the_cluster_rules_and_network(
        self, cloud_harness: Callable[..., ClusterHarness]
    ) -> None:
        harness = cloud_harness(count=2)
        records = harness.provision()
        driver = harness.driver()
        features = driver.features
        if "ssh-key-import" in features:
            assert len(driver.list_keys(harness.name)) == 1
        if "firewall" in features:
            (firewall,) = driver.list_firewalls(harness.name)
            rules = driver.firewall_rules(firewall)
            found = [FirewallRule(r.protocol, r.ports, r.sources) for r in rules]
            assert FirewallRule("tcp", "22", ("198.51.100.0/24",)) in found
            # the API from security.apiAllowedCIDRs, as the servers' host firewall allows it
            assert FirewallRule("tcp", str(KUBERNETES_API_PORT), ("192.0.2.0/24",)) in found
            assert any(r.protocol == "udp" and r.ports == str(DEFAULT_MESH_PORT) for r in rules), (
                rules
            )
        if "private-network" in features:
            assert len(driver.list_networks(harness.name)) == 1
            cidr = ipaddress.ip_network(
                harness.context.config.spec.providers[harness.cloud.name].settings.network_cidr
            )
            for record in records:
                assert record.private_address, record
                assert ipaddress.ip_address(record.private_address) in cidr, record
        other = cloud_harness(count=1)  # another cluster's listing sees none of it
        assert other.listed() == {}
        harness.destroy(records)
        assert harness.resources() == []

    def test_contract_firewall_follows_changed_cidrs_or_warns(
        self, cloud_harness: Callable[..., ClusterHarness]
    ) -> None:
        harness = cloud_harness(count=1)
        if "firewall" not in harness.cloud.spec.features:
            pytest.skip("this provider declares no firewall")
        records = harness.provision()
        harness.events.clear()  # the same config again: the firewall is as wanted, nothing said
        harness.provision()
        assert not [e for e in harness.events if "firewall" in str(e.get("message"))]
        changed = cloud_harness(count=1, name=harness.name, security=CHANGED_CIDRS)
        driver = changed.driver()
        (firewall,) = driver.list_firewalls(changed.name)
        before = permissions(driver.firewall_rules(firewall))
        changed.provision()
        messages = [e for e in changed.events if "firewall" in str(e.get("message"))]
        rules = permissions(driver.firewall_rules(firewall))
        if driver.firewall_update_blocker is not None:  # never silent: a warning names it
            (warning,) = messages
            assert warning["status"] == "warning", warning
            assert "cannot update them here" in warning["message"]
            assert "+tcp 6443 from 198.51.100.7/32" in warning["message"]
            assert rules == before
        else:
            (event,) = messages
            assert "+tcp 6443 from 198.51.100.7/32" in event["message"], event
            assert "-tcp 6443 from 192.0.2.0/24" in event["message"], event
            assert "-tcp 22 from 198.51.100.0/24" in event["message"], event
            assert rules == wanted_permissions(changed)
            changed.events.clear()  # a third run changes nothing and says nothing about it
            changed.provision()
            assert not [e for e in changed.events if "firewall" in str(e.get("message"))]
            assert permissions(driver.firewall_rules(firewall)) == rules
        changed.destroy(records)
        assert changed.resources() == []

    def test_contract_plan_lists_firewall_rules_and_up_makes_them(
        self, cloud_harness: Callable[..., ClusterHarness], sloth_cli: Any, tmp_path: Path
    ) -> None:
        """Through the CLI: changed CIDRs show in ``plan`` as rules to add and remove (text,
        ``-o json``, ``--detailed-exitcode``), and ``up`` makes them with no machine changing."""
        harness = cloud_harness(count=1)
        if "firewall" not in harness.cloud.spec.features:
            pytest.skip("this provider declares no firewall")
        state = ("--state", f"sqlite:///{tmp_path / 'plan-firewall.db'}")
        until = ("--yes", "up", "--until", "provision", "--no-progress")
        first = sloth_cli(*state, *until, "-f", str(harness.config_path))
        assert first.exit_code == 0, first.stdout + first.stderr
        changed = cloud_harness(count=1, name=harness.name, security=CHANGED_CIDRS)
        config = str(changed.config_path)
        shown = sloth_cli(*state, "-o", "json", "plan", "-f", config)
        assert shown.exit_code == 0, shown.stderr
        rules = [a for a in json.loads(shown.stdout)["actions"] if a["kind"].endswith("-rule")]
        (firewall,) = changed.driver().list_firewalls(changed.name)
        blocker = changed.driver().firewall_update_blocker
        note = f" — cannot be applied here: {blocker}" if blocker else ""
        expected = [
            ("add-rule", "tcp 22 from 203.0.113.0/24"),
            ("add-rule", "tcp 6443 from 198.51.100.7/32"),
            ("remove-rule", "tcp 22 from 198.51.100.0/24"),
            ("remove-rule", "tcp 6443 from 192.0.2.0/24"),
        ]
        assert sorted((a["kind"], a["detail"]) for a in rules) == [
            (kind, detail + note) for kind, detail in expected
        ]
        for action in rules:
            assert action["provider"] == changed.cloud.name, action
            assert action["target"] == f"firewall {firewall.name}", action
            assert action["phase"] == "provision", action
        text = sloth_cli(*state, "plan", "-f", config).stdout
        assert f"+ add-rule firewall {firewall.name}  (tcp 6443 from 198.51.100.7/32" in text
        assert f"- remove-rule firewall {firewall.name}  (tcp 6443 from 192.0.2.0/24" in text
        assert sloth_cli(*state, "plan", "-f", config, "--detailed-exitcode").exit_code == 3
        machines = {m.id for m in changed.driver().list_machines(changed.name)}
        applied = sloth_cli(*state, *until, "-f", config)
        assert applied.exit_code == 0, applied.stdout + applied.stderr
        assert {m.id for m in changed.driver().list_machines(changed.name)} == machines
        after = json.loads(sloth_cli(*state, "-o", "json", "plan", "-f", config).stdout)
        left = sorted((a["kind"], a["detail"]) for a in after["actions"] if "-rule" in a["kind"])
        if blocker is None:
            assert left == []
            assert permissions(changed.driver().firewall_rules(firewall)) == wanted_permissions(
                changed
            )
        else:  # unchanged, still shown, and `up` warned
            assert left == [(kind, detail + note) for kind, detail in expected]
            assert "cannot update them here" in applied.stderr
        changed.destroy(list(changed.listed().values()))
        assert changed.resources() == []

    def test_contract_destroying_some_nodes_keeps_the_shared_resources(
        self, cloud_harness: Callable[..., ClusterHarness]
    ) -> None:
        harness = cloud_harness(count=2)
        first, second = sorted(harness.provision(), key=lambda r: r.name)
        before = {(r.kind, r.id) for r in harness.resources() if r.kind != "machine"}
        assert harness.destroy([first]) == [first.name]
        assert set(harness.listed()) == {second.name}
        after = {(r.kind, r.id) for r in harness.resources() if r.kind != "machine"}
        assert after == before
        harness.destroy([second])
        assert harness.resources() == []

    # ---------------------------------------------------------------- a flaky API

    def flaky_setup(self, request: pytest.FixtureRequest, endpoint: str) -> None:
        """Called with the fault proxy's URL before the flaky-API test: point whatever else
        names the API's address at it (a service-account key's token URI). Nothing by default."""

    def test_contract_flaky_api_completes_once_per_machine(
        self,
        faulty_proxy: Callable[..., Any],  # first: stopped after the harness cleans up
        cloud_harness: Callable[..., ClusterHarness],
        provider_block: dict[str, Any],
        request: pytest.FixtureRequest,
    ) -> None:
        """30 % of requests answered 429 or 503 or cut (before the cloud sees them, or after
        it acted — a create whose reply is lost), seeded: provision and destroy still complete,
        every machine exists exactly once, and each fault cost at most one retry."""
        from urllib.parse import urlsplit

        from ..testing.emulators.faults import ALL_FAULTS, FaultPolicy

        parts = urlsplit(provider_block["endpoint"])
        faults = FaultPolicy(
            fault_rate=0.3,
            statuses=ALL_FAULTS,
            retry_after=0,
            seed=13,
            fault_body=type(self).fault_body,
            # no request meets more faults in a row than the retry budget (8 attempts) absorbs
            # however the threads interleave (a tail of 6 in 7 once hit one straggling delete)
            max_burst=3,
        )
        proxy = faulty_proxy(f"{parts.scheme}://{parts.netloc}")
        self.flaky_setup(request, proxy.endpoint)
        # The default retry budget (8 attempts, 120 s), whatever the plugin's tests shorten; and
        # time for a machine to come up while 30 % of its status polls fail and back off (the
        # plugins' tests shorten createTimeout to seconds, which a faulty run can exceed).
        harness = cloud_harness(
            count=4,
            endpoint=f"{proxy.endpoint}{parts.path}",
            retryAttempts=8,
            retryDeadline=120,
            createTimeout=120,
        )
        proxy.configure(faults)

        records = harness.provision()

        injected, sent = proxy.counters.by_fault, proxy.counters.requests
        proxy.configure(FaultPolicy())  # a quiet look at what the cloud now holds
        assert sorted(r.name for r in records) == sorted(r.name for r in harness.requests())
        machines = harness.driver().list_machines(harness.name)
        names = [m.tags.get(NODE_TAG) or m.name for m in machines if m.state != "terminated"]
        assert sorted(names) == sorted(r.name for r in records), "a machine was created twice"
        assert sum(injected.values()) > 0, injected
        (summary,) = [e for e in harness.events if e.get("retries")]
        assert 0 < summary["retries"] <= sum(injected.values()), (summary, injected)
        # the figures docs/reliability.md quotes (shown with pytest -s)
        print(f"{harness.cloud.name}: provision: {sent} requests, faults {injected}, "
              f"retries {summary['retryReasons']}")  # fmt: skip
        proxy.configure(attrs.evolve(faults, seed=14))

        removed = harness.destroy(records)

        proxy.configure(FaultPolicy())
        assert sorted(removed) == sorted(r.name for r in records)
        assert harness.resources() == []

    # ---------------------------------------------------------------- sizing, credentials

    def test_contract_portable_size_is_the_cheapest_match(
        self, cloud_harness: Callable[..., ClusterHarness], sloth_manager: Any
    ) -> None:
        if self.portable_size is None:
            pytest.skip("this provider declares no catalog")
        from ..engine.run import make_plan
        from ..state import open_store

        harness = cloud_harness(count=1, pool={"size": self.portable_size})
        # Through the hook, as `plan` asks: the plugin must answer describe_nodes.
        described = sloth_manager.hooks.describe_nodes(
            harness.context, harness.cloud.name, harness.requests()
        )
        assert next(iter(described.values())).startswith(f"{self.expected_size} ("), described
        harness.context.data_dir.mkdir(parents=True, exist_ok=True)
        with open_store(f"sqlite:///{harness.context.data_dir / 'plan.db'}") as store:
            plan = make_plan(sloth_manager, store, harness.context.config)
        (create,) = plan.node_actions("create")
        # "smallest match" where the cloud's API lists no prices
        assert any(
            f"{self.expected_size} ({how} match" in create.detail
            for how in ("cheapest", "smallest")
        ), create.detail
        (record,) = harness.provision()
        assert record.extra["size"] == self.expected_size
        harness.destroy([record])

    def test_contract_missing_credentials_name_provider_and_variable(
        self, cloud_harness: Callable[..., ClusterHarness], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        harness = cloud_harness(count=1)
        from ..cloud.session import credential_variables

        settings = harness.context.config.spec.providers[harness.cloud.name].settings
        references = credential_variables(settings)
        if not references:
            pytest.skip("this provider needs no credentials")
        reference = next(iter(references.values()))
        monkeypatch.delenv(reference.target, raising=False)
        with pytest.raises(ProviderError) as caught:
            harness.provision()
        message = str(caught.value)
        assert "\n" not in message
        assert harness.cloud.name in message
        assert reference.target in message
