"""The example plugin of docs/writing-a-plugin.md is a real package: installed as a third-party
distribution (not in the workspace, not editable), it is found through its entry point and works
through the real CLI exactly like a built-in add-on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "sloth-addon-hello"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the example installed by pip (wheel built from its pyproject.toml)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return target


def sloth(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "sloth_kubernetes.cli", *args],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip


def overlay(tmp_path: Path, item: str) -> list[str]:
    (tmp_path / "hello.yaml").write_text(f"spec:\n  addons:\n    - name: hello\n{item}")
    return ["-f", str(REPO / "examples" / "local.yaml"), "-f", str(tmp_path / "hello.yaml")]


def test_the_installed_example_is_loaded_from_its_own_distribution(site, tmp_path):
    result = sloth(site, tmp_path, "plugins", "-o", "json")
    assert result.returncode == 0, result.stderr
    (hello,) = [p for p in json.loads(result.stdout) if p["name"] == "hello"]
    assert (hello["distribution"], hello["version"], hello["kind"]) == (
        "sloth-addon-hello", "0.1.0", "addon",
    )  # fmt: skip
    assert {"register_addons", "render_addon", "install_addon", "register_commands"} <= set(
        hello["hooks"]
    )


def test_its_objects_are_rendered_with_the_users_settings(site, tmp_path):
    files = overlay(tmp_path, "      greeting: bonjour\n      replicas: 2\n")
    result = sloth(site, tmp_path, "render", *files, "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    manifests = tmp_path / "out" / "manifests"
    config_map = (manifests / "configmap-default-hello.yaml").read_text()
    assert "greeting: bonjour" in config_map
    assert "cluster: demo" in config_map
    assert "replicas: 2" in (manifests / "deployment-default-hello.yaml").read_text()


def test_a_mistyped_key_is_located_like_for_a_built_in(site, tmp_path):
    result = sloth(site, tmp_path, "render", *overlay(tmp_path, "      greting: hi\n"),
                   "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode != 0
    assert "hello.yaml:4:7" in result.stderr
    assert "did you mean 'greeting'" in result.stderr
    assert "Traceback" not in result.stderr


def test_its_command_runs(site, tmp_path):
    result = sloth(site, tmp_path, "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from sloth-addon-hello"


@pytest.mark.hosts
def test_a_cluster_plans_it_and_lists_it_as_a_user_sees_it(site, tmp_path, local_hosts):
    """On a cluster of a real (local, SSH-reachable) host: `plan` shows the add-on to install,
    `up` records the cluster (stopped after provisioning: delivery itself is the add-on phase's,
    tested with the built-in add-ons), and `addons list` shows the example's objects as wanted
    and not applied yet (no distribution on the node)."""
    from sloth_kubernetes.testing import distro_twin

    config = tmp_path / "hello-cluster.yaml"
    config.write_text(
        distro_twin.ssh_cluster_config(
            "hello", local_hosts(1), [("servers", 1, "server")],
            addons=[{"name": "hello", "greeting": "bonjour"}],
        )
    )  # fmt: skip
    state = ("--state", f"sqlite:///{tmp_path / 'state.db'}", "--yes")

    plan = sloth(site, tmp_path, *state, "plan", "-f", str(config))
    assert plan.returncode == 0, plan.stderr
    assert "install addon/hello" in plan.stdout

    up = sloth(site, tmp_path, *state, "up", "-f", str(config), "--until", "provision",
               "--no-progress")  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr

    listed = sloth(site, tmp_path, *state, "-o", "json", "addons", "list", "hello")
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    (hello,) = [c for c in report["components"] if c["component"] == "addon/hello"]
    assert hello["status"] == "missing"
    assert {o["key"] for o in hello["objects"]} == {
        "v1/ConfigMap/default/hello", "apps/v1/Deployment/default/hello",
    }  # fmt: skip
    table = sloth(site, tmp_path, *state, "addons", "list", "hello")
    assert table.returncode == 0, table.stderr
    assert "addon/hello: missing" in table.stdout


def test_the_guide_shows_the_examples_code():
    guide = (REPO / "docs" / "writing-a-plugin.md").read_text()
    shown = re.findall(r"```python\n(.*?)```", guide, re.S)
    plugin = (EXAMPLE / "src" / "sloth_addon_hello" / "plugin.py").read_text()
    assert plugin in shown
