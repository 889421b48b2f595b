"""``k3s server`` / ``rke2 server`` in the twin: certificates, embedded etcd (new or joined),
the API and supervisor, the server's own Node, and the controllers.

Who initialises: K3s — ``cluster-init: true`` without ``server:``; a K3s server with neither
would use SQLite through kine, which the twin does not have (refused, saying so). RKE2 — the
server without ``server:`` (RKE2 always runs etcd; rancher/rke2 ``pkg/rke2/rke2.go``).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
import urllib.parse
from typing import Any

from . import etcd, etcd_join, pki
from .apiserver import ApiServer
from .config import ConfigRefused, as_list, data_dir, token_password
from .controllers import Controllers
from .facts import Facts
from .http import Request, Response, serve, server_context, status
from .join import Joiner, JoinRefused
from .node import ApiClient, node_object, register
from .records import record
from .store import ApiFailure, Store
from .supervisor import Supervisor, bootstrap_files
from .system_objects import ensure_system_objects

SERVICE_IP = "10.43.0.1"  # first address of the default service-cidr 10.43.0.0/16


def initialises(facts: Facts, config: dict[str, Any]) -> bool:
    if config.get("server"):
        return False
    if facts.init == "cluster-init" and config.get("cluster-init") is not True:
        raise ConfigRefused(
            "neither cluster-init: true nor server: — K3s would start with SQLite (kine), "
            "which the sloth twin does not provide"
        )
    return True


def run(facts: Facts, config: dict[str, Any], etcd_binary: str) -> None:
    data = data_dir(facts, config)
    tls = f"{data}/server/tls"
    name = str(config["node-name"])
    address = as_list(config, "node-ip")[0]
    token = str(config["token"])
    first = initialises(facts, config)
    os.makedirs(f"{tls}/etcd", mode=0o700, exist_ok=True)
    joiner = None
    if first:
        for ca in pki.CAS:
            pki.ensure_ca(tls, ca)
    else:
        joiner = Joiner(
            str(config["server"]), token, "server", name, f"{data}/server/cluster-ca.crt"
        )
        try:
            joiner.fetch_ca()
            if not os.path.exists(f"{tls}/server-ca.key"):
                for file, text in bootstrap_files(joiner.get("/v1-k3s/server-bootstrap")).items():
                    pki.write_private(f"{tls}/{file}", text)
        except JoinRefused as error:
            raise ConfigRefused(f"joining {config['server']} failed: {error}") from None
    _server_certificates(tls, name, address, config)
    _write_token(data, tls, token)
    _write_kubeconfig(facts, config, tls)

    process = etcd.Process(etcd_binary, data, name, address)
    if process.initialized():
        process.start()
    elif first:
        process.start(f"{process.name}={process.peer_url}", "new")
    else:
        assert joiner is not None
        process.start(etcd_join.initial_cluster(joiner, process, tls), "existing")
    local = etcd.Client(["https://127.0.0.1:2379"], tls)
    etcd.wait_healthy(local, 120)
    store = Store(local)

    def ready() -> str:
        try:
            state = local.status()
            if state.get("isLearner") or _is_learner(local, process.name):
                return "etcd failed: this server has not yet been promoted from learner to voting"
                " member"
            local.get("/registry/health")  # linearizable: needs quorum
        except etcd.EtcdError as error:
            return f"etcd failed: {error}"
        return ""

    _wait(lambda: _try(lambda: ensure_system_objects(store, facts)), 120)
    version = {
        "major": "1",
        "minor": facts.kubernetes_version.split(".")[1],
        "gitVersion": facts.version,
        "gitCommit": "sloth-twin",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "none (sloth twin)",
        "compiler": "sloth-twin",
        "platform": "linux/amd64",
    }
    api = ApiServer(store, version, address, ready)
    supervisor = Supervisor(tls, token, name, store, local.members)
    context = server_context(tls, "serving-kube-apiserver", "client-ca")

    def api_port(request: Request) -> Response:
        if facts.join_port == facts.api_port:
            answer = supervisor.handle(request)
            if answer is not None:
                return answer
        elif request.path.startswith("/v1-") or request.path in ("/cacerts", "/db/info"):
            record(
                f"WRONGPORT {request.headers.get('k3s-node-name', '?')} port={request.port}",
                "joins.log",
            )
            return status(404, "NotFound", "the server could not find the requested resource")
        return api.handle(request)

    def supervisor_port(request: Request) -> Response:
        answer = supervisor.handle(request)
        return answer if answer is not None else status(404, "NotFound", "not found")

    serve("0.0.0.0", facts.api_port, context, api_port)
    if facts.join_port != facts.api_port:
        serve("0.0.0.0", facts.join_port, context, supervisor_port)

    crt, key = pki.issue(
        tls,
        "client-ca",
        f"kubelet/{name}",
        f"system:node:{name}",
        organization="system:nodes",
        client=True,
    )
    kubelet = ApiClient(f"https://127.0.0.1:{facts.api_port}", f"{tls}/server-ca.crt", crt, key)
    node = node_object(facts, config, server=True)
    threading.Thread(
        target=lambda: _wait(lambda: register(kubelet, node), 600), daemon=True
    ).start()
    Controllers(facts, config, data, store, local, process.name, kubelet, name).run_forever()


def _server_certificates(tls: str, name: str, address: str, config: dict[str, Any]) -> None:
    sans = [address, "127.0.0.1", SERVICE_IP, *as_list(config, "advertise-address")]
    extra = as_list(config, "tls-san")
    ips = tuple(dict.fromkeys(sans + [s for s in extra if _is_ip(s)]))
    names = (
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        name,
        *[s for s in extra if not _is_ip(s)],
    )
    pki.issue(
        tls,
        "server-ca",
        "serving-kube-apiserver",
        "kube-apiserver",
        ips=ips,
        dns=tuple(dict.fromkeys(names)),
        server=True,
    )
    if not os.path.exists(f"{tls}/client-admin.crt"):
        pki.issue(
            tls,
            "client-ca",
            "client-admin",
            "system:admin",
            organization="system:masters",
            client=True,
        )
    pki.issue(
        tls,
        "etcd/server-ca",
        "etcd/server-client",
        "etcd",
        ips=(address, "127.0.0.1"),
        dns=("localhost",),
        server=True,
        client=True,
    )
    pki.issue(
        tls,
        "etcd/peer-ca",
        "etcd/peer-server-client",
        "etcd-peer",
        ips=(address, "127.0.0.1"),
        dns=("localhost",),
        server=True,
        client=True,
    )
    pki.issue(tls, "etcd/server-ca", "etcd/client", "etcd-client", client=True)


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _write_token(data: str, tls: str, token: str) -> None:
    """``server/token`` as K3s writes it: ``K10<sha256 of the CA bundle>::server:<password>``."""
    ca_hash = hashlib.sha256(pki.read(f"{tls}/server-ca.crt").encode()).hexdigest()
    text = f"K10{ca_hash}::server:{token_password(token)}\n"
    pki.write_private(f"{data}/server/token", text)
    link = f"{data}/server/node-token"
    if not os.path.islink(link):
        os.symlink("token", link)


def _write_kubeconfig(facts: Facts, config: dict[str, Any], tls: str) -> None:
    import base64

    def data(path: str) -> str:
        return base64.b64encode(pki.read(path).encode()).decode()

    path = str(config.get("write-kubeconfig") or facts.kubeconfig_path)
    text = (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {data(f'{tls}/server-ca.crt')}\n"
        f"    server: https://127.0.0.1:{facts.api_port}\n  name: default\n"
        "contexts:\n- context:\n    cluster: default\n    user: default\n  name: default\n"
        "current-context: default\nkind: Config\npreferences: {}\n"
        "users:\n- name: default\n  user:\n"
        f"    client-certificate-data: {data(f'{tls}/client-admin.crt')}\n"
        f"    client-key-data: {data(f'{tls}/client-admin.key')}\n"
    )
    pki.write_private(path, text)
    os.chmod(path, int(str(config.get("write-kubeconfig-mode") or "0600"), 8))
    if facts.kubectl == "data-dir":  # RKE2: <data-dir>/bin/kubectl (from its runtime image)
        binary = f"{data_dir(facts, config)}/bin/kubectl"
        os.makedirs(os.path.dirname(binary), exist_ok=True)
        with open(binary, "w", encoding="utf-8") as handle:
            handle.write(f'#!/bin/sh\nexec {os.path.abspath(sys.argv[0])} __kubectl "$@"\n')
        os.chmod(binary, 0o755)


def _is_learner(client: etcd.Client, name: str) -> bool:
    return any(m.get("name") == name and m.get("isLearner") for m in client.members())


def _try(call: Any) -> bool:
    try:
        call()
    except (etcd.EtcdError, ApiFailure, OSError):
        return False
    return True


def _wait(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.5)


_ = urllib.parse
