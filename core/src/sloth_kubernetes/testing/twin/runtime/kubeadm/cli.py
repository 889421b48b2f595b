"""``kubeadm`` in the twin: ``version``, ``init``, ``join``, ``token create|delete``,
``init phase upload-certs``, ``reset`` — the phases in kubeadm v1.31's order
(``cmd/kubeadm/app/cmd/init.go``, ``join.go``, ``reset.go`` and ``phases/workflow``)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from ..config import ConfigRefused, parse_yaml
from ..etcd import Client as EtcdClient
from ..etcd import EtcdError
from ..facts import Facts
from ..records import record
from . import certs, cluster, configs, manifests, preflight
from . import constants as c
from .client import ApiError, Client, wait

USAGE = (
    "sloth twin kubeadm answers: version [-o short], init --upload-certs --config F, "
    "join --config F, token create --config F, token delete ID, "
    "init phase upload-certs --upload-certs --config F, reset -f [--cleanup-tmp-dir]"
)


def main(facts: Facts, args: list[str]) -> int:
    record("CALL kubeadm " + " ".join(args))
    options = _options(args)
    words = [a for a in args if not a.startswith("-") and a not in options.values()]
    try:
        if words[:1] == ["version"]:
            short = options.get("-o") == "short" or "-o=short" in args
            print(facts.version if short else f'kubeadm version: &version.Info{{Major:"1", '
                  f'Minor:"{facts.kubernetes_version.split(".")[1]}", GitVersion:"{facts.version}"'
                  ', GitCommit:"sloth-twin"}')  # fmt: skip
            return 0
        if words[:3] == ["init", "phase", "upload-certs"]:
            return _upload_certs_phase(options)
        if words[:1] == ["init"]:
            return _init(facts, options, upload="--upload-certs" in args)
        if words[:1] == ["join"]:
            return _join(facts, options)
        if words[:2] == ["token", "create"]:
            return _token_create(options)
        if words[:2] == ["token", "delete"] and len(words) == 3:
            return _token_delete(words[2])
        if words[:1] == ["reset"]:
            return _reset("-f" in args or "--force" in args)
    except (ConfigRefused, preflight.PreflightFailed, RuntimeError, TimeoutError, ApiError,
            EtcdError, ValueError) as error:  # fmt: skip
        print(f"error execution phase: {error}", file=sys.stderr)
        record(f"FAILED kubeadm {' '.join(words[:2])}: {error}")
        return 1
    print(f"unknown command {args!r} ({USAGE})", file=sys.stderr)
    return 1


def _options(args: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for index, arg in enumerate(args):
        if arg in ("--config", "-o") and index + 1 < len(args):
            found[arg] = args[index + 1]
        elif arg.startswith("--config="):
            found["--config"] = arg.split("=", 1)[1]
    return found


def _config_path(options: dict[str, str]) -> str:
    if "--config" not in options:
        raise ConfigRefused("the twin needs --config (the tool always passes one)")
    return options["--config"]


def _say(line: str) -> None:
    print(line, flush=True)


# -- init ---------------------------------------------------------------------------------------


def _init(facts: Facts, options: dict[str, str], *, upload: bool) -> int:
    documents = configs.load(_config_path(options), "init")
    init, cluster_cfg = documents["InitConfiguration"], documents["ClusterConfiguration"]
    cluster_cfg.setdefault("kubernetesVersion", facts.version)
    _version_skew(facts, str(cluster_cfg["kubernetesVersion"]))
    registration = init["nodeRegistration"]
    node = str(registration["name"])
    endpoint = init["localAPIEndpoint"]
    advertise = str(endpoint.get("advertiseAddress") or "")
    if not advertise:
        raise ConfigRefused("the twin needs localAPIEndpoint.advertiseAddress (no address "
                            "detection on a twin)")  # fmt: skip
    port = int(endpoint["bindPort"])
    pki = str(cluster_cfg["certificatesDir"])
    etcd_dir = str(cluster_cfg["etcd"]["local"]["dataDir"])
    preflight.control_plane(str(registration["criSocket"]), port, etcd_dir, secondary=False)
    _say('[certs] Using certificateDir folder "' + pki + '"')
    for name, common in (("ca", "kubernetes"), ("front-proxy-ca", "front-proxy-ca"),
                         ("etcd/ca", "etcd-ca")):  # fmt: skip
        existed = certs.ensure_ca(pki, name, common)
        _say(f"[certs] {'Using existing' if existed else 'Generating'} {name} certificate "
             "authority")  # fmt: skip
    certs.control_plane_certs(cluster_cfg, node, advertise)
    control_endpoint = str(cluster_cfg.get("controlPlaneEndpoint") or f"{advertise}:{port}")
    server = f"https://{control_endpoint}"
    name = str(cluster_cfg["clusterName"])
    certs.client_kubeconfig(pki, c.ADMIN_CONF, server, "kubernetes-admin",
                            c.CLUSTER_ADMINS_GROUP, name)  # fmt: skip
    certs.client_kubeconfig(pki, c.SUPER_ADMIN_CONF, server, "kubernetes-super-admin",
                            "system:masters", name)  # fmt: skip
    local = f"https://{advertise}:{port}"
    certs.client_kubeconfig(pki, c.KUBELET_CONF, server, f"system:node:{node}", "system:nodes",
                            name)  # fmt: skip
    certs.client_kubeconfig(pki, c.CONTROLLER_MANAGER_CONF, local,
                            "system:kube-controller-manager", "", name)  # fmt: skip
    certs.client_kubeconfig(pki, c.SCHEDULER_CONF, local, "system:kube-scheduler", "", name)
    _say("[kubeconfig] Writing \"admin.conf\", \"super-admin.conf\", \"kubelet.conf\", "
         "\"controller-manager.conf\", \"scheduler.conf\"")  # fmt: skip
    version = str(cluster_cfg["kubernetesVersion"])
    _write_manifest("etcd", manifests.etcd(cluster_cfg, node, advertise))
    _control_plane_manifests(cluster_cfg, advertise, port, version)
    kubelet_config = _kubelet_config(documents.get("KubeletConfiguration") or {}, cluster_cfg)
    _kubelet_start(kubelet_config, registration, advertise)
    _say("[wait-control-plane] Waiting for the kubelet to boot up the control plane as static "
         "Pods from directory \"/etc/kubernetes/manifests\"")  # fmt: skip
    super_admin = Client.from_kubeconfig(c.SUPER_ADMIN_CONF, local)
    wait(lambda: super_admin.get("/readyz") is not None, 240, "the API server (/readyz)")
    cluster.cluster_admins(super_admin)
    admin = Client.from_kubeconfig(c.ADMIN_CONF, local)
    cluster.upload_config(admin, _stored_cluster_config(cluster_cfg), kubelet_config)
    if upload:
        cluster.upload_certs(admin, pki, str(init.get("certificateKey") or ""))
        _say("[upload-certs] Storing the certificates in Secret \"kubeadm-certs\" in the "
             "\"kube-system\" Namespace")  # fmt: skip
    wait(lambda: admin.get(f"/api/v1/nodes/{node}"), 240, f"node {node} to register")
    cluster.mark_control_plane(admin, node, registration.get("taints"))
    tokens = init.get("bootstrapTokens") or []
    cluster.create_tokens(admin, tokens, fail_if_exists=False)
    with open(f"{pki}/ca.crt", encoding="utf-8") as handle:
        cluster.bootstrap_token_rbac(admin, handle.read(), control_endpoint)
    proxy = documents.get("KubeProxyConfiguration")
    disabled = (cluster_cfg.get("proxy") or {}).get("disabled")
    cluster.addons(admin, cluster_cfg, None if disabled else (proxy or {}))
    _say("Your Kubernetes control-plane has initialized successfully!")
    record(f"INIT {node} endpoint={control_endpoint}")
    return 0


def _version_skew(facts: Facts, wanted: str) -> None:
    """KubernetesVersionCheck: a control plane newer than kubeadm's minor is refused."""
    have = [int(x) for x in facts.kubernetes_version.lstrip("v").split(".")[:2]]
    try:
        want = [int(x) for x in wanted.lstrip("v").split(".")[:2]]
    except ValueError:
        raise ConfigRefused(f"couldn't parse Kubernetes version {wanted!r}") from None
    if want > have:
        raise ConfigRefused(
            f"Kubernetes version is greater than kubeadm version. Kubernetes "
            f"version: {wanted}. Kubeadm version: {have[0]}.{have[1]}.x"
        )


