"""kubeadm's certificates and kubeconfig files, made with the node's ``openssl``.

Which certificates, their common names, organisations, usages and SANs: kubernetes/kubernetes
``cmd/kubeadm/app/phases/certs/certlist.go`` and ``cmd/kubeadm/app/util/pkiutil/pki_helpers.go``
(``GetAPIServerAltNames``, ``GetEtcdAltNames``, ``GetEtcdPeerAltNames``; v1.31 line):

* CAs ``ca`` (CN ``kubernetes``), ``front-proxy-ca``, ``etcd/ca`` (CN ``etcd-ca``) — an existing
  CA (certificate + key) is used as it is ("Using existing ca certificate authority");
* ``apiserver``: CN ``kube-apiserver``, DNS node name, ``kubernetes``, ``kubernetes.default``,
  ``kubernetes.default.svc``, ``kubernetes.default.svc.<dnsDomain>``, IPs the first address of
  the service subnet and the advertise address, then the ``controlPlaneEndpoint`` host and
  ``apiServer.certSANs`` (IP or DNS by form);
* ``apiserver-kubelet-client`` (O ``kubeadm:cluster-admins``), ``front-proxy-client``,
  ``apiserver-etcd-client``, ``etcd/healthcheck-client``;
* ``etcd/server`` and ``etcd/peer``: DNS node name and ``localhost``, IPs the advertise
  address, ``127.0.0.1`` and ``::1`` (+ ``serverCertSANs`` / ``peerCertSANs``);
* ``sa.key``/``sa.pub``; keys RSA 2048 (``encryptionAlgorithm`` default), one year validity.

kubeconfig files (``cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go``): ``admin.conf``
(``kubernetes-admin``, O ``kubeadm:cluster-admins``), ``super-admin.conf``
(``kubernetes-super-admin``, O ``system:masters``; ``init`` only), ``controller-manager.conf``,
``scheduler.conf``; the kubelet's ``kubelet.conf`` on the first server (``system:node:<name>``,
O ``system:nodes``).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import subprocess
import tempfile
from typing import Any

from .. import pki


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode().strip()}")
    return done.stdout


def write(path: str, data: str | bytes, mode: int) -> None:
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    os.chmod(path, mode)


def read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _rsa_key(path: str) -> None:
    pki._key(path, rsa=True)


def ensure_ca(pki: str, name: str, common_name: str) -> bool:
    """The CA ``name`` (certificate and key); True when it existed already."""
    crt, key = f"{pki}/{name}.crt", f"{pki}/{name}.key"
    if os.path.exists(crt) and os.path.exists(key):
        return True
    if os.path.exists(crt) != os.path.exists(key):
        raise RuntimeError(f"failure loading {name} certificate authority: only one of {crt}, "
                           f"{key} exists")  # fmt: skip
    _rsa_key(key)
    openssl("req", "-new", "-x509", "-key", key, "-out", crt, "-days", "3650",
            "-subj", f"/CN={common_name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign")  # fmt: skip
    os.chmod(crt, 0o644)
    return False


def issue(
    pki_dir: str,
    ca: str,
    name: str,
    common_name: str,
    *,
    organization: str = "",
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
) -> None:
    """``<pki>/<name>.crt``/``.key`` (RSA, certificate 0644) signed by CA ``<pki>/<ca>``; an
    existing pair is kept (kubeadm: "Using the existing ... certificate and key")."""
    if os.path.exists(f"{pki_dir}/{name}.crt") and os.path.exists(f"{pki_dir}/{name}.key"):
        return
    pki.issue(pki_dir, ca, name, common_name, organization=organization, dns=dns, ips=ips,
              server=server, client=client, rsa=True, cert_mode=0o644)  # fmt: skip


def sign_request(ca_crt: str, ca_key: str, request_pem: bytes, *, client: bool) -> bytes:
    """Sign a PEM certificate request (a CSR the controller-manager approved)."""
    usage = "clientAuth" if client else "serverAuth"
    extensions = ["basicConstraints=critical,CA:FALSE",
                  "keyUsage=critical,digitalSignature,keyEncipherment",
                  f"extendedKeyUsage={usage}"]  # fmt: skip
    return pki.sign(ca_crt, ca_key, request_pem, extensions)


def new_request(key_path: str, common_name: str, organization: str) -> bytes:
    if not os.path.exists(key_path):
        write(key_path, openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout"), 0o600)
    return openssl("req", "-new", "-key", key_path, "-subj",
                   f"/CN={common_name}/O={organization}")  # fmt: skip


def sa_keys(pki: str) -> None:
    if os.path.exists(f"{pki}/sa.key") and os.path.exists(f"{pki}/sa.pub"):
        return
    _rsa_key(f"{pki}/sa.key")
    write(f"{pki}/sa.pub", openssl("pkey", "-in", f"{pki}/sa.key", "-pubout"), 0o600)


def _host(endpoint: str) -> str:
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or "]" in endpoint else endpoint
    return host.strip("[]")


def _split(values: list[str]) -> tuple[list[str], list[str]]:
    dns, ips = [], []
    for value in values:
        try:
            ips.append(str(ipaddress.ip_address(value)))
        except ValueError:
            dns.append(value)
    return dns, ips


def apiserver_names(
    cluster: dict[str, Any], node: str, advertise: str
) -> tuple[list[str], list[str]]:
    """(DNS names, IPs) of ``apiserver.crt`` (``GetAPIServerAltNames``)."""
    networking = cluster["networking"]
    service = ipaddress.ip_network(str(networking["serviceSubnet"]).split(",")[0], strict=False)
    dns = [node, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           f"kubernetes.default.svc.{networking['dnsDomain']}"]  # fmt: skip
    ips = [str(service.network_address + 1), advertise]
    extra = []
    if cluster.get("controlPlaneEndpoint"):
        extra.append(_host(str(cluster["controlPlaneEndpoint"])))
    extra += [str(s) for s in (cluster.get("apiServer") or {}).get("certSANs") or []]
    more_dns, more_ips = _split(extra)
    return dns + more_dns, ips + more_ips


def etcd_names(
    cluster: dict[str, Any], node: str, advertise: str, field: str
) -> tuple[list[str], list[str]]:
    """(DNS names, IPs) of ``etcd/server.crt`` (``serverCertSANs``) or ``etcd/peer.crt``."""
    local = (cluster.get("etcd") or {}).get("local") or {}
    more_dns, more_ips = _split([str(s) for s in local.get(field) or []])
    return [node, "localhost", *more_dns], [advertise, "127.0.0.1", "::1", *more_ips]


def control_plane_certs(cluster: dict[str, Any], node: str, advertise: str) -> None:
    """Every certificate of a control-plane node, after its CAs are in place."""
    pki = str(cluster["certificatesDir"])
    dns, ips = apiserver_names(cluster, node, advertise)
    issue(pki, "ca", "apiserver", "kube-apiserver", dns=tuple(dns), ips=tuple(ips), server=True)
    issue(pki, "ca", "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
          organization="kubeadm:cluster-admins", client=True)  # fmt: skip
    issue(pki, "front-proxy-ca", "front-proxy-client", "front-proxy-client", client=True)
    dns, ips = etcd_names(cluster, node, advertise, "serverCertSANs")
    issue(pki, "etcd/ca", "etcd/server", node, dns=tuple(dns), ips=tuple(ips), server=True,
          client=True)  # fmt: skip
    dns, ips = etcd_names(cluster, node, advertise, "peerCertSANs")
    issue(pki, "etcd/ca", "etcd/peer", node, dns=tuple(dns), ips=tuple(ips), server=True,
          client=True)  # fmt: skip
    issue(pki, "etcd/ca", "etcd/healthcheck-client", "kube-etcd-healthcheck-client", client=True)
    issue(pki, "etcd/ca", "apiserver-etcd-client", "kube-apiserver-etcd-client", client=True)
    sa_keys(pki)


def kubeconfig(path: str, server: str, ca_pem: str, user: str, cert: str, key: str,
               cluster_name: str) -> None:  # fmt: skip
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    context = f"{user}@{cluster_name}"
    text = (
        "apiVersion: v1\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {b64(ca_pem)}\n    server: {server}\n"
        f"  name: {cluster_name}\ncontexts:\n- context:\n    cluster: {cluster_name}\n"
        f"    user: {user}\n  name: {context}\ncurrent-context: {context}\nkind: Config\n"
        f"preferences: {{}}\nusers:\n- name: {user}\n  user:\n"
        f"    client-certificate-data: {b64(cert)}\n    client-key-data: {b64(key)}\n"
    )
    write(path, text, 0o600)


def client_kubeconfig(pki: str, path: str, server: str, common_name: str, organization: str,
                      cluster_name: str) -> None:  # fmt: skip
    """A kubeconfig with a client certificate signed by the cluster CA (kept if present)."""
    if os.path.exists(path):
        return
    with tempfile.TemporaryDirectory() as work:
        key = f"{work}/client.key"
        write(key, openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"),
              0o600)  # fmt: skip
        request = openssl(
            "req",
            "-new",
            "-key",
            key,
            "-subj",
            f"/CN={common_name}" + (f"/O={organization}" if organization else ""),
        )
        cert = sign_request(f"{pki}/ca.crt", f"{pki}/ca.key", request, client=True)
        kubeconfig(path, server, read(f"{pki}/ca.crt"), common_name, cert.decode(), read(key),
                   cluster_name)  # fmt: skip


def spki_pin(ca_pem: str) -> str:
    """``sha256:<hex>`` of the CA's DER SubjectPublicKeyInfo (``caCertHashes``)."""
    public = openssl("x509", "-pubkey", "-noout", stdin=ca_pem.encode())
    der = openssl("pkey", "-pubin", "-outform", "DER", stdin=public)
    return "sha256:" + hashlib.sha256(der).hexdigest()
