"""Pod Security admission: which workloads the API server would refuse to run.

The enforce level of a namespace is its ``pod-security.kubernetes.io/enforce`` label, else the
API server's PodSecurity configuration default (none configured: ``privileged``); namespaces in
``exemptions.namespaces`` are never checked (Kubernetes 1.31, kubernetes.io/docs/concepts/
security/pod-security-admission and pod-security-standards). K3s reads that configuration from
``kube-apiserver-arg: admission-control-config-file=PATH``; RKE2 v1.31.4 writes its own
(rancher/rke2 ``pkg/rke2/psa.go``: ``profile: cis`` → restricted with kube-system,
cis-operator-system and tigera-operator exempt; otherwise privileged) unless
``pod-security-admission-config-file`` names another.

The Pod Security Standards checks below are the ones our add-ons can trip (not every field of the
standard): baseline forbids host namespaces, privileged containers, hostPath volumes, host ports
and added capabilities outside the baseline set; restricted also requires
``allowPrivilegeEscalation: false``, ``runAsNonRoot``, a RuntimeDefault/Localhost seccomp profile,
``capabilities.drop: [ALL]`` and only the restricted volume types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .model import Finding

if TYPE_CHECKING:
    from .model import Deployment

LEVELS = ("privileged", "baseline", "restricted")
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
_BASELINE_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
_RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod"}


class Policy:
    """The cluster's PodSecurity defaults and exemptions, plus the namespaces' labels."""

    def __init__(self, default: str = "privileged", exempt: tuple[str, ...] = ()) -> None:
        self.default = default
        self.exempt = set(exempt)
        self.labels: dict[str, str] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Policy:
        """From an AdmissionConfiguration (parsed); no PodSecurity plugin: privileged."""
        for plugin in (config or {}).get("plugins") or []:
            if isinstance(plugin, Mapping) and plugin.get("name") == "PodSecurity":
                body = plugin.get("configuration") or {}
                defaults = body.get("defaults") or {}
                exempt = (body.get("exemptions") or {}).get("namespaces") or []
                return cls(str(defaults.get("enforce", "privileged")), tuple(map(str, exempt)))
        return cls()

    def enforced(self, namespace: str) -> str | None:
        """The level enforced in ``namespace`` (``None``: exempt)."""
        if namespace in self.exempt:
            return None
        return self.labels.get(namespace, self.default)


def pod_spec(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kind = body.get("kind")
    spec = body.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template") or {}
    return template.get("spec") if isinstance(template, Mapping) else None


def violations(spec: Mapping[str, Any], level: str) -> list[str]:
    """What in pod ``spec`` the ``level`` standard forbids (empty: allowed)."""
    if level == "privileged":
        return []
    found = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(f"{key}: true")
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, Mapping)]
    found += [f"hostPath volume {v.get('name')}" for v in volumes if "hostPath" in v]
    pod_context = spec.get("securityContext") or {}
    containers = [
        c
        for key in ("initContainers", "containers")
        for c in spec.get(key) or []
        if isinstance(c, Mapping)
    ]
    for container in containers:
        name = container.get("name")
        context = container.get("securityContext") or {}
        caps = context.get("capabilities") or {}
        if context.get("privileged"):
            found.append(f"container {name} is privileged")
        if any(p.get("hostPort") for p in container.get("ports") or [] if isinstance(p, Mapping)):
            found.append(f"container {name} uses a hostPort")
        added = set(map(str, caps.get("add") or []))
        if added - _BASELINE_CAPS:
            found.append(f"container {name} adds {sorted(added - _BASELINE_CAPS)}")
        if level != "restricted":
            continue
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name}: allowPrivilegeEscalation is not false")
        if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
            found.append(f"container {name}: runAsNonRoot is not true")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get(
            "type"
        )
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"container {name}: no RuntimeDefault/Localhost seccomp profile")
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"container {name}: capabilities do not drop ALL")
        if added - {"NET_BIND_SERVICE"}:
            found.append(f"container {name} adds capabilities")
    if level == "restricted":
        for volume in volumes:
            kinds = set(volume) - {"name"}
            if kinds - _RESTRICTED_VOLUMES and "hostPath" not in volume:
                found.append(f"volume {volume.get('name')} of type {sorted(kinds)}")
    return found


def required_level(spec: Mapping[str, Any]) -> str:
    """The least privileged standard ``spec`` satisfies."""
    for level in ("restricted", "baseline"):
        if not violations(spec, level):
            return level
    return "privileged"


def allows(enforced: str | None, required: str) -> bool:
    """Does a namespace enforcing ``enforced`` admit pods needing ``required``?"""
    if enforced is None:
        return True
    return LEVELS.index(enforced) <= LEVELS.index(required)


def admit_workloads(
    policy: Policy,
    deployment: Deployment,
    charts: Mapping[str, Any],
    images: Mapping[str, Any],
) -> list[Finding]:
    """Findings for every workload ``policy`` refuses: pod templates of applied manifests, the
    pods their images create at run time (``images`` facts) and the pods releases run
    (``pods`` facts of their chart, namespace ``$target`` = the release's target namespace)."""
    refused = []
    for obj in deployment.objects:
        if obj.key.kind not in WORKLOADS or not obj.body or not obj.source.startswith("addon:"):
            continue
        spec = pod_spec(obj.body)
        if spec is None:
            continue
        namespace = obj.key.namespace or "default"
        enforced = policy.enforced(namespace)
        if not allows(enforced, required_level(spec)):
            reasons = "; ".join(violations(spec, str(enforced))[:3])
            refused.append(Finding(obj.source, f"{obj.key}: PodSecurity {enforced} in "
                                   f"{namespace} refuses its pods ({reasons})"))  # fmt: skip
        for container in spec.get("containers") or []:
            image = str(container.get("image", "")) if isinstance(container, Mapping) else ""
            fact = images.get(image.rsplit(":", 1)[0])
            if fact and not allows(enforced, fact["creates_pods"]):
                refused.append(Finding(obj.source, f"{obj.key}: the pods it creates need "
                                       f"{fact['creates_pods']}, {namespace} enforces {enforced} "
                                       f"({fact['why']})"))  # fmt: skip
    for release in deployment.releases:
        for pod in release.facts.get("pods") or []:
            namespace = str(pod["namespace"]).replace("$target", release.target_namespace)
            enforced = policy.enforced(namespace)
            if not allows(enforced, pod["needs"]):
                refused.append(Finding(f"helm:{release.target_namespace}/{release.name}",
                                       f"{pod['what']} needs PodSecurity {pod['needs']}, "
                                       f"{namespace} enforces {enforced}"))  # fmt: skip
    return refused
