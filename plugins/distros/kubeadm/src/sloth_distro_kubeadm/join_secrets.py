"""The cluster's kubeadm secrets, derived from the cluster secret the core keeps encrypted.

The core generates one 256-bit secret per cluster (state secret ``distro-token``, encrypted) and
hands it to the installer. kubeadm needs three more, and each is derived from it with
HMAC-SHA256 under its own label, so none is stored twice and every run renders the same files:

* the **bootstrap token** (``abcdef.0123456789abcdef``) nodes join with — created by
  ``kubeadm init`` with a 24h TTL and re-created before later joins (``join_credentials``);
* the **certificate key** (32-byte AES key, hex) encrypting the control-plane certificates
  ``kubeadm init --upload-certs`` uploads (kubeadm deletes them after two hours);
* the **cluster CA** (ECDSA P-256, deterministically signed): written to the first server's
  ``/etc/kubernetes/pki`` before ``kubeadm init`` (kubeadm uses an existing CA), so joining nodes
  can pin it (``caCertHashes``) instead of trusting whatever answers at the join address.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import string
from typing import Any

_ALPHABET = string.digits + string.ascii_lowercase  # kubeadm's token alphabet: [a-z0-9]
#: fixed validity, so the CA certificate is the same on every run (kubeadm's own CA: 10 years)
CA_NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
CA_NOT_AFTER = datetime.datetime(2125, 1, 1, tzinfo=datetime.UTC)


def _derive(secret: str, label: str) -> bytes:
    return hmac.new(
        secret.encode(), f"sloth-kubernetes kubeadm {label}".encode(), hashlib.sha256
    ).digest()


def bootstrap_token(secret: str) -> str:
    """``[a-z0-9]{6}.[a-z0-9]{16}``, kubeadm's bootstrap token format."""
    chars = "".join(_ALPHABET[b % len(_ALPHABET)] for b in _derive(secret, "bootstrap token")[:22])
    return f"{chars[:6]}.{chars[6:]}"


def certificate_key(secret: str) -> str:
    """A hex-encoded 32-byte AES key (``certificateKey``)."""
    return _derive(secret, "certificate key").hex()


def _ca_key_usage() -> Any:
    from cryptography import x509

    # kubeadm's CA: digital signature, key encipherment, certificate signing
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=True,
        data_encipherment=False, key_agreement=False, key_cert_sign=True,
        crl_sign=False, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def cluster_ca(secret: str) -> tuple[str, str, str]:
    """The cluster CA: certificate PEM, private key PEM, and its pin ``sha256:<hex>`` (the
    SHA-256 of the certificate's DER SubjectPublicKeyInfo, as ``caCertHashes`` wants)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256's n
    scalar = int.from_bytes(_derive(secret, "cluster CA"), "big") % (order - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    serial = int.from_bytes(_derive(secret, "cluster CA serial")[:16], "big") >> 1
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial or 1)
        .not_valid_before(CA_NOT_BEFORE)
        .not_valid_after(CA_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            _ca_key_usage(),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return cert_pem, key_pem, f"sha256:{hashlib.sha256(spki).hexdigest()}"
