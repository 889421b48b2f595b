"""Deleting machines: in the driver's batches, in parallel, then waiting until they are gone."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable

from ..errors import ProviderError
from .contract import Machine
from .retry import current_node
from .session import Session


def destroy_machines(
    session: Session, machines: list[Machine], name_of: Callable[[Machine], str]
) -> None:
    """Delete ``machines``, in the driver's batches, at most the session's concurrency at once."""
    if not machines:
        return
    size = max(1, session.spec.driver.destroy_batch)
    batches = [machines[i : i + size] for i in range(0, len(machines), size)]

    def destroy(batch: list[Machine]) -> None:
        names = ", ".join(name_of(m) for m in batch)
        token = current_node.set(name_of(batch[0]) if len(batch) == 1 else None)
        try:
            with session.deleting(f"deleting {names}"):
                if size == 1:
                    session.driver().destroy_machine(batch[0])
                else:
                    session.driver().destroy_machines(batch)
        finally:
            current_node.reset(token)

    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(session.concurrency, len(batches)),
        thread_name_prefix=f"sloth-{session.spec.name}",
    ) as pool:
        for future in [pool.submit(destroy, b) for b in batches]:
            future.result()


def wait_gone(session: Session, machines: list[Machine], clock: Callable[[], float]) -> None:
    """Poll until ``machines`` are gone, at most ``createTimeout`` seconds."""
    deadline = clock() + session.settings.create_timeout
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
        if clock() >= deadline:
            raise ProviderError(
                f"{session.spec.name}: machines still exist after deleting them: "
                + ", ".join(sorted(m.id for m in machines)),
                provider=session.spec.name,
                hint="run `destroy` again; check the cloud's console",
            )
        time.sleep(session.settings.poll_interval)
