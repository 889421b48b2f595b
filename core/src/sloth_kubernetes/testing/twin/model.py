"""What the distribution twin answers: the objects, releases and components a server would run.

Standard library only (dataclasses): the model also runs on a test node's plain ``python3``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class ObjectKey:
    """An object's identity in the API: kind, namespace (``""`` when cluster-scoped), name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass
class DeployedObject:
    """One object the distribution keeps in the cluster and who put it there (``source``):
    ``packaged:<component>``, ``addon:<Addon name> (<file>)`` or ``helm:<namespace>/<release>``."""

    key: ObjectKey
    api_version: str
    source: str
    body: dict[str, Any] | None = None


@dataclass
class Release:
    """A Helm release the helm-controller installs for a HelmChart (``helm-install-<name>`` job).

    ``values`` is what helm would get: ``valuesContent`` ⊕ the HelmChartConfig's ``valuesContent``
    (later files win; maps merge key by key, anything else is replaced, ``null`` deletes) ⊕
    ``spec.set`` (highest). Chart defaults are not included (the chart is not rendered here);
    ``facts`` are what the twin's chart data says about the chart (role, default values).
    """

    name: str
    namespace: str
    target_namespace: str
    chart: str
    repo: str
    version: str
    bundled: bool
    bootstrap: bool
    job_image: str
    create_namespace: bool
    values: dict[str, Any]
    set_values: dict[str, Any]
    source: str
    configs: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    values_error: str | None = None

    @property
    def role(self) -> str | None:
        role = self.facts.get("role")
        return str(role) if role else None

    def value(self, dotted: str, default: Any = None) -> Any:
        """The merged value at ``a.b.c`` (list items as ``a.0.b``), else the chart's default
        from ``facts["defaults"]``, else ``default``."""
        found = lookup(self.values, dotted)
        if found is not MISSING:
            return found
        defaults = self.facts.get("defaults", {})
        return defaults.get(dotted, default) if isinstance(defaults, dict) else default


@dataclass(frozen=True)
class Component:
    """Something running that is not an object from a manifest: a built-in controller
    (flannel, kube-proxy, the network policy controller...) or a packaged component."""

    name: str
    role: str
    source: str


@dataclass(frozen=True)
class Finding:
    """Something the distribution refused or ignored, and where it came from."""

    source: str
    message: str


@dataclass
class Deployment:
    """Everything the distribution would run on its own with this config and manifests."""

    distro: str
    version: str
    node_name: str
    settings: dict[str, Any]
    starts: bool = True
    components: list[Component] = field(default_factory=list)
    objects: list[DeployedObject] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    refused: list[Finding] = field(default_factory=list)
    ignored: list[Finding] = field(default_factory=list)

    def running(self, role: str) -> list[str]:
        """Names of what fills ``role`` (``cni``, ``dns``, ``storage``...): built-in
        components and Helm releases whose chart has that role and whose install can run
        (:meth:`installable`)."""
        names = [c.name for c in self.components if c.role == role]
        names += [
            f"helm:{r.target_namespace}/{r.name}"
            for r in self.releases
            if r.role == role and self.installable(r)
        ]
        return names

    def pod_network(self) -> bool:
        """Whether pods get a network: a built-in CNI (flannel, RKE2's controllers) or a CNI
        chart whose install job runs without one — ``bootstrap``: k3s-io/helm-controller
        v0.16.5 ``pkg/controllers/chart/chart.go`` gives that job ``hostNetwork`` on a
        control-plane node and tolerates ``node.kubernetes.io/not-ready`` and
        ``network-unavailable``."""
        if any(c.role == "cni" for c in self.components):
            return True
        return any(r.role == "cni" and r.bootstrap for r in self.releases)

    def installable(self, release: Release) -> bool:
        """A release's install job runs: ``bootstrap`` (host network), or pods have a network.
        Otherwise its job pod waits for a CNI (NotReady nodes carry the not-ready taint, and
        the kubelet creates no pod sandbox without a CNI configuration): it never installs."""
        return release.bootstrap or self.pod_network()

    def owners(self) -> dict[ObjectKey, list[str]]:
        """Every object key with the sources that create it (more than one is a conflict)."""
        result: dict[ObjectKey, list[str]] = {}
        for obj in self.objects:
            result.setdefault(obj.key, []).append(obj.source)
        return result

    def release(self, name: str) -> Release | None:
        return next((r for r in self.releases if r.name == name), None)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(tree: Any, dotted: str) -> Any:
    """``tree["a"]["b"][0]`` for ``a.b.0``; :data:`MISSING` when any step is absent."""
    node = tree
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node
