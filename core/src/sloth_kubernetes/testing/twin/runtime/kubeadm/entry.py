"""Entry of the kubeadm twin: one zipapp run as ``kubeadm``, ``kubelet`` or ``kubectl``."""

from __future__ import annotations

import os
import sys

from ..config import ConfigRefused, parse_yaml
from ..facts import Facts


def main(facts: Facts) -> None:
    program = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    if args[:1] == ["__component"] and len(args) == 3:
        raise SystemExit(_component(facts, args[1], args[2]))
    if program == "kubelet":
        if args[:1] in (["--version"], ["version"]):
            print(f"Kubernetes {facts.version}")
            return
        from . import kubelet

        kubelet.run(facts, args)
        return
    if program == "kubectl":
        from ..kubectl import main as kubectl

        raise SystemExit(kubectl(args, facts.kubeconfig_path))
    from . import cli

    raise SystemExit(cli.main(facts, args))


def _component(facts: Facts, name: str, manifest_path: str) -> int:
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = parse_yaml(handle.read())
    from . import components

    try:
        if name == "kube-apiserver":
            components.run_apiserver(facts, manifest)
        elif name == "kube-controller-manager":
            components.run_controller_manager(manifest)
        elif name == "kube-scheduler":
            components.run_scheduler(manifest)
        else:
            print(f"sloth twin: no stand-in for static pod {name!r}", file=sys.stderr)
            return 1
    except ConfigRefused as error:
        print(f"sloth twin {name}: {error}", file=sys.stderr)
        return 1
    return 0
