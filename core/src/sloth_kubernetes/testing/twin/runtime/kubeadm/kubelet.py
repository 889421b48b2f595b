"""``kubelet`` in the twin: what the kubelet of Kubernetes v1.31 does on a kubeadm node,
without containers.

* flags as kubeadm's drop-in passes them (``--bootstrap-kubeconfig``, ``--kubeconfig``,
  ``--config`` and ``KUBELET_KUBEADM_ARGS``); without ``--config``'s file it exits
  (``failed to load kubelet config file``) and systemd restarts it, as before ``kubeadm init``;
* ``failSwapOn`` (default true): with swap on it refuses to start
  (``pkg/kubelet/cm/container_manager_linux.go``), so ``kubeadm init`` then times out;
* TLS bootstrap (``pkg/kubelet/certificate/bootstrap``): with ``bootstrap-kubelet.conf`` and
  no ``kubelet.conf``, a CertificateSigningRequest for ``system:node:<name>`` in
  ``system:nodes`` (signer ``kubernetes.io/kube-apiserver-client-kubelet``) is posted with the
  bootstrap token and waited for; the signed certificate goes to
  ``/var/lib/kubelet/pki/kubelet-client-current.pem`` and ``kubelet.conf`` points at it;
* static pods from ``staticPodPath``: ``etcd`` runs the real etcd with the manifest's flags,
  the other control-plane components run as the twin's own (:mod:`.components`); a changed
  manifest restarts its pod, a removed one stops it; each gets a mirror pod
  ``<name>-<node>`` (``kubernetes.io/config.mirror``) whose phase is Running while it runs;
* the Node (labels ``kubernetes.io/hostname``/``os``/``arch`` and ``--node-labels``, InternalIP
  ``--node-ip``), a heartbeat every 10 s, Ready once the cluster has a pod network;
* listens on 10250 (and healthz on 127.0.0.1:10248), as kubeadm's preflight notices.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from ..config import parse_yaml
from ..facts import Facts
from ..node import BOOT_ID, HEARTBEAT_SECONDS, ready_condition
from ..records import record
from ..store import now
from . import certs
from . import constants as c
from .client import ApiError, Client

PAYLOAD = os.environ.get("SLOTH_TWIN_PAYLOAD", "")


def parse_flags(args: list[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for arg in args:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            flags[name] = value
    return flags


def _fail(message: str) -> None:
    print(f'E0000 run.go: "command failed" err="{message}"', file=sys.stderr, flush=True)
    record(f"FAILED kubelet: {message}")
    raise SystemExit(1)


def _swap_on() -> bool:
    try:
        with open("/proc/swaps", encoding="utf-8") as handle:
            return len(handle.read().splitlines()) > 1
    except OSError:
        return False


def run(facts: Facts, args: list[str]) -> None:
    flags = parse_flags(args)
    config_path = flags.get("config", "")
    if not config_path or not os.path.exists(config_path):
        _fail(
            f"failed to load kubelet config file, path: {config_path}, error: failed to load "
            f"Kubelet config file {config_path}, error failed to read kubelet config file "
            f'"{config_path}", error: open {config_path}: no such file or directory'
        )
    with open(config_path, encoding="utf-8") as handle:
        config = parse_yaml(handle.read()) or {}
    if config.get("failSwapOn", True) and _swap_on():
        _fail("failed to run Kubelet: running with swap on is not supported, please disable swap "
              "or set --fail-swap-on flag to false")  # fmt: skip
    name = (flags.get("hostname-override") or socket.gethostname()).lower()
    record(f"START kubelet name={name}")
    signal.signal(signal.SIGTERM, lambda *_: _stop_all())
    _listen()
    pods = StaticPods(facts, str(config.get("staticPodPath") or c.MANIFESTS), name)
    kubeconfig = flags.get("kubeconfig", c.KUBELET_CONF)
    api: Client | None = None
    node_posted = False
    next_beat = 0.0
    while True:
        pods.sync()
        if api is None and not os.path.exists(kubeconfig) and os.path.exists(
                flags.get("bootstrap-kubeconfig", "")):  # fmt: skip
            _bootstrap(flags["bootstrap-kubeconfig"], kubeconfig, name)
        if api is None and os.path.exists(kubeconfig):
            api = Client.from_kubeconfig(kubeconfig)
        if api is not None:
            try:
                if not node_posted:
                    node_posted = _register(api, _node(facts, name, flags))
                elif time.monotonic() >= next_beat:
                    _heartbeat(api, name)
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                pods.mirror(api)
            except (ApiError, OSError, ValueError):
                pass  # the API is not up yet (its static pod is starting), or away
        time.sleep(1.0)


def _stop_all() -> None:
    """A stopped kubelet leaves its pods running (they belong to the runtime, not to it)."""
    raise SystemExit(0)


def _listen() -> None:
    """10250 (the kubelet's API; nothing is served on it) and healthz on 127.0.0.1:10248."""
    holder = socket.socket(socket.AF_INET)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("0.0.0.0", c.KUBELET_PORT))
    holder.listen(8)
    _listen.holder = holder  # type: ignore[attr-defined]

    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 10248), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()


