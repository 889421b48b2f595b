"""Whether a kubeadm cluster has a pod network: kubeadm starts none, so only a CNI add-on
brings one, and on this project's clusters CNI add-ons are HelmCharts.

kubeadm has no helm-controller: HelmCharts do nothing until the standalone one runs
(k3s-io/helm-controller v0.16.5 ``main.go``: a Deployment that creates its CRDs itself). Before
any CNI every node is NotReady with the ``node.kubernetes.io/not-ready`` taint, so that
Deployment runs only with ``hostNetwork`` and a toleration of that taint. A CNI chart's
install job then runs only when the chart is ``bootstrap`` (host network, not-ready tolerated —
``pkg/controllers/chart/chart.go``) **and** a node matches the job's node selector
``node-role.kubernetes.io/control-plane: "true"`` — kubeadm labels control-plane nodes with
``""``, so this needs the label set to ``"true"``. The releases and the chart roles come from
the twin's model (:func:`sloth_twin.helm.install_releases`, ``data/charts.json``).
"""

from __future__ import annotations

from ...kubeadm import runs_without_pod_network
from ..config import parse_yaml
from .client import ApiError, Client


def helm_controller_runs(client: Client) -> bool:
    deployments = client.get("/apis/apps/v1/deployments")["items"]
    return any(
        d["metadata"]["name"] == "helm-controller" and runs_without_pod_network(d)
        for d in deployments
    )


def pod_network(client: Client) -> bool:
    if not helm_controller_runs(client):
        return False
    try:
        charts = client.get("/apis/helm.cattle.io/v1/helmcharts")["items"]
        configs = client.get("/apis/helm.cattle.io/v1/helmchartconfigs")["items"]
    except ApiError:
        return False  # no HelmChart CRD yet
    from ...distribution import chart_facts
    from ...helm import install_releases

    releases, _objects, _refused, _ignored = install_releases(
        [(f"api:{c['metadata']['name']}", c) for c in charts],
        [(f"api:{c['metadata']['name']}", c) for c in configs],
        chart_facts(),
        parse_yaml,
    )
    nodes = client.get("/api/v1/nodes")["items"]
    selectable = any(
        (n["metadata"].get("labels") or {}).get("node-role.kubernetes.io/control-plane") == "true"
        for n in nodes
    )
    return any(r.role == "cni" and r.bootstrap and selectable for r in releases)
