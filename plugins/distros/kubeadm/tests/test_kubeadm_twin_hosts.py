"""kubeadm's distro phase on real local hosts (systemd) run by the **distribution twin** of
kubeadm v1.31.4 — ``kubeadm``, ``kubelet`` and ``kubectl`` of the release bundle are the sloth
twin (not a real Kubernetes: no containers run), its etcd is a real etcd.

What a user would check on a fresh kubeadm cluster: preflight refusing a node that is not ready
for it (ip_forward off, a port taken), then ``kubeadm init`` on the first server and
``kubeadm join`` for the others — control-plane nodes one at a time, each a voting etcd member —
the static pod manifests, the certificates' SANs, the nodes and their control-plane label and
taint, secrets nowhere but 0600 files, a converged re-run that changes nothing, and
``kubeadm reset`` on uninstall.
"""

from __future__ import annotations

import json

import pytest
from sloth_distro_kubeadm import join_secrets
from sloth_distro_kubeadm.plugin import installer
from sloth_kubernetes.errors import RemoteError
from sloth_kubernetes.testing import distro_twin
from sloth_kubernetes.testing.distro_twin import DistroOnHosts

pytestmark = [pytest.mark.hosts, pytest.mark.slow, pytest.mark.timeout(900)]

CONFIG = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {name: demo}
spec:
  providers: {local: {}}
  nodePools:
    - {name: servers, provider: local, count: 3, roles: [server]}
    - {name: agents, provider: local, count: 1, roles: [agent]}
  kubernetes:
    distribution: kubeadm
    cni: {type: calico}
    apiEndpoint: api.demo.test
    kubeadm: {readiness: ssh, readyTimeout: 240}
