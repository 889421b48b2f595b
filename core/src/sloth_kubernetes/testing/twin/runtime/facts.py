"""What the bundle tells the twin about the distribution it stands in for (``facts.json``).

Written by :func:`sloth_kubernetes.testing.distro_twin.twin_bundle` from the plugin's installer
and ``flags.yaml``; read here once.
"""

from __future__ import annotations

import json
import pkgutil
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Facts:
    distro: str  # "k3s" | "rke2" | "kubeadm"
    version: str
    server_keys: dict[str, str]  # config key -> bool | int | string | list
    agent_keys: dict[str, str]
    config_path: str
    kubeconfig_path: str
    join_port: int  # K3s: 6443 (the API port); RKE2: 9345 (the supervisor)
    api_port: int
    init: str  # "cluster-init" (K3s) | "without-server" (RKE2)
    kubectl: str  # "subcommand" (k3s kubectl) | "data-dir" (<data-dir>/bin/kubectl)
    data_dir: str

    @property
    def title(self) -> str:
        return {"k3s": "K3s", "rke2": "RKE2", "kubeadm": "kubeadm"}.get(self.distro, self.distro)

    @property
    def banner(self) -> str:
        return f"sloth twin of {self.title} {self.version} — not a real Kubernetes"

    @property
    def kubernetes_version(self) -> str:
        return self.version.split("+", 1)[0]


def load() -> Facts:
    raw = pkgutil.get_data(__package__ or "", "facts.json")
    if raw is None:
        raise SystemExit("twin bundle without facts.json")
    data: dict[str, Any] = json.loads(raw)
    return Facts(**data)
