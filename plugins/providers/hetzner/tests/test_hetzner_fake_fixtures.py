"""The fixtures themselves: a spec violation left behind fails the test, naming the rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.emulator

HERE = Path(__file__).resolve().parent


def test_violation_left_behind_fails_the_test_with_the_rule(tmp_path: Path) -> None:
    # the plugin's own fixtures, as its conftest makes them
    (tmp_path / "conftest.py").write_text(
        "from hetzner_fake import SPEC, HetznerFake\n"
        "from sloth_kubernetes.testing.emulators.fixtures import prism_fixtures\n"
        "_hetzner_server, hetzner_emulator = prism_fixtures('hetzner', HetznerFake, SPEC)\n"
    )
    (tmp_path / "test_sloppy.py").write_text(
        "import http.client, json\n"
        "def test_sloppy(hetzner_emulator):\n"
        "    c = http.client.HTTPConnection(hetzner_emulator.host, hetzner_emulator.port)\n"
        "    c.request('POST', '/servers', json.dumps({'name': 'x', 'image': 'debian-12'}),\n"
        "              {'Content-Type': 'application/json', 'Authorization': 'Bearer t'})\n"
        "    assert c.getresponse().status == 422\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",  # the skip reason, when Prism is missing
            "-p",
            "no:cacheprovider",
            "-p",
            "no:kmock",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(HERE)},
        timeout=120,
        check=False,
    )
    if "emulator unavailable" in result.stdout:
        pytest.skip("Prism or the Hetzner spec is missing")
    assert result.returncode == 1, result.stdout
    assert "1 passed, 1 error" in result.stdout
    assert "the hetzner API spec was violated" in result.stdout
    assert "request.body: Request body must have required property 'server_type'" in result.stdout
