"""Registers the ``kubeadm`` distribution, the model of ``spec.kubernetes.kubeadm`` and its hooks.

The install order and safety (first server, one server at a time behind ``/readyz`` and etcd
gates, agent batches, the kubeconfig) are the core's :mod:`sloth_kubernetes.distro.orchestrate`;
this plugin says what kubeadm needs (:mod:`.installer`), checks ``serverConfig``/``agentConfig``
against kubeadm's config kinds (:mod:`.schema`), and has no manifest deployer of its own: add-ons
are server-side applied through the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar

import attrs
from sloth_kubernetes.plugin import (
    ClusterContext,
    Distro,
    DistroSettings,
    FlagProblem,
    NodeRecord,
    hookimpl,
)

from .installer import DEFAULT_VERSION, KubeadmInstaller
from .schema import api_types

#: containerd and runc, and the CNI reference plugins (loopback, bridge, portmap…) CNI add-ons
#: chain to (Debian 12 / Ubuntu 24.04 package names)
NODE_PACKAGES = ("containerd", "runc", "containernetworking-plugins")

#: DistroSettings keys kubeadm does not implement: refused instead of silently ignored
_UNSUPPORTED = {
    "airgap": (
        "kubeadm has no image bundle to upload: air-gapped nodes pull control-plane images from "
        "a registry",
        "remove airgap and point serverConfig.ClusterConfiguration.imageRepository at a "
        "registry the nodes reach",
    ),
    "snapshots": (
        "scheduled etcd snapshots are not implemented for kubeadm (K3s/RKE2 schedule them "
        "themselves)",
        "remove snapshots; take etcd snapshots with etcdctl from a server",
    ),
    "audit": (
        "API audit logging is not implemented for kubeadm yet",
        "remove audit, or configure it with serverConfig.ClusterConfiguration.apiServer "
        "extraArgs and extraVolumes",
    ),
}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def _default(key: str, raw: Any) -> bool:
    """Whether ``raw`` (``spec.kubernetes.kubeadm.<key>`` as written) asks for nothing beyond
    the shared default — as a config dumped into the state store holds it (``destroy`` loads
    that): only a value that asks for the feature is refused."""
    if raw in (None, False):
        return True
    default: Any = getattr(KubeadmSettings(), key)
    if not attrs.has(type(default)):
        return bool(raw == default)
    if not isinstance(raw, Mapping):
        return False
    values = {_camel(f.name): getattr(default, f.name) for f in attrs.fields(type(default))}
    return all(k in values and v == values[k] for k, v in raw.items())


@cache
def installer() -> KubeadmInstaller:
    return KubeadmInstaller()


@attrs.frozen
class KubeadmSettings(DistroSettings):
    """Settings of ``spec.kubernetes.kubeadm``."""

    #: kubeadm has no helm-controller: the standalone one is its first add-on (every CNI and
    #: most storage plugins are HelmCharts), see :mod:`.helm_controller`
    implied_addons: ClassVar[tuple[str, ...]] = ("helm-controller",)

    @classmethod
    def installer(cls) -> KubeadmInstaller:
        return installer()

    @classmethod
    def check_kubernetes(cls, kubernetes: Mapping[str, Any]) -> list[FlagProblem]:
        """``serverConfig``/``agentConfig`` against kubeadm's config kinds; a CNI plugin is
        required (kubeadm starts no pod network); keys kubeadm does not implement are refused."""
        types = api_types()
        problems = [
            FlagProblem(p.path, p.message, p.hint, at_key=p.at_key)  # type: ignore[arg-type]
            for where in ("serverConfig", "agentConfig")
            if where in kubernetes
            for p in types.check_pass_through(where, kubernetes[where])
        ]
        cni = kubernetes.get("cni")
        if not isinstance(cni, Mapping):
            problems.append(
                FlagProblem(
                    ("cni",),
                    "kubeadm starts no pod network: without a CNI plugin every node stays NotReady",
                    "add spec.kubernetes.cni with a CNI plugin that supports kubeadm "
                    "(calico or cilium), or use k3s/rke2, which start one themselves",
                    at_key=False,
                )
            )
        if kubernetes.get("hardening") == "cis":
            problems.append(
                FlagProblem(
                    ("hardening",),
                    "hardening: cis is not implemented for kubeadm yet (K3s and RKE2 apply "
                    "their CIS profiles; kubeadm would run with PodSecurity privileged)",
                    "remove hardening: cis, or use k3s/rke2 for a CIS-hardened cluster",
                )
            )
        own = kubernetes.get("kubeadm")
        written = kubernetes.get("apiEndpoint")
        if isinstance(written, Mapping):  # the block form: its address
            written = written.get("address")
        endpoint = written or (own.get("registrationAddress") if isinstance(own, Mapping) else None)
        if isinstance(cni, Mapping) and cni.get("kubeProxyReplacement") is True and not endpoint:
            problems.append(
                FlagProblem(
                    ("cni", "kubeProxyReplacement"),
                    "without kube-proxy, Cilium on kubeadm must reach the API at the "
                    "control-plane endpoint (kubeadm workers run no local API server)",
                    "set spec.kubernetes.kubeadm.registrationAddress (or apiEndpoint) to an "
                    "address of the API every node reaches, or remove kubeProxyReplacement",
                )
            )
        if isinstance(own, Mapping):
            for key, (message, hint) in _UNSUPPORTED.items():
                if key in own and not _default(key, own[key]):
                    problems.append(FlagProblem(("kubeadm", key), message, hint))
        return problems


class KubeadmDistro(Distro):
    """The kubeadm component: the core's distro hooks, plus the node runtime packages and no
    manifest deployer (kubeadm has none; the add-on pipeline applies through the API)."""

    @hookimpl
    def node_packages(self, context: ClusterContext, node: NodeRecord) -> list[str]:
        if context.config.spec.kubernetes.distribution != self.name:
            return []
        return list(NODE_PACKAGES)

    @hookimpl
    def manifest_delivery(self, context: ClusterContext, distro: str) -> None:
        """kubeadm has no manifest deployer: no answer, so add-ons are server-side applied."""


PLUGIN = KubeadmDistro(
    name="kubeadm",
    description=f"kubeadm, upstream Kubernetes with stacked etcd (default {DEFAULT_VERSION})",
    features=frozenset({"embedded-etcd"}),
    settings=KubeadmSettings,
    installer=installer,
)
