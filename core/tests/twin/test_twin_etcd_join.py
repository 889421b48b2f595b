"""The twin's etcd join against real etcd 3.4 processes (Debian's etcd-server) on loopback.

etcd refuses a member add ("etcdserver: unhealthy cluster", ``StrictReconfigCheck``) until the
member asked has been connected to every voting member for 5 s — e.g. right after a promotion,
or while a voter is away. K3s retries the join once a second on that error instead of exiting
(k3s-io/k3s ``pkg/etcd/etcd.go`` ``Start``); so must the twin, or systemd restarts it and the
server starts twice. Plain HTTP between the etcds: the check does not depend on TLS.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sloth_kubernetes.testing.twin.runtime import etcd, etcd_join, pki, records

pytestmark = pytest.mark.slow

ETCD = shutil.which("etcd")
#: loopback addresses no other test uses; etcd binds each member to its own
ADDRESSES = ("127.77.0.1", "127.77.0.2", "127.77.0.3")


def _start(
    work: Path, name: str, address: str, cluster: str, state: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(ETCD), "--name", name, "--data-dir", str(work / name),
            "--listen-client-urls", f"http://{address}:2379",
            "--advertise-client-urls", f"http://{address}:2379",
            "--listen-peer-urls", f"http://{address}:2380",
            "--initial-advertise-peer-urls", f"http://{address}:2380",
            "--listen-metrics-urls", f"http://{address}:2381",
            "--initial-cluster", cluster, "--initial-cluster-state", state,
            "--heartbeat-interval", "500", "--election-timeout", "5000", "--logger", "zap",
            "--log-outputs", str(work / f"{name}.log"),
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _until(check, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except etcd.EtcdError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class _FirstServer:
    """The supervisor's ``/db/info`` of the first server: the real member list of its etcd."""

    def __init__(self, client: etcd.Client, address: str) -> None:
        self.client, self.url = client, f"https://{address}:9345"

    def get(self, path: str) -> bytes:
        assert path == "/db/info"
        return json.dumps({"members": self.client.members()}).encode()


@pytest.fixture
def tls(tmp_path: Path) -> str:
    """Only for the client object: the etcds here speak plain HTTP."""
    tls = str(tmp_path / "tls")
    pki.ensure_ca(tls, "etcd/server-ca")
    pki.issue(tls, "etcd/server-ca", "etcd/client", "etcd-client", client=True)
    return tls


@pytest.mark.skipif(ETCD is None, reason="needs Debian's etcd-server (make debs)")
def test_a_join_refused_as_unhealthy_waits_and_joins_once(tmp_path, tls, monkeypatch):
    monkeypatch.setattr(records, "RECORDS", str(tmp_path / "records"))
    first, second, third = ADDRESSES
    children = [_start(tmp_path, "e1", first, f"e1=http://{first}:2380", "new")]
    try:
        one = etcd.Client([f"http://{first}:2379"], tls)
        _until(one.status)
        one.add_learner(f"http://{second}:2380")
        cluster = f"e1=http://{first}:2380,e2=http://{second}:2380"
        children.append(_start(tmp_path, "e2", second, cluster, "existing"))
        learner = next(m for m in one.members() if m.get("isLearner"))
        _until(lambda: one.promote(str(learner["ID"])))
        # a voter away: etcd on e1 refuses every member add until e2 is back for 5 s
        children[1].terminate()
        children[1].wait(10)
        with pytest.raises(etcd.EtcdError, match="unhealthy cluster"):
            one.add_learner(f"https://{third}:2380")

        def come_back() -> None:
            time.sleep(2)
            children.append(_start(tmp_path, "e2", second, cluster, "existing"))

        threading.Thread(target=come_back, daemon=True).start()
        process = etcd.Process(str(ETCD), str(tmp_path / "node3"), "node3", third)
        started = time.monotonic()
        initial = etcd_join.initial_cluster(_FirstServer(one, first), process, tls)
        waited = time.monotonic() - started
        added = [m for m in one.members() if process.peer_url in (m.get("peerURLs") or [])]
    finally:
        for child in children:
            child.terminate()
            child.wait(10)

    # the join waited for the cluster (2 s away + 5 s connected), then added this node once
    assert waited > 5
    assert len(added) == 1
    assert added[0].get("isLearner")
    assert sorted(initial.split(",")) == sorted(
        [
            f"e1=http://{first}:2380",
            f"e2=http://{second}:2380",
            f"{process.name}={process.peer_url}",
        ]
    )
    log = (tmp_path / "records" / "invocations.log").read_text(encoding="utf-8")
    waits = [line for line in log.splitlines() if " WAIT " in line]
    assert waits
    assert all("unhealthy cluster" in w for w in waits)
