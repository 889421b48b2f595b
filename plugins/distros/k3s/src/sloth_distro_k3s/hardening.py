"""CIS hardening shared by K3s-family distributions: audit policy, pod security, kernel defaults.

Each control, with the guide section it implements, is listed in docs/distros/k3s.md.
"""

from __future__ import annotations

from sloth_kubernetes.plugin import NodeFile

#: Audit policy used when ``audit.policy`` is not given: metadata for everything (CIS 3.2.1).
DEFAULT_AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: Metadata
"""

#: Pod Security Admission: restricted everywhere except the system namespaces (CIS 5.2).
PSA_CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: restricted
        enforce-version: latest
        audit: restricted
        audit-version: latest
        warn: restricted
        warn-version: latest
      exemptions:
        usernames: []
        runtimeClasses: []
        namespaces: [kube-system, cis-operator-system]
"""

#: Kernel parameters the kubelet refuses to change under protect-kernel-defaults (CIS 4.2.6).
KERNEL_DEFAULTS = """\
# Written by sloth-kubernetes: values the kubelet expects with protect-kernel-defaults.
vm.panic_on_oom=0
vm.overcommit_memory=1
kernel.panic=10
kernel.panic_on_oops=1
"""
SYSCTL_FILE = "/etc/sysctl.d/90-kubelet-cis.conf"


def kernel_defaults_file() -> NodeFile:
    return NodeFile(SYSCTL_FILE, KERNEL_DEFAULTS, 0o644)


def audit_args(policy_path: str, log_path: str, audit: object) -> list[str]:
    """kube-apiserver arguments of the audit log (CIS 1.2.16-1.2.19)."""
    return [
        f"audit-policy-file={policy_path}",
        f"audit-log-path={log_path}",
        f"audit-log-maxage={getattr(audit, 'max_age', 30)}",
        f"audit-log-maxbackup={getattr(audit, 'max_backup', 10)}",
        f"audit-log-maxsize={getattr(audit, 'max_size', 100)}",
    ]