def _stored_cluster_config(cluster_cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cluster_cfg.items() if k not in ("apiVersion", "kind")} | {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "ClusterConfiguration",
    }


def _write_manifest(name: str, pod: dict[str, Any]) -> None:
    certs.write(f"{c.MANIFESTS}/{name}.yaml", json.dumps(pod, indent=2), 0o600)
    _say(f'[control-plane] Creating static Pod manifest for "{name}"')


def _control_plane_manifests(cluster_cfg: dict[str, Any], advertise: str, port: int,
                             version: str) -> None:  # fmt: skip
    _write_manifest("kube-apiserver", manifests.kube_apiserver(cluster_cfg, advertise, port,
                                                               version))  # fmt: skip
    _write_manifest(
        "kube-controller-manager", manifests.kube_controller_manager(cluster_cfg, version)
    )
    _write_manifest("kube-scheduler", manifests.kube_scheduler(cluster_cfg, version))


def _kubelet_config(user: dict[str, Any], cluster_cfg: dict[str, Any]) -> dict[str, Any]:
    """kubeadm's kubelet defaults (``componentconfigs/kubelet.go``) under the user's."""
    import ipaddress

    service = ipaddress.ip_network(cluster_cfg["networking"]["serviceSubnet"].split(",")[0],
                                   strict=False)  # fmt: skip
    base = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": f"{cluster_cfg['certificatesDir']}/ca.crt"}},
        "authorization": {"mode": "Webhook"}, "cgroupDriver": "systemd",
        "clusterDNS": [str(service.network_address + 10)],
        "clusterDomain": cluster_cfg["networking"]["dnsDomain"], "rotateCertificates": True,
        "staticPodPath": c.MANIFESTS, "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
    }  # fmt: skip
    return {**base, **{k: v for k, v in user.items() if k not in ("apiVersion", "kind")}}


