"""``k3s agent`` / ``rke2 agent`` in the twin: register with the server named in ``server:``
(the supervisor: K3s 6443, RKE2 9345), get a kubelet client certificate, create the Node
through the API on 6443 and post its status. No kubelet, containerd or pods run.

The agent's own client-side load balancer (k3s-io/k3s ``pkg/agent/proxy/apiproxy.go``,
``pkg/agent/loadbalancer``, v1.31.4+k3s1) takes its ports first: the supervisor's on
127.0.0.1:``lb-server-port`` (default 6444, ``pkg/cli/cmds/agent.go``) and, where the API is not
on the supervisor's port (RKE2), the API's one port below it (``SetAPIServerPort``). A port
already taken fails the start as ``net.Listen`` does there. The twin holds those ports but
forwards nothing through them: it talks to the API at the ``server:`` host on the API port,
the address the real balancer starts from (its learned server list is not modelled).
"""

from __future__ import annotations

import os
import socket
import time
import urllib.parse
from typing import Any

from . import pki
from .config import ConfigRefused, data_dir
from .facts import Facts
from .join import Joiner, JoinRefused
from .node import HEARTBEAT_SECONDS, ApiClient, heartbeat, node_object, register

#: ``--lb-server-port``'s default (k3s-io/k3s ``pkg/cli/cmds/agent.go``, v1.31.4+k3s1)
LB_SERVER_PORT = 6444


def hold_balancer_ports(facts: Facts, config: dict[str, Any]) -> list[socket.socket]:
    """Listen where the agent's own client balancer listens; refuse a port already taken."""
    port = int(config.get("lb-server-port") or LB_SERVER_PORT)
    ports = [port] if facts.join_port == facts.api_port else [port, port - 1]
    held: list[socket.socket] = []
    for number in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", number))
            listener.listen(16)
        except OSError as error:
            for opened in (*held, listener):
                opened.close()
            raise ConfigRefused(
                f"failed to create load balancer: listen tcp 127.0.0.1:{number}: bind: "
                f"{error.strerror or error}"
            ) from None
        held.append(listener)
    return held


def run(facts: Facts, config: dict[str, Any]) -> None:
    url = str(config.get("server") or "")
    if not url:
        raise ConfigRefused("agent without server:")
    balancer = hold_balancer_ports(facts, config)  # kept open while the agent runs
    name = str(config["node-name"])
    agent_dir = f"{data_dir(facts, config)}/agent"
    os.makedirs(agent_dir, mode=0o700, exist_ok=True)
    joiner = Joiner(url, str(config["token"]), "node", name, f"{agent_dir}/server-ca.crt")
    try:
        joiner.fetch_ca()
        pem = joiner.get("/v1-k3s/client-kubelet.crt").decode()
    except JoinRefused as error:
        raise ConfigRefused(f"join refused by {url}: {error}") from None
    cert_end = pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
    pki.write_private(f"{agent_dir}/client-kubelet.crt", pem[:cert_end])
    pki.write_private(f"{agent_dir}/client-kubelet.key", pem[cert_end:])
    host = urllib.parse.urlsplit(url).hostname or ""
    api = f"https://{host}:{facts.api_port}"
    kubelet = ApiClient(
        api, joiner.ca_file, f"{agent_dir}/client-kubelet.crt", f"{agent_dir}/client-kubelet.key"
    )
    node = node_object(facts, config, server=False)
    while not register(kubelet, node):
        time.sleep(1)
    while balancer:
        time.sleep(HEARTBEAT_SECONDS)
        heartbeat(kubelet, name)
