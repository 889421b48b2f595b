"""Certificates the way K3s lays them out under ``<data-dir>/server/tls`` (ECDSA P-256 keys,
0600), made with the node's ``openssl`` (Python's standard library cannot sign).

Layout and names from k3s-io/k3s ``pkg/daemons/control/deps/deps.go`` (v1.31.4+k3s1): cluster
CAs ``server-ca``, ``client-ca``, ``etcd/server-ca``, ``etcd/peer-ca``; per server
``serving-kube-apiserver``, ``client-admin``, ``etcd/server-client``, ``etcd/peer-server-client``,
``etcd/client``. Joining servers receive the CAs (certificate and key) from the first server as
bootstrap data (``/v1-k3s/server-bootstrap``), so every server signs with the same CAs.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile

CAS = ("server-ca", "client-ca", "etcd/server-ca", "etcd/peer-ca")


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _key(path: str, *, rsa: bool = False) -> None:
    """A new private key at ``path`` (0600): ECDSA P-256 (K3s), or RSA 2048 (kubeadm's default
    ``encryptionAlgorithm``)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    old = os.umask(0o077)
    try:
        if rsa:
            _openssl(
                "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path
            )
        else:
            _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)


def ensure_ca(tls: str, name: str) -> None:
    crt, key = f"{tls}/{name}.crt", f"{tls}/{name}.key"
    if os.path.exists(crt) and os.path.exists(key):
        return
    _key(key)
    cn = f"k3s-{os.path.basename(name)}@{int(__import__('time').time())}"
    _openssl(
        "req",
        "-new",
        "-x509",
        "-key",
        key,
        "-out",
        crt,
        "-days",
        "3650",
        "-subj",
        f"/CN={cn}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
    )
    os.chmod(crt, 0o600)


def issue(
    tls: str,
    ca: str,
    name: str,
    common_name: str,
    *,
    organization: str = "",
    ips: tuple[str, ...] = (),
    dns: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
    rsa: bool = False,
    cert_mode: int = 0o600,
) -> tuple[str, str]:
    """Issue ``<tls>/<name>.crt``/``.key`` signed by CA ``ca``; returns the two paths."""
    crt, key = f"{tls}/{name}.crt", f"{tls}/{name}.key"
    _key(key, rsa=rsa)
    subject = f"/CN={common_name}" + (f"/O={organization}" if organization else "")
    usages = ",".join(u for u, on in (("serverAuth", server), ("clientAuth", client)) if on)
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usages}",
    ]
    names = [f"IP:{ip}" for ip in dict.fromkeys(ips)] + [f"DNS:{d}" for d in dict.fromkeys(dns)]
    if names:
        lines.append("subjectAltName=" + ",".join(names))
    with tempfile.TemporaryDirectory() as work:
        csr = f"{work}/req.csr"
        _openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr)
        with open(csr, "rb") as handle:
            signed = sign(f"{tls}/{ca}.crt", f"{tls}/{ca}.key", handle.read(), lines)
    write_private(crt, signed.decode())
    os.chmod(crt, cert_mode)
    return crt, key


def sign(ca_crt: str, ca_key: str, request: bytes, extensions: list[str]) -> bytes:
    """A PEM certificate for the PEM request ``request``, signed by the CA, one year valid."""
    with tempfile.TemporaryDirectory() as work:
        csr, ext, out = f"{work}/req.csr", f"{work}/ext.cnf", f"{work}/out.crt"
        with open(csr, "wb") as handle:
            handle.write(request)
        with open(ext, "w", encoding="utf-8") as handle:
            handle.write("\n".join(extensions) + "\n")
        _openssl(
            "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
            "-set_serial", str(secrets.randbits(63)), "-days", "365", "-extfile", ext, "-out", out,
        )  # fmt: skip
        with open(out, "rb") as handle:
            return handle.read()


def read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def write_private(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