def _kubelet_start(kubelet_config: dict[str, Any], registration: dict[str, Any],
                   node_ip: str) -> None:  # fmt: skip
    certs.write(c.KUBELET_CONFIG, json.dumps(kubelet_config, indent=2), 0o644)
    args = {"container-runtime-endpoint": str(registration["criSocket"]),
            "pod-infra-container-image": f"registry.k8s.io/pause:{c.PAUSE_VERSION}",
            **configs.extra_args(registration.get("kubeletExtraArgs"))}  # fmt: skip
    args.setdefault("node-ip", node_ip)
    if registration.get("name"):
        args.setdefault("hostname-override", str(registration["name"]))
    flags = " ".join(f"--{k}={v}" for k, v in args.items())
    certs.write(c.KUBELET_FLAGS_ENV, f'KUBELET_KUBEADM_ARGS="{flags}"\n', 0o644)
    _say("[kubelet-start] Starting the kubelet")
    subprocess.run(["systemctl", "restart", "kubelet"], check=False)


# -- join ---------------------------------------------------------------------------------------


def _join(facts: Facts, options: dict[str, str]) -> int:
    documents = configs.load(_config_path(options), "join")
    join = documents["JoinConfiguration"]
    registration = join["nodeRegistration"]
    node = str(registration["name"])
    control = join.get("controlPlane") if isinstance(join.get("controlPlane"), dict) else None
    ca_path = str(join.get("caCertPath") or f"{c.PKI}/ca.crt")
    preflight.join(str(registration["criSocket"]), worker=control is None, ca_path=ca_path)
    discovery = (join.get("discovery") or {}).get("bootstrapToken") or {}
    token = str(discovery.get("token") or (join.get("discovery") or {}).get("tlsBootstrapToken"))
    endpoint = str(discovery.get("apiServerEndpoint", ""))
    ca_pem = _discover(endpoint, token, discovery)
    bootstrap = Client(f"https://{endpoint}", ca_pem=ca_pem, token=token)
    stored = parse_yaml(
        bootstrap.get(f"/api/v1/namespaces/kube-system/configmaps/{c.KUBEADM_CONFIG_MAP}")["data"][
            "ClusterConfiguration"
        ]
    )
    cluster_cfg = configs.cluster_defaults(stored)
    pki = str(cluster_cfg["certificatesDir"])
    if control is not None:
        advertise = str((control.get("localAPIEndpoint") or {}).get("advertiseAddress") or "")
        port = int((control.get("localAPIEndpoint") or {}).get("bindPort") or 6443)
        preflight.control_plane(
            str(registration["criSocket"]),
            port,
            str(cluster_cfg["etcd"]["local"]["dataDir"]),
            secondary=True,
        )
        _say('[download-certs] Downloading the certificates in Secret "kubeadm-certs"')
        cluster.download_certs(bootstrap, pki, str(control.get("certificateKey") or ""))
        certs.control_plane_certs(cluster_cfg, node, advertise)
        server = f"https://{cluster_cfg.get('controlPlaneEndpoint') or endpoint}"
        local = f"https://{advertise}:{port}"
        name = str(cluster_cfg["clusterName"])
        certs.client_kubeconfig(pki, c.ADMIN_CONF, server, "kubernetes-admin",
                                c.CLUSTER_ADMINS_GROUP, name)  # fmt: skip
        certs.client_kubeconfig(pki, c.CONTROLLER_MANAGER_CONF, local,
                                "system:kube-controller-manager", "", name)  # fmt: skip
        certs.client_kubeconfig(pki, c.SCHEDULER_CONF, local, "system:kube-scheduler", "", name)
        _control_plane_manifests(
            cluster_cfg, advertise, port, str(cluster_cfg.get("kubernetesVersion", facts.version))
        )
    else:
        certs.write(ca_path, ca_pem, 0o644)
        advertise = ""
    _write_bootstrap_kubeconfig(endpoint, ca_pem, token)
    kubelet = parse_yaml(
        bootstrap.get(f"/api/v1/namespaces/kube-system/configmaps/{c.KUBELET_CONFIG_MAP}")["data"][
            "kubelet"
        ]
    )
    node_ip = configs.extra_args(registration.get("kubeletExtraArgs")).get("node-ip", advertise)
    _kubelet_start(kubelet, registration, node_ip)
    _say("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
    wait(
        lambda: os.path.exists(c.KUBELET_CONF),
        300,
        "the kubelet's TLS bootstrap (/etc/kubernetes/kubelet.conf)",
    )
    os.remove(c.BOOTSTRAP_KUBELET_CONF)
    if control is not None:
        admin = Client.from_kubeconfig(c.ADMIN_CONF)
        _join_etcd(admin, cluster_cfg, node, advertise)
        wait(lambda: admin.get(f"/api/v1/nodes/{node}"), 240, f"node {node} to register")
        cluster.mark_control_plane(admin, node, registration.get("taints"))
        _say("This node has joined the cluster and a new control plane instance was created")
    else:
        _say("This node has joined the cluster")
    record(f"JOIN {node} {'control-plane' if control is not None else 'worker'} via {endpoint}")
    return 0


def _discover(endpoint: str, token: str, discovery: dict[str, Any]) -> str:
    """Token discovery (``cmd/kubeadm/app/discovery/token/token.go``): ``cluster-info`` read
    without trusting the server, its JWS checked with the token, the CA checked against
    ``caCertHashes``, then read again trusting only that CA."""
    token_id, _, secret = token.partition(".")
    insecure = Client(f"https://{endpoint}", ca_pem=None)
    path = f"/api/v1/namespaces/kube-public/configmaps/{c.CLUSTER_INFO}"

    def signed() -> dict[str, Any] | None:
        info = insecure.get(path)
        if f"jws-kubeconfig-{token_id}" not in (info.get("data") or {}):
            return None  # the bootstrap signer has not signed it for this token (yet)
        return info  # type: ignore[no-any-return]

    info = wait(signed, 300, f"a JWS-signed cluster-info for token id {token_id!r} at "
                f"{endpoint}")  # fmt: skip
    from .components import _jws

    content = info["data"]["kubeconfig"]
    if info["data"][f"jws-kubeconfig-{token_id}"] != _jws(content, token_id, secret):
        raise RuntimeError("failed to verify JWS signature of received cluster info object, "
                           "can't trust this API Server")  # fmt: skip
    kubeconfig = parse_yaml(content)
    ca_pem = base64.b64decode(
        kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
    ).decode()
    pins = discovery.get("caCertHashes") or []
    if not pins and not discovery.get("unsafeSkipCAVerification"):
        raise ConfigRefused(
            "discovery.bootstrapToken: using token-based discovery without "
            "caCertHashes can be unsafe. Set unsafeSkipCAVerification as true "
            "in your kubeadm config file or pass "
            "--discovery-token-unsafe-skip-ca-verification flag to continue"
        )
    if pins and certs.spki_pin(ca_pem) not in pins:
        raise RuntimeError(f"cluster CA found in cluster-info ConfigMap is invalid: none of the "
                           f"public keys \"{certs.spki_pin(ca_pem)}\" are pinned")  # fmt: skip
    import ssl

    secure = Client(f"https://{endpoint}", ca_pem=ca_pem)
    secure.context.check_hostname = True  # the API server's certificate must name the endpoint
    secure.context.verify_mode = ssl.CERT_REQUIRED
    secure.get(path)
    return ca_pem


def _write_bootstrap_kubeconfig(endpoint: str, ca_pem: str, token: str) -> None:
    text = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kubernetes",
                    "cluster": {
                        "server": f"https://{endpoint}",
                        "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "tls-bootstrap-token-user@kubernetes",
                    "context": {"cluster": "kubernetes", "user": "tls-bootstrap-token-user"},
                }
            ],
            "current-context": "tls-bootstrap-token-user@kubernetes",
            "users": [{"name": "tls-bootstrap-token-user", "user": {"token": token}}],
        }
    )
    certs.write(c.BOOTSTRAP_KUBELET_CONF, text, 0o600)


