"""``k3s agent`` / ``rke2 agent`` in the twin: register with the server named in ``server:``
(the supervisor: K3s 6443, RKE2 9345), get a kubelet client certificate, create the Node
through the API on 6443 and post its status. No kubelet, containerd or pods run."""

from __future__ import annotations

import os
import time
import urllib.parse
from typing import Any

from . import pki
from .config import ConfigRefused, data_dir
from .facts import Facts
from .join import Joiner, JoinRefused
from .node import HEARTBEAT_SECONDS, ApiClient, heartbeat, node_object, register


def run(facts: Facts, config: dict[str, Any]) -> None:
    url = str(config.get("server") or "")
    if not url:
        raise ConfigRefused("agent without server:")
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
    while True:
        time.sleep(HEARTBEAT_SECONDS)
        heartbeat(kubelet, name)