"""
POOLS = [("servers", 3, "server"), ("agents", 1, "agent")]
ETCD = "/etc/kubernetes/pki/etcd"
MEMBER_LIST = (
    f"curl -sf --cacert {ETCD}/ca.crt --cert {ETCD}/healthcheck-client.crt "
    f"--key {ETCD}/healthcheck-client.key -X POST -d '{{}}' "
    "https://127.0.0.1:2379/v3/cluster/member/list"
)
KUBECTL = "/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf"


def _sans(host, path: str) -> set[str]:
    text = host.run(f"openssl x509 -in {path} -noout -ext subjectAltName").stdout
    return {s.strip() for s in text.splitlines()[-1].split(",")}


def _records(host, kind: str) -> list[str]:
    return [line for line in distro_twin.invocations(host).splitlines() if f" {kind} " in line]


def test_kubeadm_init_then_joins_with_preflight_etcd_and_certificates(
    local_hosts, sloth_manager, tmp_path
):
    kubeadm = installer()
    run = DistroOnHosts.on_new_hosts(local_hosts, sloth_manager, kubeadm, CONFIG, POOLS, tmp_path)
    handles, records = run.handles, run.records
    first, second, third, agent = handles
    address = {r.name: r.mesh_address for r in records}
    with run:
        # a fresh network namespace forwards nothing (prepare would have turned it on), and a
        # port kubeadm's control plane needs is taken: kubeadm init refuses, naming both
        holder = first.run("nohup setsid python3 -c 'import socket,time; s=socket.socket(); "
                           "s.bind((\"0.0.0.0\", 10257)); s.listen(); time.sleep(600)' "
                           ">/dev/null 2>&1 </dev/null & echo $!").stdout.strip()  # fmt: skip
        with pytest.raises(RemoteError) as refused:
            run.install()
        output = refused.value.output or ""
        assert "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]" in output, output
        assert "[ERROR Port-10257]: Port 10257 is in use" in output, output
        assert first.run("ls /etc/kubernetes/manifests 2>/dev/null | wc -l").stdout.strip() == "0"

        first.run(f"kill {holder}")
        for handle in handles:
            handle.run("sysctl -qw net.ipv4.ip_forward=1")
        updated = run.install()
        token = join_secrets.bootstrap_token(run.token())
        key = join_secrets.certificate_key(run.token())

        # one init, then control-plane joins one at a time, then the worker
        assert len(_records(first, "INIT")) == 1
        joined = [(h, _records(h, "JOIN")) for h in (second, third, agent)]
        assert all(len(lines) == 1 for _, lines in joined), joined
        times = [float(lines[0].split()[0]) for _, lines in joined]
        assert times == sorted(times)
        calls = [float(line.split()[0]) for line in _records(third, "CALL")
                 if "kubeadm join" in line]  # fmt: skip
        assert calls
        assert calls[0] > times[0]  # the third server started after the second joined
        assert "control-plane" in joined[0][1][0]
        assert "worker" in joined[2][1][0]
        assert {u.name: u.extra["distro"]["role"] for u in updated} == {
            r.name: r.roles[0] for r in records
        }

        # stacked etcd: three voting members, one per server, on their mesh addresses
        members = json.loads(first.run(MEMBER_LIST).stdout)["members"]
        assert sorted(m["peerURLs"][0] for m in members) == sorted(
            f"https://{address[f'demo-servers-{i}']}:2380" for i in (1, 2, 3)
        )
        assert not any(m.get("isLearner") for m in members)

        # static pods on servers only, the etcd one run as a real etcd
        manifests = (
            "etcd.yaml\nkube-apiserver.yaml\nkube-controller-manager.yaml\nkube-scheduler.yaml"
        )
        for server in (first, second, third):
            assert server.run("ls /etc/kubernetes/manifests").stdout.strip() == manifests
            assert "/bin/etcd --advertise-client-urls=" in server.run("ps -eo args").stdout
        assert agent.run("ls /etc/kubernetes/manifests 2>/dev/null | wc -l").stdout.strip() == "0"
        pods = second.run(f"{KUBECTL} -n kube-system get pods -l component=etcd -o name").stdout
        assert sorted(pods.split()) == [f"pod/etcd-demo-servers-{i}" for i in (1, 2, 3)]

        # the API server certificate of a joined server: its own name and address, the
        # kubernetes service names and address, the control-plane endpoint and certSANs
        sans = _sans(second, "/etc/kubernetes/pki/apiserver.crt")
        assert sans >= {
            "DNS:demo-servers-2", "DNS:kubernetes", "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local",
            "DNS:api.demo.test", "IP Address:10.43.0.1",
            f"IP Address:{address['demo-servers-2']}", f"IP Address:{address['demo-servers-1']}",
        }, sans  # fmt: skip
        etcd_sans = _sans(third, f"{ETCD}/server.crt")
        assert etcd_sans == {"DNS:demo-servers-3", "DNS:localhost", "IP Address:127.0.0.1",
                             "IP Address:0:0:0:0:0:0:0:1",
                             f"IP Address:{address['demo-servers-3']}"}, etcd_sans  # fmt: skip
        # the shared CA is the one the tool pinned; every server has the same
        ca = {h.run("sha256sum /etc/kubernetes/pki/ca.crt").stdout.split()[0]
              for h in (first, second, third)}  # fmt: skip
        assert len(ca) == 1
        assert agent.run("test -e /etc/kubernetes/pki/ca.key; echo $?").stdout.strip() == "1"

        # every node registered; servers labelled control-plane (with the "true" value
        # helm-controller's bootstrap jobs select) and tainted, the worker not
        nodes = first.run(f"{KUBECTL} get nodes -o name").stdout.split()
        assert sorted(nodes) == sorted(f"node/{r.name}" for r in records)
        labelled = first.run(f"{KUBECTL} get --raw=/api/v1/nodes").stdout
        items = {i["metadata"]["name"]: i for i in json.loads(labelled)["items"]}
        for name in ("demo-servers-1", "demo-servers-2", "demo-servers-3"):
            labels = items[name]["metadata"]["labels"]
            assert labels["node-role.kubernetes.io/control-plane"] == "true"
            assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in (
                items[name]["spec"]["taints"]
            )
        assert (
            "node-role.kubernetes.io/control-plane"
            not in items["demo-agents-1"]["metadata"]["labels"]
        )

        # the join secrets: only in the 0600 config file, never in argv, logs or events
        for handle in handles:
            assert handle.run(f"stat -c %a {kubeadm.config_path}").stdout.strip() == "600"
            for secret in (token, key):
                assert secret not in distro_twin.invocations(handle)
                assert secret not in handle.run("ps -eo args").stdout
                assert secret not in handle.run("journalctl --no-pager 2>/dev/null || true").stdout
        assert token not in json.dumps(run.events, default=str)

        # converged: another run initialises and joins nothing
        def starts() -> list[int]:
            return [
                len([c for c in _records(h, "CALL") if "kubeadm init --" in c or " join " in c])
                for h in handles
            ]

        before = starts()
        assert before == [2, 1, 1, 1]  # the init preflight refused, then one each
        run.install()
        assert starts() == before
