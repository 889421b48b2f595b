"""Release files: fetched from a (local) release server and verified, bundled, imported."""

from __future__ import annotations

import hashlib
import http.server
import threading
from functools import partial
from pathlib import Path

import pytest

VERSION = "v1.31.4+k3s1"


@pytest.fixture
def release_server(tmp_path):
    """A release mirror on 127.0.0.1 serving fake K3s files and their sha256sum file."""
    root = tmp_path / "mirror"
    root.mkdir()
    files = {"k3s": b"#!/bin/sh\necho fake k3s\n", "k3s-airgap-images-amd64.tar.zst": b"images"}
    for name, body in files.items():
        (root / name).write_bytes(body)
    sums = "".join(f"{hashlib.sha256(b).hexdigest()}  {n}\n" for n, b in files.items())
    (root / "sha256sum-amd64.txt").write_text(sums)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *_args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _data_dir() -> Path:
    import os

    return Path(os.environ["SLOTH_DATA_DIR"])


def test_fetch_verifies_and_caches_then_bundle_imports_elsewhere(
    sloth_cli, release_server, tmp_path, monkeypatch
):
    _root, url = release_server
    bundle = tmp_path / "bundle"
    result = sloth_cli(
        "artifacts", "fetch", "--distro", "k3s", "--version", VERSION, "--airgap",
        "--mirror", url, "--out", str(bundle),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    cached = _data_dir() / "artifacts" / "k3s" / VERSION / "amd64"
    assert (cached / "k3s").read_bytes().startswith(b"#!/bin/sh")
    assert (bundle / "sloth-bundle.json").is_file()

    monkeypatch.setenv("SLOTH_DATA_DIR", str(tmp_path / "offline-machine"))
    result = sloth_cli("artifacts", "import", str(bundle), "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert '"version": "v1.31.4+k3s1"' in result.stdout
    assert (
        tmp_path / "offline-machine" / "artifacts" / "k3s" / VERSION / "amd64" / "k3s"
    ).is_file()


def test_a_file_that_does_not_match_its_checksum_is_refused(sloth_cli, release_server):
    root, url = release_server
    (root / "k3s").write_bytes(b"tampered")
    result = sloth_cli(
        "artifacts", "fetch", "--distro", "k3s", "--version", VERSION, "--mirror", url
    )
    assert result.exit_code == 1
    assert "does not match its checksum" in result.stderr
    assert not (_data_dir() / "artifacts" / "k3s" / VERSION / "amd64" / "k3s").exists()


def test_offline_without_artifacts_names_the_missing_files_and_both_ways(
    sloth_cli, config_factory, dummy_provider
):
    path = config_factory({"spec": {"kubernetes": {"k3s": {"mirror": "http://127.0.0.1:9/"}}}})
    result = sloth_cli("artifacts", "check", "-f", str(path))
    assert result.exit_code == 1
    assert "cannot download http://127.0.0.1:9/sha256sum-amd64.txt" in result.stderr
    assert "needs sha256sum-amd64.txt, k3s" in result.stderr
    result = sloth_cli("artifacts", "check", "-f", str(path), "--offline")
    assert result.exit_code == 1
    assert "missing sha256sum-amd64.txt, k3s in" in result.stderr
    assert "artifacts fetch --distro k3s" in result.stderr
    assert "artifacts import DIR" in result.stderr


def test_import_of_a_directory_without_a_manifest_asks_for_the_release(sloth_cli, tmp_path):
    (tmp_path / "loose").mkdir()
    result = sloth_cli("artifacts", "import", str(tmp_path / "loose"))
    assert result.exit_code == 1
    assert "--distro, --version and --arch" in result.stderr
