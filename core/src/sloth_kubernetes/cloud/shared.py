"""The resources one cloud's machines share: found by tag or created before the machines, and
deleted after the last of them.

Preparing lists the cluster's machines and finds, or creates, its SSH key, private network and
firewall (each where the cloud has one), concurrently — each thread with its own driver — unless
the provider works serially (concurrency 1); what a driver deferred to let machines be created
sooner (:meth:`CloudDriver.settle`) goes on in the background. Deleting removes the firewall, then
the network (it may hold the firewall) and the key meanwhile, then lists by tag to prove nothing
is left.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from typing import Any

import attrs

from ..errors import ProviderError
from ..model.nodes import ResourceChange
from .contract import CloudDriver, FirewallRule, Machine, Resource
from .rules import cluster_rules, describe_permission, firewall_changes
from .session import Session


def wait_all(futures: Sequence[concurrent.futures.Future[Any] | None]) -> None:
    """Wait for every future; raise the failure that says the most — refused credentials,
    else the first in ``futures``' order."""
    waiting = [f for f in futures if f is not None]
    concurrent.futures.wait(waiting)
    failures = [e for e in (f.exception() for f in waiting) if e is not None]
    if failures:
        refused = [e for e in failures if getattr(e, "http_status", None) in (401, 403)]
        raise (refused or failures)[0]


@attrs.define
class Prepared:
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


def wanted_firewall_rules(session: Session) -> list[FirewallRule]:
    """The rules the cluster's firewall on this cloud must have (the private network's range
    when the cluster has one here)."""
    settings = session.settings
    network = "private-network" in session.spec.features and settings.private_network
    return cluster_rules(session.context.config, settings.network_cidr if network else None)


def planned_firewall_changes(session: Session) -> list[ResourceChange]:
    """What :func:`converge_firewall` would change on the cluster's existing firewall, one
    entry per rule (nothing when the cloud has no firewall here or it does not exist yet)."""
    if not ("firewall" in session.spec.features and session.settings.firewall):
        return []
    driver = session.driver()
    with session.errors("listing the firewalls"):
        found = driver.list_firewalls(session.context.name)
    if not found:
        return []
    with session.errors("reading the firewall's rules"):
        changes = firewall_changes(driver.firewall_rules(found[0]), wanted_firewall_rules(session))
    blocked = driver.firewall_update_blocker or ""
    resource = f"firewall {found[0].name}"
    provider = session.spec.name
    return [
        ResourceChange(provider, "add-rule", resource, describe_permission(p), blocked)
        for p in changes.added
    ] + [
        ResourceChange(provider, "remove-rule", resource, describe_permission(p), blocked)
        for p in changes.removed
    ]


def converge_firewall(
    session: Session, driver: CloudDriver, firewall: Resource, rules: Sequence[FirewallRule]
) -> None:
    """Bring the cluster's existing ``firewall`` to ``rules`` — it is ours (found by the
    cluster's tag), so rules the config no longer wants go — and report what changed. A
    driver that cannot update rules makes it a warning naming the changes it cannot make."""
    changes = firewall_changes(driver.firewall_rules(firewall), rules)
    if not changes:
        return
    where = f"{session.spec.name} firewall {firewall.name}"
    blocker = driver.firewall_update_blocker
    if blocker is not None:
        session.context.event(
            "provision",
            f"firewall rules changed in the config but {session.spec.name} cannot update them "
            f"here: {blocker}; {where} still needs: {changes.describe()} "
            "(edit them in the cloud's console; the host firewalls follow the config)",
            status="warning",
        )
        return
    driver.update_firewall_rules(firewall, rules)
    session.context.event("provision", f"{where}: {changes.describe()}", status="done")


def prepare_shared(session: Session, public_key: str) -> Prepared:
    """List the cluster's machines and find by tag, or create, its SSH key, network and
    firewall (each where the cloud has one); return once machines can be created.

    The listing, the key and the network → firewall chain are independent: they run
    concurrently, each thread with its own driver, unless the provider works serially
    (concurrency 1). What the drivers deferred (:meth:`CloudDriver.settle`) then goes on
    in the background while the machines are created.
    """
    cluster = session.context.name
    features = session.spec.features
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
            rules = wanted_firewall_rules(session)  # with the network: made above when wanted
            existing = found.result()
            if existing:
                with session.errors("updating the firewall's rules"):
                    converge_firewall(session, driver, existing[0], rules)
                shared["firewall"] = existing[0]
            else:
                with session.errors("creating the firewall"):
                    shared["firewall"] = driver.create_firewall(cluster, rules, shared["network"])
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
        wait_all([listed_keys, listed_networks, listing])
        found_networks = listed_networks.result() if listed_networks else []
        keyed = pool.submit(key, listed_keys.result() if listed_keys else [])
        listing = listing or pool.submit(machines)
        chain = pool.submit(network_and_firewall, found_networks, pool.submit(firewalls))
        wait_all([keyed, chain, listing])
        found = listing.result()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    drivers = session.drivers()  # only this pool's threads have drivers so far

    def settle() -> None:
        with session.errors("finishing the network and firewall"):
            for driver in drivers:
                driver.settle()

    prepared = Prepared(shared, found, pool.submit(settle), pool)
    if not parallel:
        try:
            prepared.settling.result()
        except BaseException:
            prepared.finish(quiet=True)
            raise
    return prepared


def delete_shared(session: Session) -> None:
    """Delete the firewall, then the network (it may hold the firewall), and the key
    meanwhile; then list by tag to prove nothing is left."""
    cluster = session.context.name
    features = session.spec.features

    def key() -> None:
        if "ssh-key-import" in features:
            driver = session.driver()
            with session.errors("listing the SSH keys"):
                keys = driver.list_keys(cluster)
            for found in keys:
                with session.deleting(f"deleting the SSH key {found.name}"):
                    driver.delete_key(found)

    def firewall_and_network() -> None:
        driver = session.driver()
        if "firewall" in features:
            with session.errors("listing the firewalls"):
                firewalls = driver.list_firewalls(cluster)
            for firewall in firewalls:
                with session.deleting(f"deleting the firewall {firewall.name}"):
                    driver.delete_firewall(firewall)
        if "private-network" in features:
            with session.errors("listing the networks"):
                networks = driver.list_networks(cluster)
            for network in networks:
                with session.deleting(f"deleting the network {network.name}"):
                    driver.delete_network(network)

    workers = 2 if session.concurrency > 1 else 1
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sloth-shared") as pool:
        for future in [pool.submit(key), pool.submit(firewall_and_network)]:
            future.result()
    with session.errors("listing what is left"):
        leftovers = session.driver().list_resources(cluster)
    if leftovers:
        raise ProviderError(
            f"{session.spec.name}: resources tagged with cluster {cluster!r} remain: "
            + ", ".join(f"{r.kind} {r.name} ({r.id})" for r in leftovers),
            provider=session.spec.name,
            hint="run `destroy` again; if they persist, delete them in the cloud's console",
        )
