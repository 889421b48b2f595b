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
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Mapping, Sequence
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
from .sizing import choose_size, resolve_image, why_chosen
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


def _results(futures: Sequence[concurrent.futures.Future[Any] | None]) -> None:
    """Wait for every future; raise the failure that says the most — refused credentials,
    else the first in ``futures``' order."""
    waiting = [f for f in futures if f is not None]
    concurrent.futures.wait(waiting)
    failures = [e for e in (f.exception() for f in waiting) if e is not None]
    if failures:
        refused = [e for e in failures if getattr(e, "http_status", None) in (401, 403)]
        raise (refused or failures)[0]


@attrs.define
class _Prepared:
    """The shared resources, the machines found, and the drivers' deferred work going on."""

    shared: dict[str, Resource | None]
    machines: list[Machine]
    settling: concurrent.futures.Future[None]
    pool: concurrent.futures.ThreadPoolExecutor

    def finish(self, *, quiet: bool = False) -> None:
        """Wait for the deferred work; raise its error unless ``quiet``."""
        try:
            self.settling.result()
        except Exception:
            if not quiet:
                raise
        finally:
            self.pool.shutdown(wait=True)


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
            return chosen.id, why_chosen(chosen)
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
            prepared = self._prepare(session, context.operator.public_key)
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

    def _prepare(self, session: Session, public_key: str) -> _Prepared:
        """List the cluster's machines and find by tag, or create, its SSH key, network and
        firewall (each where the cloud has one); return once machines can be created.

        The listing, the key and the network → firewall chain are independent: they run
        concurrently, each thread with its own driver, unless the provider works serially
        (concurrency 1). What the drivers deferred (:meth:`CloudDriver.settle`) then goes on
        in the background while the machines are created.
        """
        cluster = session.context.name
        features = self.spec.features
        settings = session.settings
        shared: dict[str, Resource | None] = {"key": None, "network": None, "firewall": None}
        want_key = "ssh-key-import" in features
        want_network = "private-network" in features and settings.private_network
        want_firewall = "firewall" in features and settings.firewall
        parallel = session.concurrency > 1

        def machines() -> list[Machine]:
            with session.errors("listing machines"):
                return session.driver().list_machines(cluster)

        def networks() -> list[Resource]:
            with session.errors("creating the private network"):
                return session.driver().list_networks(cluster)

        def keys() -> list[Resource]:
            with session.errors("importing the SSH key"):
                return session.driver().list_keys(cluster)

        def key(found_keys: list[Resource]) -> None:
            if want_key:
                with session.errors("importing the SSH key"):
                    shared["key"] = (
                        found_keys[0]
                        if found_keys
                        else session.driver().import_key(cluster, public_key)
                    )

        def firewalls() -> list[Resource]:
            if not want_firewall:
                return []
            with session.errors("creating the firewall"):
                return session.driver().list_firewalls(cluster)

        def complete(network: Resource) -> None:
            with session.errors("creating the private network"):
                session.driver().complete_network(network)

        def network_and_firewall(
            found_networks: list[Resource], found: concurrent.futures.Future[list[Resource]]
        ) -> None:
            driver = session.driver()
            completing: concurrent.futures.Future[None] | None = None
            if want_network:
                with session.errors("creating the private network"):
                    shared["network"] = network = (
                        found_networks[0]
                        if found_networks
                        else driver.create_network(cluster, settings.network_cidr)
                    )
                if parallel:  # the firewall needs only the network's id
                    completing = pool.submit(complete, network)
                else:
                    complete(network)
            if want_firewall:
                cidr = settings.network_cidr if shared["network"] is not None else None
                rules = cluster_rules(session.context.config, cidr)
                existing = found.result()
                with session.errors("creating the firewall"):
                    shared["firewall"] = (
                        existing[0]
                        if existing
                        else driver.create_firewall(cluster, rules, shared["network"])
                    )
            if completing is not None:
                completing.result()

        # One worker runs the tasks in the order submitted: `firewalls` before the chain
        # that waits for it.
        pool = concurrent.futures.ThreadPoolExecutor(
            5 if parallel else 1, thread_name_prefix="sloth-shared"
        )
        try:
            # First the heads of the two chains (key and network listings), then the rest once
            # they answered: refused credentials cost one or two requests, not one per thread.
            # Without either, the machine listing goes first, alone.
            listed_keys = pool.submit(keys) if want_key else None
            listed_networks = pool.submit(networks) if want_network else None
            listing = None if listed_keys or listed_networks else pool.submit(machines)
            _results([listed_keys, listed_networks, listing])
            found_networks = listed_networks.result() if listed_networks else []
            keyed = pool.submit(key, listed_keys.result() if listed_keys else [])
            listing = listing or pool.submit(machines)
            chain = pool.submit(network_and_firewall, found_networks, pool.submit(firewalls))
            _results([keyed, chain, listing])
            found = listing.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        drivers = session.drivers()  # only this pool's threads have drivers so far

        def settle() -> None:
            with session.errors("finishing the network and firewall"):
                for driver in drivers:
                    driver.settle()

        prepared = _Prepared(shared, found, pool.submit(settle), pool)
        if not parallel:
            try:
                prepared.settling.result()
            except BaseException:
                prepared.finish(quiet=True)
                raise
        return prepared

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
            self._destroy_machines(session, live)
            self._wait_gone(session, live)
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
                self._delete_shared(session)
            self._report_retries(session)
            return sorted(wanted)

    def _destroy_machines(self, session: Session, machines: list[Machine]) -> None:
        if not machines:
            return
        size = max(1, self.spec.driver.destroy_batch)
        batches = [machines[i : i + size] for i in range(0, len(machines), size)]

        def destroy(batch: list[Machine]) -> None:
            names = ", ".join(self._node_name(m) for m in batch)
            token = current_node.set(self._node_name(batch[0]) if len(batch) == 1 else None)
            try:
                with session.errors(f"deleting {names}"):
                    if size == 1:
                        session.driver().destroy_machine(batch[0])
                    else:
                        session.driver().destroy_machines(batch)
            finally:
                current_node.reset(token)

        with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(session.concurrency, len(batches)),
            thread_name_prefix=f"sloth-{self.name}",
        ) as pool:
            for future in [pool.submit(destroy, b) for b in batches]:
                future.result()

    def _wait_gone(self, session: Session, machines: list[Machine]) -> None:
        deadline = self._clock() + session.settings.create_timeout
        driver = session.driver()
        while machines:
            with session.errors("waiting for machines to be deleted"):
                machines = [
                    m
                    for m in driver.refresh_machines(session.context.name, machines)
                    if m.state != "terminated"
                ]
            if not machines:
                return
            if self._clock() >= deadline:
                raise ProviderError(
                    f"{self.name}: machines still exist after deleting them: "
                    + ", ".join(sorted(m.id for m in machines)),
                    provider=self.name,
                    hint="run `destroy` again; check the cloud's console",
                )
            time.sleep(session.settings.poll_interval)

    def _delete_shared(self, session: Session) -> None:
        """Delete the firewall, then the network (it may hold the firewall), and the key
        meanwhile; then list by tag to prove nothing is left."""
        cluster = session.context.name
        features = self.spec.features

        def key() -> None:
            if "ssh-key-import" in features:
                driver = session.driver()
                with session.errors("deleting the SSH key"):
                    for found in driver.list_keys(cluster):
                        driver.delete_key(found)

        def firewall_and_network() -> None:
            driver = session.driver()
            with session.errors("deleting the firewall and network"):
                if "firewall" in features:
                    for firewall in driver.list_firewalls(cluster):
                        driver.delete_firewall(firewall)
                if "private-network" in features:
                    for network in driver.list_networks(cluster):
                        driver.delete_network(network)

        workers = 2 if session.concurrency > 1 else 1
        with concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix="sloth-shared"
        ) as pool:
            for future in [pool.submit(key), pool.submit(firewall_and_network)]:
                future.result()
        with session.errors("listing what is left"):
            leftovers = session.driver().list_resources(cluster)
        if leftovers:
            raise ProviderError(
                f"{self.name}: resources tagged with cluster {cluster!r} remain: "
                + ", ".join(f"{r.kind} {r.name} ({r.id})" for r in leftovers),
                provider=self.name,
                hint="run `destroy` again; if they persist, delete them in the cloud's console",
            )