UNIT_PREFIX = "sloth-twin-pod-"
STATE = "/run/sloth-twin-pods"  # the manifest hash each pod was started from ("container labels")


def unit(component: str) -> str:
    return f"{UNIT_PREFIX}{component}.service"


def pod_running(component: str) -> bool:
    done = subprocess.run(["systemctl", "is-active", "--quiet", unit(component)], check=False)
    return done.returncode == 0


def stop_pod(component: str) -> None:
    subprocess.run(["systemctl", "stop", unit(component)], capture_output=True, check=False)
    if os.path.exists(f"{STATE}/{component}"):
        os.remove(f"{STATE}/{component}")


class StaticPods:
    """The static pods of ``directory``. Each runs as a transient systemd unit
    (``sloth-twin-pod-<name>``) outside the kubelet's own cgroup — as containers belong to the
    runtime — so restarting the kubelet leaves them running, and a new kubelet adopts them when
    their manifest is unchanged."""

    def __init__(self, facts: Facts, directory: str, node: str) -> None:
        self.facts, self.directory, self.node = facts, directory, node
        self.running: dict[str, tuple[str, dict[str, Any]]] = {}  # component -> (hash, pod)
        self.next_start: dict[str, float] = {}

    def sync(self) -> None:
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        if os.path.isdir(self.directory):
            for file in sorted(os.listdir(self.directory)):
                if file.startswith(".") or not file.endswith((".yaml", ".yml", ".json")):
                    continue
                with open(f"{self.directory}/{file}", "rb") as handle:
                    raw = handle.read()
                try:
                    pod = parse_yaml(raw.decode())
                except Exception as error:  # the kubelet logs the bad file and skips it
                    record(f"STATICPOD unreadable {file}: {error}")
                    continue
                if isinstance(pod, dict) and pod.get("kind") == "Pod":
                    found[str(pod["metadata"]["name"])] = (
                        hashlib.sha256(raw).hexdigest()[:16],
                        pod,
                    )
        started = {}
        if os.path.isdir(STATE):
            for component in os.listdir(STATE):
                with open(f"{STATE}/{component}", encoding="utf-8") as handle:
                    started[component] = handle.read().strip()
        for component, digest in started.items():
            if component not in found or found[component][0] != digest:
                stop_pod(component)
                self.running.pop(component, None)
                record(f"STATICPOD stop {component}")
        for component, (digest, pod) in found.items():
            self.running[component] = (digest, pod)
            if started.get(component) == digest and pod_running(component):
                continue
            if time.monotonic() < self.next_start.get(component, 0.0):
                continue  # back-off after a crash, as the kubelet's CrashLoopBackOff
            self._start(component, digest, pod)
            self.next_start[component] = time.monotonic() + 5.0

    def _start(self, component: str, digest: str, pod: dict[str, Any]) -> None:
        command = [str(a) for a in pod["spec"]["containers"][0].get("command") or []]
        if component == "etcd":
            argv = [f"{PAYLOAD}/bin/etcd", *command[1:]]
        else:
            argv = [sys.executable, sys.argv[0], "__component", component,
                    self._manifest(component)]  # fmt: skip
        subprocess.run(["systemctl", "reset-failed", unit(component)], capture_output=True,
                       check=False)  # fmt: skip
        log = f"/var/log/sloth-twin-{component}.log"
        subprocess.run(
            ["systemd-run", f"--unit={unit(component)}", "--collect", "--quiet",
             f"--property=StandardOutput=append:{log}", f"--property=StandardError=append:{log}",
             f"--setenv=SLOTH_TWIN_PAYLOAD={PAYLOAD}", "--", *argv],
            check=False, capture_output=True,
        )  # fmt: skip
        os.makedirs(STATE, exist_ok=True)
        with open(f"{STATE}/{component}", "w", encoding="utf-8") as handle:
            handle.write(digest)
        record(f"STATICPOD start {component} {shlex.join(argv[:1])}")

    def _manifest(self, component: str) -> str:
        for file in os.listdir(self.directory):
            if file.rsplit(".", 1)[0] == component:
                return f"{self.directory}/{file}"
        return f"{self.directory}/{component}.yaml"

    def mirror(self, api: Client) -> None:
        for component, (digest, pod) in self.running.items():
            meta = pod["metadata"]
            name = f"{meta['name']}-{self.node}"
            namespace = meta.get("namespace", "default")
            phase = "Running" if pod_running(component) else "Failed"
            body: dict[str, Any] = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": dict(meta.get("labels") or {}),
                             "annotations": {**(meta.get("annotations") or {}),
                                             "kubernetes.io/config.mirror": digest,
                                             "kubernetes.io/config.source": "file",
                                             "kubernetes.io/config.hash": digest}},
                "spec": {**pod["spec"], "nodeName": self.node},
                "status": {"phase": phase},
            }  # fmt: skip
            path = f"/api/v1/namespaces/{namespace}/pods"
            try:
                current = api.get(f"{path}/{name}")
            except ApiError as error:
                if error.code != 404:
                    raise
                api.call("POST", path, body)
                continue
            if (current.get("status") or {}).get("phase") != phase or (
                    current["metadata"].get("annotations") or {}).get(
                    "kubernetes.io/config.mirror") != digest:  # fmt: skip
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                api.call("PUT", f"{path}/{name}", body)


