"""``__main__`` of the twin bundle (a Python zipapp standing in for the ``k3s``/``rke2``
binary). Like K3s (k3s-io/k3s ``cmd/k3s/main.go``, ``extract``), it unpacks its payload —
here the twin's Python packages and the real etcd — to ``<data-dir>/data/<hash>`` once, then runs
from there. ``--version`` answers without unpacking. Standard library only."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import zipfile

DEFAULTS = {"k3s": "/var/lib/rancher/k3s", "rke2": "/var/lib/rancher/rke2"}


def _data_dir(facts: dict[str, str]) -> str:
    # The config is parsed strictly later; here only its data-dir decides where to unpack.
    try:
        with open(facts["config_path"], encoding="utf-8") as handle:
            found = re.search(r"^data-dir:\s*\"?([^\"\n]+)\"?\s*$", handle.read(), re.M)
    except OSError:
        found = None
    return found.group(1) if found else facts["data_dir"]


def launch() -> None:
    bundle = sys.argv[0]
    with zipfile.ZipFile(bundle) as archive:
        facts = json.loads(archive.read("sloth_twin/runtime/facts.json"))
        if facts["distro"] != "kubeadm" and sys.argv[1:2] in (["--version"], ["-v"], ["version"]):
            title = "RKE2" if facts["distro"] == "rke2" else "K3s"
            banner = f"sloth twin of {title} {facts['version']} — not a real Kubernetes"
            print(f"{facts['distro']} version {facts['version']} ({banner})")
            print("go version none (sloth twin: Python, not Go)")
            return
        with open(bundle, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()[:16]
        target = f"{_data_dir(facts)}/data/{digest}"
        if not os.path.exists(f"{target}/.complete"):
            partial = f"{target}.partial-{os.getpid()}"
            archive.extractall(partial, [n for n in archive.namelist() if n != "__main__.py"])
            os.chmod(f"{partial}/bin/etcd", 0o755)
            open(f"{partial}/.complete", "w").close()
            try:
                os.rename(partial, target)
            except OSError:  # another invocation unpacked it first
                import shutil

                shutil.rmtree(partial, ignore_errors=True)
    sys.path.insert(0, target)
    os.environ["SLOTH_TWIN_PAYLOAD"] = target
    from sloth_twin.runtime.main import main

    main()


if __name__ == "__main__":
    launch()
