"""Entry point of the twin binary (``k3s``/``rke2``): the commands the installers call."""

from __future__ import annotations

import os
import signal
import sys

from . import facts as facts_module
from .config import ConfigRefused, load, token_sha
from .records import record


def main() -> None:
    facts = facts_module.load()
    if facts.distro == "kubeadm":  # kubeadm, kubelet and kubectl: their own commands
        from .kubeadm.entry import main as kubeadm_main

        kubeadm_main(facts)
        return
    args = sys.argv[1:]
    if not (args and args[0].startswith("__")):
        record("CALL " + " ".join(args))
    command = args[0] if args else ""
    if command in ("--version", "-v", "version"):
        print(f"{facts.distro} version {facts.version} ({facts.banner})")
        print("go version none (sloth twin: Python, not Go)")
        return
    if os.path.basename(sys.argv[0]) == "kubectl" and facts.kubectl == "subcommand":
        from .kubectl import main as kubectl  # K3s is multi-call: kubectl -> k3s

        raise SystemExit(kubectl(args, facts.kubeconfig_path))
    if (command == "kubectl" and facts.kubectl == "subcommand") or command == "__kubectl":
        from .kubectl import main as kubectl

        raise SystemExit(kubectl(args[1:], facts.kubeconfig_path))
    if command not in ("server", "agent"):
        _fail(f"unknown command: {' '.join(args)}")
    role = command
    if len(args) > 1:
        _fail(
            f"unexpected arguments to '{role}' (everything belongs in {facts.config_path}): "
            + " ".join(args[1:])
        )
    try:
        config = load(facts, role)
    except ConfigRefused as error:
        _fail(str(error))
    mode = oct(os.stat(facts.config_path).st_mode & 0o777)[2:]
    cluster_init = str(config.get("cluster-init", "")).lower() if "cluster-init" in config else ""
    record(
        f"START {role} name={config['node-name']} token_sha={token_sha(config)} "
        f"cluster_init={cluster_init} server={config.get('server', '')} config_mode={mode}"
    )
    print(facts.banner, file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if role == "server":
            from .server import run as run_server

            run_server(facts, config, os.environ["SLOTH_TWIN_PAYLOAD"] + "/bin/etcd")
        else:
            from .agent import run as run_agent

            run_agent(facts, config)
    except ConfigRefused as error:
        _fail(str(error))


def _fail(message: str) -> None:
    print(f"sloth twin {sys.argv[0].rsplit('/', 1)[-1]}: {message}", file=sys.stderr)
    record(f"FAILED {message}")
    raise SystemExit(1)
