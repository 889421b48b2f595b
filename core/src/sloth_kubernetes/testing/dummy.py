"""Fakes for tests (named as such): a ``dummy`` provider, mesh and distro. Nothing is touched.

The provider keeps its "cloud" in memory, or in a JSON file (``cloud_file``) so that machines
outlive a CLI process that is killed mid-run — like a real cloud. It is as strict as a real
provider about its inputs: it answers only for its own name, adopts machines it already has
(never creates a name twice), and fails the nodes listed in ``spec.providers.dummy.failNodes``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ..components import Provider
from ..context import ClusterContext
from ..errors import PartialProvisionError, SlothError
from ..hookspecs import hookimpl
from ..model.cluster import PluginBlock, doc
from ..model.nodes import NodeRecord, NodeRequest
from ..registry import Component


@attrs.frozen
class DummySettings:
    """Settings of ``spec.providers.dummy``."""

    network: str = attrs.field(default="10.99.0.0/16", metadata=doc("Addresses handed out."))
    fail_nodes: list[str] = attrs.field(
        factory=list, metadata=doc("Node names whose creation fails (to test failures).")
    )


class DummyProvider(Provider):
    """A provider on the one declarative form of the built-in ones (:class:`Provider`): register
    an instance with ``register_plugin(DummyProvider(), "dummy")``."""

    def __init__(
        self, cloud_file: Path | None = None, delay: float = 0.0, name: str = "dummy"
    ) -> None:
        super().__init__(name, "In-memory machines for tests (a fake)", settings=DummySettings)
        self.seen_concurrency: list[int] = []  # context.concurrency of each call
        self.cloud_file = cloud_file
        self.delay = delay
        self._lock = threading.Lock()
        self._memory: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []  # in-memory creation log (see creations())

    # the "cloud" ---------------------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Any]]:
        return dict(self._cloud()["machines"])

    def _cloud(self) -> dict[str, Any]:
        if self.cloud_file is None:
            return {"machines": self._memory, "creations": self.created}
        try:
            data: dict[str, Any] = json.loads(self.cloud_file.read_text())
        except FileNotFoundError:
            return {"machines": {}, "creations": []}
        return data

    def _save(self, machines: dict[str, dict[str, Any]], created: str | None = None) -> None:
        """Write the machines and the creation log together: a kill never splits them."""
        if self.cloud_file is None:
            self._memory = machines
            if created:
                self.created.append(created)
            return
        creations = list(self._cloud()["creations"]) + ([created] if created else [])
        temporary = self.cloud_file.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({"machines": machines, "creations": creations}))
        temporary.replace(self.cloud_file)  # atomic: a kill never leaves half a file

    def creations(self) -> list[str]:
        """Every real creation, in order (a name twice means a duplicate was made)."""
        return list(self._cloud()["creations"])

    def delete_by_hand(self, name: str) -> None:
        """Remove a machine behind sloth-kubernetes' back (as in a cloud console)."""
        with self._lock:
            machines = self._load()
            machines.pop(name)
            self._save(machines)

    @property
    def machines(self) -> dict[str, NodeRecord]:
        return {name: _record(data) for name, data in self._load().items()}

    # the provider ------------------------------------------------------------------------

    def provision(
        self, context: ClusterContext, requests: Sequence[NodeRequest]
    ) -> list[NodeRecord]:
        self.seen_concurrency.append(context.concurrency)
        block = context.config.spec.providers.get(self.name)
        settings = block.settings if isinstance(block, PluginBlock) else None
        failing = set(settings.fail_nodes) if isinstance(settings, DummySettings) else set()
        records, failed = [], []
        for request in requests:
            if request.name in failing:
                failed.append(request.name)
                continue
            with self._lock:
                machines = self._load()
                if request.name not in machines:  # adopt, never duplicate
                    time.sleep(self.delay)
                    number = len(machines) + 1
                    machines[request.name] = {
                        "cluster": context.name, "name": request.name, "pool": request.pool,
                        "provider": self.name,
                        "roles": list(request.roles), "cloud_id": f"dummy-{request.name}",
                        "private_address": f"10.99.{number // 250}.{number % 250 + 1}",
                    }  # fmt: skip
                    self._save(machines, created=request.name)
                records.append(_record(machines[request.name]))
        if failed:
            raise PartialProvisionError(
                f"dummy: creating {', '.join(failed)} failed (failNodes)",
                records=records,
                failed=dict.fromkeys(failed, "failNodes"),
                provider=self.name,
            )
        return records

    def list_nodes(self, context: ClusterContext) -> list[NodeRecord]:
        return [r for r in self.machines.values() if r.cluster == context.name]

    def destroy(self, context: ClusterContext, nodes: Sequence[NodeRecord]) -> list[str]:
        with self._lock:
            machines = self._load()
            removed = [n.name for n in nodes if machines.pop(n.name, None) is not None]
            self._save(machines)
        _ = context
        return removed


def _record(data: dict[str, Any]) -> NodeRecord:
    return NodeRecord(
        cluster=data["cluster"], name=data["name"], pool=data["pool"], provider=data["provider"],
        roles=tuple(data["roles"]), cloud_id=data["cloud_id"],
        private_address=data["private_address"], labels={"sloth/cluster": data["cluster"]},
    )  # fmt: skip


class DummyCluster:
    """A fake mesh (``type: dummy``) and distro (``distribution: dummy``): they hand out mesh
    addresses from the state store and record calls, so the engine's later phases can run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        #: When set, ``install_distro`` fails for the whole cluster with this message (as the
        #: real installers do when no release can be had offline).
        self.distro_error: str | None = None

    @hookimpl
    def register_meshes(self, register: Any) -> None:
        register(Component(kind="mesh", name="dummy", description="a fake mesh"))

    @hookimpl
    def register_distros(self, register: Any) -> None:
        register(Component(kind="distro", name="dummy", description="a fake distro"))

    @hookimpl
    def configure_mesh(
        self, context: ClusterContext, mesh: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord] | None:
        if mesh != "dummy":
            return None
        self.calls.append(("mesh", tuple(n.name for n in nodes)))
        return [
            attrs.evolve(n, mesh_address=context.store.allocate_address(
                context.name, "mesh", n.name, "10.100.0.0/16"))
            for n in nodes
        ]  # fmt: skip

    @hookimpl
    def install_distro(
        self, context: ClusterContext, distro: str, nodes: Sequence[NodeRecord]
    ) -> list[NodeRecord] | None:
        if distro != "dummy":
            return None
        _ = context
        self.calls.append(("distro", tuple(n.name for n in nodes)))
        if self.distro_error is not None:
            raise SlothError(self.distro_error, hint="import the release (test)")
        return list(nodes)


@attrs.frozen
class _NoSettings:
    """A stand-in CNI's (empty) settings block."""


def stand_in_cni(*distros: str) -> Any:
    """A fake CNI plugin named ``stand-in-cni`` that supports ``distros`` and renders nothing:
    no bundled CNI supports kubeadm yet, so tests load kubeadm configs with this one."""
    from ..addons.manifests import AddonManifests
    from ..components import Cni

    return Cni(
        "stand-in-cni",
        "a CNI plugin (test stand-in, renders nothing)",
        settings=_NoSettings,
        render=lambda _config, _settings: AddonManifests(objects=[]),
        supports=distros,
    )