def _join_etcd(admin: Client, cluster_cfg: dict[str, Any], node: str, advertise: str) -> None:
    """Stacked etcd (``phases/etcd/local.go`` ``CreateStackedEtcdStaticPodManifestFile``,
    learner mode on by default since v1.29): the member list through the etcd endpoints the
    etcd mirror pods advertise, this node added as a learner, ``etcd.yaml`` with every member
    and ``initial-cluster-state=existing``, then the learner promoted once in sync."""
    pki = str(cluster_cfg["certificatesDir"])
    pods = admin.get("/api/v1/namespaces/kube-system/pods?labelSelector=component%3Detcd")
    endpoints = [
        p["metadata"]["annotations"][c.ETCD_ADVERTISE_ANNOTATION]
        for p in pods["items"]
        if c.ETCD_ADVERTISE_ANNOTATION in (p["metadata"].get("annotations") or {})
    ]
    if not endpoints:
        raise RuntimeError("etcd cluster is not healthy: no etcd endpoints found in the "
                           "kube-system etcd pods' annotations")  # fmt: skip
    etcd = EtcdClient(endpoints, "", (f"{pki}/etcd/ca.crt", f"{pki}/etcd/healthcheck-client.crt",
                                      f"{pki}/etcd/healthcheck-client.key"))  # fmt: skip
    peer = f"https://{advertise}:2380"
    members = etcd.members()
    if not any(peer in (m.get("peerURLs") or []) for m in members):
        _say(f"[etcd] Adding etcd member as learner: {peer}")
        etcd.add_learner(peer, timeout=20)
        members = etcd.members()
    initial = ",".join(f"{m.get('name') or node}={(m.get('peerURLs') or [''])[0]}" for m in members)
    _write_manifest("etcd", manifests.etcd(cluster_cfg, node, advertise, initial))
    member_id = next(m["ID"] for m in members if peer in (m.get("peerURLs") or []))

    def promoted() -> bool:
        try:
            etcd.promote(str(member_id))
        except EtcdError as error:
            return "not a learner" in str(error)
        return True

    wait(promoted, 120, f"etcd learner {node} to be promoted", interval=1.0)
    _say("[etcd] Promoted the learner to a voting member")