def _node(facts: Facts, name: str, flags: dict[str, str]) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
              "beta.kubernetes.io/arch": "amd64"}  # fmt: skip
    for label in filter(None, flags.get("node-labels", "").split(",")):
        key, _, value = label.partition("=")
        labels[key] = value
    address = flags.get("node-ip", "")
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {"sloth.twin/not-a-real-kubelet": "true",
                                     "kubeadm.alpha.kubernetes.io/cri-socket": flags.get(
                                         "container-runtime-endpoint", "")}},
        "spec": {},
        "status": {
            "addresses": [{"type": "InternalIP", "address": address},
                          {"type": "Hostname", "address": name}],
            "conditions": [ready_condition(network=False)],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": c.KUBELET_PORT}},
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": BOOT_ID,
                         "kernelVersion": os.uname().release, "kubeletVersion": facts.version,
                         "kubeProxyVersion": facts.version,
                         "containerRuntimeVersion": "none://sloth-twin",
                         "osImage": "sloth twin (no containers run)", "operatingSystem": "linux",
                         "architecture": "amd64"},
        },
    }  # fmt: skip


def _register(api: Client, node: dict[str, Any]) -> bool:
    try:
        api.call("POST", "/api/v1/nodes", node)
    except ApiError as error:
        if error.code != 409:
            raise
        _heartbeat(api, node["metadata"]["name"])
    return True


def _heartbeat(api: Client, name: str) -> None:
    """Post the node's status again (a new ``lastHeartbeatTime``; Ready stays as the
    controller-manager last judged the pod network, see :mod:`..node`)."""
    node = api.get(f"/api/v1/nodes/{name}")
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "Unknown":  # posting again after a silence
                condition.update(ready_condition(network=False))
            condition["lastHeartbeatTime"] = now()
    api.call("PUT", f"/api/v1/nodes/{name}/status", node)


def _bootstrap(bootstrap_conf: str, kubeconfig: str, name: str) -> None:
    """TLS bootstrap: a CSR with the bootstrap token, then the signed certificate."""
    bootstrap = Client.from_kubeconfig(bootstrap_conf)
    key_path = f"{c.KUBELET_PKI}/kubelet-client.key"
    request = certs.new_request(key_path, f"system:node:{name}", "system:nodes")
    csr_name = f"node-csr-{hashlib.sha256(request).hexdigest()[:20]}"
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": csr_name},
            "spec": {"request": base64.b64encode(request).decode(),
                     "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "usages": ["digital signature", "client auth"]}}  # fmt: skip
    path = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    try:
        bootstrap.call("POST", path, body)
    except ApiError as error:
        if error.code != 409:
            record(f"TLSBOOTSTRAP refused {error}")
            return
    except OSError:
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            found = bootstrap.get(f"{path}/{csr_name}")
        except (ApiError, OSError):
            found = {}
        cert = (found.get("status") or {}).get("certificate")
        if cert:
            with open(key_path, encoding="utf-8") as handle:
                key = handle.read()
            pem = base64.b64decode(cert).decode()
            current = f"{c.KUBELET_PKI}/kubelet-client-current.pem"
            certs.write(current, pem + key, 0o600)
            with open(bootstrap_conf, encoding="utf-8") as handle:
                config = parse_yaml(handle.read())
            cluster = config["clusters"][0]["cluster"]
            text = json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "default-cluster", "cluster": cluster}],
                    "contexts": [
                        {
                            "name": "default-context",
                            "context": {
                                "cluster": "default-cluster",
                                "user": "default-auth",
                                "namespace": "default",
                            },
                        }
                    ],
                    "current-context": "default-context",
                    "users": [
                        {
                            "name": "default-auth",
                            "user": {"client-certificate": current, "client-key": current},
                        }
                    ],
                }
            )
            certs.write(kubeconfig, text, 0o600)
            record(f"TLSBOOTSTRAP signed {csr_name}")
            return
        time.sleep(0.5)
