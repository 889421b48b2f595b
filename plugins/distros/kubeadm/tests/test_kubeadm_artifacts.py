"""kubeadm's release files through `artifacts fetch/import`: a release mirror on 127.0.0.1 laid
out as dl.k8s.io publishes them (each binary beside its ``<name>.sha256``: the bare digest)."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

VERSION = "v1.31.4"
BINARIES = ("kubeadm", "kubelet", "kubectl")


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "mirror"
    root.mkdir()
    for name in BINARIES:
        body = f"#!/bin/sh\necho fake {name}\n".encode()
        (root / name).write_bytes(body)
        (root / f"{name}.sha256").write_text(hashlib.sha256(body).hexdigest())
    handler: Any = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *_args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_verifies_each_binary_and_the_bundle_imports_offline(
    sloth_cli: Any, mirror: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _root, url = mirror
    bundle = tmp_path / "bundle"
    result = sloth_cli(
        "artifacts", "fetch", "--distro", "kubeadm", "--version", VERSION,
        "--mirror", url, "--out", str(bundle),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in bundle.iterdir()) == sorted(
        [*BINARIES, *(f"{b}.sha256" for b in BINARIES), "sloth-bundle.json"]
    )
    monkeypatch.setenv("SLOTH_DATA_DIR", str(tmp_path / "offline-machine"))
    result = sloth_cli("artifacts", "import", str(bundle), "-o", "json")
    assert result.exit_code == 0, result.stderr
    cached = tmp_path / "offline-machine" / "artifacts" / "kubeadm" / VERSION / "amd64"
    assert (cached / "kubelet").read_bytes() == b"#!/bin/sh\necho fake kubelet\n"


def test_a_binary_that_does_not_match_its_sha256_is_refused(
    sloth_cli: Any, mirror: tuple[Path, str]
) -> None:
    root, url = mirror
    (root / "kubeadm").write_bytes(b"tampered")
    result = sloth_cli(
        "artifacts", "fetch", "--distro", "kubeadm", "--version", VERSION, "--mirror", url
    )
    assert result.exit_code == 1
    assert "kubeadm of kubeadm v1.31.4 does not match its checksum" in result.stderr
    data = Path(os.environ["SLOTH_DATA_DIR"])
    assert not (data / "artifacts" / "kubeadm" / VERSION / "amd64" / "kubeadm").exists()