# -- tokens, certificates, reset ----------------------------------------------------------------


def _token_create(options: dict[str, str]) -> int:
    documents = configs.load(_config_path(options), "init")
    admin = Client.from_kubeconfig(c.ADMIN_CONF)
    tokens = documents["InitConfiguration"].get("bootstrapTokens") or []
    cluster.create_tokens(admin, tokens, fail_if_exists=True)
    _say("<token created>")  # kubeadm prints the token itself; the twin does not repeat it
    return 0


def _token_delete(token_id: str) -> int:
    admin = Client.from_kubeconfig(c.ADMIN_CONF)
    token_id = token_id.split(".", maxsplit=1)[0]
    try:
        admin.call("DELETE", f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}")
    except ApiError as error:
        if error.code == 404:
            raise RuntimeError(f"bootstrap token {token_id!r} not found") from None
        raise
    _say(f"bootstrap token {token_id!r} deleted")
    return 0


def _upload_certs_phase(options: dict[str, str]) -> int:
    documents = configs.load(_config_path(options), "init")
    admin = Client.from_kubeconfig(c.ADMIN_CONF)
    pki = str(documents["ClusterConfiguration"]["certificatesDir"])
    cluster.upload_certs(admin, pki, str(documents["InitConfiguration"].get("certificateKey")))
    _say('[upload-certs] Storing the certificates in Secret "kubeadm-certs"')
    return 0


