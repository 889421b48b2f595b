"""The generic cloud provider: ``provision_nodes``, ``list_nodes`` and ``destroy_nodes`` for any
:class:`~sloth_kubernetes.cloud.contract.CloudDriver`.

Provisioning, per call: the cluster's shared resources are found by tag or created (SSH key,
private network, firewall); machines already tagged with a node's name are adopted; the rest are
created in parallel — one driver per worker thread, at most the provider's concurrency — each
with user data that installs the operator key and a host key generated here (pinned in the
record); then one listing per poll interval waits for all of them to run. A machine that is not
running within ``createTimeout`` is deleted and reported by name. Destroying deletes the machines,
waits until they are gone, then — when no machine of the cluster is left — the firewall, network
and key, and lists by tag to prove nothing remains.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import PartialProvisionError, ProviderError, SlothError
from ..model.cluster import SizeRequest
from ..model.nodes import NodeRecord, NodeRequest
from .catalog import Catalog, CatalogCache
from .contract import NODE_TAG, CloudDriver, Machine, MachineSpec, Resource, cluster_tags
from .ratelimit import RateLimit
from .retry import RetryableCreateError, classify, current_node
from .rules import cluster_rules
from .session import Session
from .settings import CloudSettings
from .sizing import choose_size, describe_size, resolve_image
from .userdata import HostKey, cloud_config, new_host_key

if TYPE_CHECKING:
    from ..context import ClusterContext


@attrs.frozen
class ProviderSpec:
    """What a cloud plugin declares: its driver, settings model and defaults."""

    name: str
    description: str
    driver: type[CloudDriver]
    settings: type[CloudSettings]
    rate_limit: RateLimit
    concurrency: int = 16

    @property
    def features(self) -> frozenset[str]:
        return self.driver.features


@attrs.define
class _Created:
    request: NodeRequest
    machine: Machine
    host_key: HostKey | None
    size: str
    image: str


class CloudProvider:
    """The three node hooks for one cloud, over its driver."""

    def __init__(self, spec: ProviderSpec, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self._clock = clock

    @property
    def name(self) -> str:
        return self.spec.name

    def session(self, context: ClusterContext) -> Session:
        return Session(self.spec, context)

    # ------------------------------------------------------------------ sizing and images

    def catalog(self, session: Session) -> Catalog:
        driver = session.driver()

        def fetch() -> Catalog:
            with session.errors("listing sizes and images"):
                return Catalog(tuple(driver.list_sizes()), tuple(driver.list_images()))

        cache = CatalogCache(
            session.context.data_dir / "cache" / "catalog", ttl=session.settings.catalog_ttl
        )
        return cache.get(self.name, driver.endpoint, session.region, fetch)

    def resolve_size(self, session: Session, size: Any) -> tuple[str, str]:
        """(size id, how it was chosen) for a pool's ``size``."""
        if isinstance(size, SizeRequest):
            if "catalog" not in self.spec.features:
                raise ProviderError(
                    f"{self.name} cannot choose a size from {{cpu, memoryGiB}}",
                    provider=self.name,
                    hint="name one of the provider's sizes in the pool's `size`",
                )
            chosen = choose_size(self.name, session.region, self.catalog(session).sizes, size)
            return chosen.id, f"cheapest match: {describe_size(chosen)}"
        if size:
            return str(size), "as named"
        return self.spec.driver.default_size, "provider default"

    def describe_sizes(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> dict[str, str]:
        """Node name → the size that will be used and why (for the plan)."""
        with self.session(context) as session:
            return {r.name: self._size_text(session, r) for r in requests}

    def _size_text(self, session: Session, request: NodeRequest) -> str:
        size, why = self.resolve_size(session, request.size)
        return f"{size} ({why})" if why != "as named" else size

    def _check_region(self, session: Session, requests: Sequence[NodeRequest]) -> None:
        other = sorted({r.region for r in requests if r.region and r.region != session.region})
        if other:
            raise ProviderError(
                f"{self.name}: pools ask for region(s) {', '.join(other)} but this provider "
                f"block works in {session.region}",
                provider=self.name,
                hint=f"set spec.providers.{self.name}.region, or leave the pools' region out "
                "(one region per provider block)",
            )

    # ------------------------------------------------------------------ provision

    def provision(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord]:
        if context.operator is None:
            raise ProviderError(
                f"{self.name}: no operator key to install on the machines",
                provider=self.name,
                hint="run through `up`, which creates the cluster's operator key",
            )
        with self.session(context) as session:
            self._check_region(session, requests)
            driver = session.driver()
            shared = self._shared_resources(session, context.operator.public_key)
            with session.errors("listing machines"):
                existing = {self._node_name(m): m for m in driver.list_machines(context.name)}
            work: list[_Created] = []
            todo = []
            for request in requests:
                machine = existing.get(request.name)
                if machine is not None and machine.state != "terminated":
                    size, _ = self.resolve_size(session, request.size)
                    image = resolve_image(driver.image_aliases, request.image)
                    work.append(_Created(request, machine, None, size, image))
                    context.event("provision", "adopting existing machine", node=request.name)
                else:
                    todo.append(request)
            failed: dict[str, str] = {}
            work += self._create_all(session, todo, shared, failed)
            records = self._wait_running(session, work, failed)
            self._report_retries(session)
            if failed:
                shown = sorted(failed.items())[:3]
                listing = "; ".join(f"{name}: {why}" for name, why in shown)
                more = f"; and {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
                raise PartialProvisionError(
                    f"{self.name}: {len(failed)} machine(s) failed: {listing}{more}",
                    records=records,
                    failed=failed,
                    provider=self.name,
                )
            return records

    def _shared_resources(self, session: Session, public_key: str) -> dict[str, Resource | None]:
        """Find by tag, or create: SSH key, network, firewall (each where the cloud has one).

        The key and the network+firewall chain are independent: they are prepared concurrently
        (each thread with its own driver), which halves the fixed cost of a first run.
        """
        cluster = session.context.name
        features = self.spec.features
        settings = session.settings
        shared: dict[str, Resource | None] = {"key": None, "network": None, "firewall": None}

        def key() -> None:
            if "ssh-key-import" in features:
                driver = session.driver()
                with session.errors("importing the SSH key"):
                    keys = driver.list_keys(cluster)
                    shared["key"] = keys[0] if keys else driver.import_key(cluster, public_key)

        def network_and_firewall() -> None:
            driver = session.driver()
            if "private-network" in features and settings.private_network:
                with session.errors("creating the private network"):
                    networks = driver.list_networks(cluster)
                    shared["network"] = (
                        networks[0]
                        if networks
                        else driver.create_network(cluster, settings.network_cidr)
                    )
            if "firewall" in features and settings.firewall:
                cidr = settings.network_cidr if shared["network"] is not None else None
                rules = cluster_rules(session.context.config, cidr)
                with session.errors("creating the firewall"):
                    firewalls = driver.list_firewalls(cluster)
                    shared["firewall"] = (
                        firewalls[0]
                        if firewalls
                        else driver.create_firewall(cluster, rules, shared["network"])
                    )

        with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="sloth-shared") as pool:
            for future in [pool.submit(key), pool.submit(network_and_firewall)]:
                future.result()
        return shared

    def _create_all(
        self,
        session: Session,
        requests: Sequence[NodeRequest],
        shared: dict[str, Resource | None],
        failed: dict[str, str],
    ) -> list[_Created]:
        if not requests:
            return []
        context = session.context
        assert context.operator is not None
        operator_key = context.operator.public_key
        # Sizes and images are resolved once, before the threads start.
        sizes = {r.name: self.resolve_size(session, r.size)[0] for r in requests}
        aliases = self.spec.driver.image_aliases
        images: dict[str | None, str] = {}
        for image in {r.image for r in requests}:
            with session.errors(f"finding image {image or 'default'}"):
                images[image] = session.driver().resolve_image(resolve_image(aliases, image))

        def create(request: NodeRequest) -> _Created:
            token = current_node.set(request.name)
            try:
                host_key = new_host_key()
                spec = MachineSpec(
                    name=request.name,
                    cluster=context.name,
                    size=sizes[request.name],
                    image=images[request.image],
                    region=session.region,
                    user_data=cloud_config(
                        operator_key=operator_key, host_key=host_key, hostname=request.name
                    ),
                    tags=cluster_tags(context.name, request.name),
                    key=shared["key"],
                    firewall=shared["firewall"],
                    network=shared["network"],
                    operator_key=operator_key,
                )
                context.event("provision", f"creating ({spec.size})", node=request.name)
                machine = self._create_once(session, spec)
                return _Created(request, machine, host_key, spec.size, spec.image)
            finally:
                current_node.reset(token)

        created = []
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(session.concurrency, len(requests)),
            thread_name_prefix=f"sloth-{self.name}",
        ) as pool:
            futures = {pool.submit(create, r): r for r in requests}
            for future in concurrent.futures.as_completed(futures):
                request = futures[future]
                try:
                    created.append(future.result())
                except SlothError as error:
                    failed[request.name] = str(error)
                except Exception as error:  # a driver bug must not lose the other machines
                    failed[request.name] = str(session.translate(error, "creating"))
        return created

    def _create_once(self, session: Session, spec: MachineSpec) -> Machine:
        """Create, never twice: after an ambiguous failure, look the machine up by its tag."""
        driver = session.driver()
        attempt = 0
        while True:
            try:
                with session.errors(f"creating {spec.name}"):
                    return driver.create_machine(spec)
            except RetryableCreateError as error:
                attempt += 1
                with session.errors(f"looking for {spec.name}"):
                    found = [
                        m
                        for m in driver.list_machines(spec.cluster)
                        if self._node_name(m) == spec.name and m.state != "terminated"
                    ]
                if found:
                    return found[0]
                if attempt >= session.guard.policy.attempts:
                    raise ProviderError(
                        f"{self.name}: creating {spec.name} kept failing: {error}",
                        provider=self.name,
                        hint="re-run `up` later; nothing was left behind",
                    ) from error
                verdict = classify(error.__cause__ or error)
                session.guard.stats.add(verdict.reason or "create")
                time.sleep(session.guard.backoff(attempt, verdict))

    def _wait_running(
        self, session: Session, work: list[_Created], failed: dict[str, str]
    ) -> list[NodeRecord]:
        driver, context = session.driver(), session.context
        timeout = session.settings.create_timeout
        deadline = self._clock() + timeout
        pending = {w.request.name: w for w in work}
        done: list[NodeRecord] = []
        latest = {w.request.name: w.machine for w in work}
        while pending:
            for name in [n for n in pending if latest[n].state == "running"]:
                item = pending.pop(name)
                done.append(self._record(session, item, latest[name]))
                context.event("provision", "running", node=name, status="done")
            if not pending:
                break
            if self._clock() >= deadline:
                for name, item in sorted(pending.items()):
                    state = latest[name].state
                    failed[name] = (
                        f"machine {name} ({latest[name].id}) did not reach running within "
                        f"{timeout:g} s (last state: {state}); it was deleted"
                    )
                    with session.errors(f"deleting {name} after its timeout"):
                        driver.destroy_machine(latest[name])
                    _ = item
                break
            time.sleep(session.settings.poll_interval)
            with session.errors("checking the new machines"):
                for machine in driver.list_machines(context.name):
                    name = self._node_name(machine)
                    if name in pending and machine.id == pending[name].machine.id:
                        latest[name] = machine
        return done

    def _record(self, session: Session, item: _Created, machine: Machine) -> NodeRecord:
        request = item.request
        return NodeRecord(
            cluster=session.context.name,
            name=request.name,
            pool=request.pool,
            provider=self.name,
            cloud_id=machine.id,
            roles=request.roles,
            public_address=machine.public_ip,
            private_address=machine.private_ip,
            host_key=item.host_key.public if item.host_key else None,
            labels=dict(request.labels),
            extra={
                "region": session.region,
                "size": item.size,
                "image": item.image,
                "apiRetries": session.guard.stats.by_node.get(request.name, 0),
                **({} if item.host_key else {"adopted": True}),
            },
            ssh_user="root",
        )

    def _report_retries(self, session: Session) -> None:
        stats = session.guard.stats
        if session.retries:
            session.context.event(
                "provision",
                f"{self.name}: {stats.describe()}",
                retries=session.retries,
                retryReasons=dict(stats.by_reason),
                provider=self.name,
            )

    @staticmethod
    def _node_name(machine: Machine) -> str:
        return machine.tags.get(NODE_TAG) or machine.name

    # ------------------------------------------------------------------ list

    def list_nodes(self, context: ClusterContext) -> list[NodeRecord]:
        with self.session(context) as session:
            with session.errors("listing machines"):
                machines = session.driver().list_machines(context.name)
            return [
                NodeRecord(
                    cluster=context.name,
                    name=self._node_name(m),
                    provider=self.name,
                    cloud_id=m.id,
                    public_address=m.public_ip,
                    private_address=m.private_ip,
                    extra={"region": session.region, "state": m.state},
                )
                for m in machines
                if m.state != "terminated"
            ]

    # ------------------------------------------------------------------ destroy

    def destroy(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
        with self.session(context) as session:
            driver = session.driver()
            wanted = {n.name for n in nodes}
            ids = {n.cloud_id for n in nodes if n.cloud_id}
            with session.errors("listing machines"):
                live = [
                    m
                    for m in driver.list_machines(context.name)
                    if (self._node_name(m) in wanted or m.id in ids) and m.state != "terminated"
                ]
            self._destroy_machines(session, live)
            self._wait_gone(session, {m.id for m in live})
            with session.errors("listing machines"):
                remaining = [
                    m for m in driver.list_machines(context.name) if m.state != "terminated"
                ]
            if not remaining:
                self._delete_shared(session)
            self._report_retries(session)
            return sorted(wanted)

    def _destroy_machines(self, session: Session, machines: list[Machine]) -> None:
        if not machines:
            return

        def destroy(machine: Machine) -> None:
            token = current_node.set(self._node_name(machine))
            try:
                with session.errors(f"deleting {self._node_name(machine)}"):
                    session.driver().destroy_machine(machine)
            finally:
                current_node.reset(token)

        with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(session.concurrency, len(machines)),
            thread_name_prefix=f"sloth-{self.name}",
        ) as pool:
            for future in [pool.submit(destroy, m) for m in machines]:
                future.result()

    def _wait_gone(self, session: Session, ids: set[str]) -> None:
        deadline = self._clock() + session.settings.create_timeout
        driver = session.driver()
        while ids:
            with session.errors("waiting for machines to be deleted"):
                still = {
                    m.id
                    for m in driver.list_machines(session.context.name)
                    if m.id in ids and m.state != "terminated"
                }
            if not still:
                return
            if self._clock() >= deadline:
                raise ProviderError(
                    f"{self.name}: machines still exist after deleting them: "
                    + ", ".join(sorted(still)),
                    provider=self.name,
                    hint="run `destroy` again; check the cloud's console",
                )
            time.sleep(session.settings.poll_interval)

    def _delete_shared(self, session: Session) -> None:
        driver, cluster = session.driver(), session.context.name
        features = self.spec.features
        with session.errors("deleting the firewall, network and SSH key"):
            if "firewall" in features:
                for firewall in driver.list_firewalls(cluster):
                    driver.delete_firewall(firewall)
            if "private-network" in features:
                for network in driver.list_networks(cluster):
                    driver.delete_network(network)
            if "ssh-key-import" in features:
                for key in driver.list_keys(cluster):
                    driver.delete_key(key)
            leftovers = driver.list_resources(cluster)
        if leftovers:
            raise ProviderError(
                f"{self.name}: resources tagged with cluster {cluster!r} remain: "
                + ", ".join(f"{r.kind} {r.name} ({r.id})" for r in leftovers),
                provider=self.name,
                hint="run `destroy` again; if they persist, delete them in the cloud's console",
            )
