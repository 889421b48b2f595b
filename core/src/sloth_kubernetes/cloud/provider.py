"""The generic cloud provider: ``provision_nodes``, ``list_nodes`` and ``destroy_nodes`` for any
:class:`~sloth_kubernetes.cloud.contract.CloudDriver`.

Provisioning, per call: the cluster's machines are listed while its shared resources are found
by tag or created (SSH key ∥ private network → firewall ∥ the network's completion, each thread
with its own driver);
machines already tagged with a node's name are adopted; the rest are created in parallel — one
driver per worker thread, at most the provider's concurrency — each with user data that installs
the operator key and a host key generated here (pinned in the record). What a driver deferred to
create machines sooner (:meth:`CloudDriver.settle`: AWS's gateway, route and firewall rules)
finishes meanwhile, and one poll loop — one request per poll interval for every machine not yet
running — watches the machines from their creation on. A machine that is not running within
``createTimeout`` of its creation is deleted and reported by name. With concurrency 1 everything
happens one request at a time. Destroying deletes the machines (in batches where the driver
can), waits until they are gone, then — when no machine of the cluster is left — the firewall,
network and key, and lists by tag to prove nothing remains.

The shared resources live in :mod:`.shared`, deleting machines in :mod:`.teardown`.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..components import Provider
from ..errors import PartialProvisionError, ProviderError, SlothError
from ..model.cluster import SizeRequest
from ..model.nodes import NodeRecord, NodeRequest, ResourceChange
from .catalog import Catalog, CatalogCache
from .contract import NODE_TAG, CloudDriver, Machine, MachineSpec, Resource, cluster_tags
from .ratelimit import RateLimit
from .retry import RetryableCreateError, classify, current_node
from .session import Session
from .settings import CloudSettings
from .shared import delete_shared, planned_firewall_changes, prepare_shared
from .sizing import choose_size, resolve_image, why_chosen
from .teardown import destroy_machines, wait_gone
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
    #: Separate budgets the cloud documents for single API actions, by the key the driver's
    #: ``limit_key`` gives a request (AWS: ``RunInstances`` → 5 at once, 2 per second); a
    #: request without one draws from ``rate_limit``. Unused when the operator sets rateLimit.
    action_limits: Mapping[str, RateLimit] = attrs.field(factory=dict, hash=False)

    @property
    def features(self) -> frozenset[str]:
        return self.driver.features


@attrs.define
class _Created:
    request: NodeRequest
    machine: Machine  # the latest state seen
    host_key: HostKey | None
    size: str
    image: str
    created_at: float  # when the create returned (or the machine was adopted)


class CloudProvider(Provider):
    """A cloud's provider component: the node hooks over its driver. A cloud plugin declares
    ``PROVIDER = CloudProvider(ProviderSpec(...))``; its entry point names that object."""

    def __init__(self, spec: ProviderSpec, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(
            spec.name, spec.description, settings=spec.settings, features=spec.features
        )
        self.spec = spec
        self._clock = clock

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
            return chosen.id, why_chosen(chosen)
        if size:
            return str(size), "as named"
        return self.spec.driver.default_size, "provider default"

    def describe(self, context: ClusterContext, requests: Sequence[NodeRequest]) -> dict[str, str]:
        return self.describe_sizes(context, requests)

    def describe_sizes(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> dict[str, str]:
        """Node name → the size that will be used and why (for the plan)."""
        with self.session(context) as session:
            return {r.name: self._size_text(session, r) for r in requests}

    def shared_changes(self, context: ClusterContext) -> list[ResourceChange]:
        """The rules ``up`` would add to and remove from the cluster's existing firewall."""
        with self.session(context) as session:
            return planned_firewall_changes(session)

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
            prepared = prepare_shared(session, context.operator.public_key)
            failed: dict[str, str] = {}
            try:
                existing = {self._node_name(m): m for m in prepared.machines}
                adopted: list[_Created] = []
                todo = []
                for request in requests:
                    machine = existing.get(request.name)
                    if machine is not None and machine.state != "terminated":
                        size, _ = self.resolve_size(session, request.size)
                        image = resolve_image(self.spec.driver.image_aliases, request.image)
                        adopted.append(_Created(request, machine, None, size, image, self._clock()))
                        context.event("provision", "adopting existing machine", node=request.name)
                    else:
                        todo.append(request)
                records = self._launch(session, adopted, todo, prepared.shared, failed)
            except BaseException:
                prepared.finish(quiet=True)  # never leave a thread working on closed drivers
                raise
            try:
                prepared.finish()
            except SlothError as error:  # the machines exist: keep them, fail the batch
                raise PartialProvisionError(
                    f"{error}; the machines were created and are kept",
                    records=records,
                    failed=failed,
                    provider=self.name,
                ) from error
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

    def _launch(
        self,
        session: Session,
        adopted: list[_Created],
        requests: Sequence[NodeRequest],
        shared: dict[str, Resource | None],
        failed: dict[str, str],
    ) -> list[NodeRecord]:
        """Create the machines of ``requests`` in parallel and wait for them and the adopted
        ones to run; one poll loop watches every machine while the creates go on."""
        if not requests:
            return self._wait_running(session, adopted, {}, failed)
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
                return _Created(request, machine, host_key, spec.size, spec.image, self._clock())
            finally:
                current_node.reset(token)

        with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(session.concurrency, len(requests)),
            thread_name_prefix=f"sloth-{self.name}",
        ) as pool:
            futures = {pool.submit(create, r): r for r in requests}
            if session.concurrency == 1:  # serially: one request at a time, polls after
                concurrent.futures.wait(futures)
            return self._wait_running(session, adopted, futures, failed)

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
        self,
        session: Session,
        adopted: list[_Created],
        creating: dict[concurrent.futures.Future[_Created], NodeRequest],
        failed: dict[str, str],
    ) -> list[NodeRecord]:
        """Take in machines as their creates finish and poll them, all in one request per
        ``pollInterval``, until each runs; one not running ``createTimeout`` seconds after its
        create returned is deleted and reported by name."""
        driver, context = session.driver(), session.context
        timeout = session.settings.create_timeout
        interval = session.settings.poll_interval
        watched = {item.request.name: item for item in adopted}
        in_flight = set(creating)
        done: list[NodeRecord] = []
        next_poll: float | None = None
        while True:
            for future in [f for f in in_flight if f.done()]:
                in_flight.discard(future)
                name = creating[future].name
                try:
                    item = future.result()
                except SlothError as error:
                    failed[name] = str(error)
                except Exception as error:  # a driver bug must not lose the other machines
                    failed[name] = str(session.translate(error, "creating"))
                else:
                    watched[name] = item
            for name in [n for n, item in watched.items() if item.machine.state == "running"]:
                item = watched.pop(name)
                done.append(self._record(session, item, item.machine))
                context.event("provision", "running", node=name, status="done")
            now = self._clock()
            for name in [n for n, item in watched.items() if now >= item.created_at + timeout]:
                item = watched.pop(name)
                failed[name] = (
                    f"machine {name} ({item.machine.id}) did not reach running within "
                    f"{timeout:g} s (last state: {item.machine.state}); it was deleted"
                )
                with session.errors(f"deleting {name} after its timeout"):
                    driver.destroy_machine(item.machine)
            if not in_flight and not watched:
                return done
            if not watched:  # nothing to poll yet: wait for a create to return
                next_poll = None
                concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                continue
            if next_poll is None:
                next_poll = now + interval
            delay = next_poll - now
            if delay > 0:
                if in_flight:  # wake up for a returning create, but poll on the interval
                    concurrent.futures.wait(
                        in_flight, timeout=delay, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                else:
                    time.sleep(delay)
                if self._clock() < next_poll:
                    continue
            with session.errors("checking the new machines"):
                current = driver.refresh_machines(
                    context.name, [item.machine for item in watched.values()]
                )
            next_poll = self._clock() + interval
            for machine in current:
                seen = watched.get(self._node_name(machine))
                if seen is not None and machine.id == seen.machine.id:
                    seen.machine = machine

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
                listed = [m for m in driver.list_machines(context.name) if m.state != "terminated"]
            live = [m for m in listed if self._node_name(m) in wanted or m.id in ids]
            destroy_machines(session, live, self._node_name)
            wait_gone(session, live, self._clock)
            # the other machines of the cluster were listed above; those still there keep the
            # shared resources (anything created since is caught by the final listing)
            gone = {m.id for m in live}
            others = [m for m in listed if m.id not in gone]
            if others:
                with session.errors("listing machines"):
                    others = [
                        m
                        for m in driver.refresh_machines(context.name, others)
                        if m.state != "terminated"
                    ]
            if not others:
                delete_shared(session)
            self._report_retries(session)
            return sorted(wanted)