def _reset(force: bool) -> int:
    """``kubeadm reset``: the local etcd member removed from the cluster, the kubelet stopped,
    manifests, etcd data, kubeconfigs, pki and the kubelet's state deleted. Left as kubeadm
    leaves them (it says so): CNI configuration, iptables/IPVS rules, $HOME/.kube/config."""
    if not force:
        raise RuntimeError("reset asks for confirmation; the twin only runs `reset -f`")
    etcd_manifest = f"{c.MANIFESTS}/etcd.yaml"
    if os.path.exists(etcd_manifest):
        try:
            _leave_etcd(etcd_manifest)
        except (EtcdError, OSError, KeyError, ValueError) as error:
            print(f"[reset] Failed to remove etcd member: {error}", file=sys.stderr)
    subprocess.run(["systemctl", "stop", "kubelet"], check=False)
    from .kubelet import STATE, stop_pod

    for component in os.listdir(STATE) if os.path.isdir(STATE) else []:
        stop_pod(component)  # the "containers" (kubeadm reset removes them through the CRI)
    for path in (c.MANIFESTS, f"{c.KUBERNETES_DIR}/pki"):
        shutil.rmtree(path, ignore_errors=True)
    if os.path.isdir(c.DEFAULT_ETCD_DIR):
        for entry in os.listdir(c.DEFAULT_ETCD_DIR):
            shutil.rmtree(f"{c.DEFAULT_ETCD_DIR}/{entry}", ignore_errors=True)
    for conf in (c.ADMIN_CONF, c.SUPER_ADMIN_CONF, c.KUBELET_CONF, c.BOOTSTRAP_KUBELET_CONF,
                 c.CONTROLLER_MANAGER_CONF, c.SCHEDULER_CONF):  # fmt: skip
        if os.path.exists(conf):
            os.remove(conf)
    if os.path.isdir(c.KUBELET_DIR):
        for entry in os.listdir(c.KUBELET_DIR):
            if entry != "data":  # the twin's own unpacked payload, as a binary is kept
                path = f"{c.KUBELET_DIR}/{entry}"
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)
    _say("The reset process does not clean CNI configuration. To do so, you must remove "
         "/etc/cni/net.d")  # fmt: skip
    record("RESET")
    return 0


def _leave_etcd(manifest: str) -> None:
    with open(manifest, encoding="utf-8") as handle:
        pod = parse_yaml(handle.read())
    flags = manifests.flags_of(pod)
    pki = os.path.dirname(flags["trusted-ca-file"])
    etcd = EtcdClient(
        ["https://127.0.0.1:2379"],
        "",
        (f"{pki}/ca.crt", f"{pki}/healthcheck-client.crt", f"{pki}/healthcheck-client.key"),
    )
    members = etcd.members()
    if len(members) <= 1:
        return
    peer = flags["initial-advertise-peer-urls"]
    for member in members:
        if peer in (member.get("peerURLs") or []):
            etcd.call("cluster/member/remove", {"ID": member["ID"]})
            _say(f"[reset] Removed etcd member {peer}")
    time.sleep(0.5)
