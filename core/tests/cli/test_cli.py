"""The CLI through its real exit boundary: output, exit codes, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML
from sloth_kubernetes import api
from sloth_kubernetes.hookspecs import hookimpl

REPO = Path(__file__).resolve().parents[3]


def test_help_lists_the_command_groups(sloth_cli):
    result = sloth_cli("--help")
    assert result.exit_code == 0
    for command in ("config", "doctor", "plan", "plugins", "version"):
        assert command in result.stdout


def test_unknown_command_is_a_usage_error(sloth_cli):
    result = sloth_cli("frobnicate")
    assert result.exit_code == 2
    assert "No such command" in result.stderr


def test_plugins_json_describes_each_plugin(sloth_cli):
    result = sloth_cli("plugins", "-o", "json")
    assert result.exit_code == 0
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["k3s"] == {
        "name": "k3s",
        "kind": "distro",
        "distribution": "sloth-distro-k3s",
        "version": "0.1.0",
        "hooks": [
            "distro_drift",
            "distro_wait_ready",
            "install_distro",
            "manifest_delivery",
            "node_packages",  # haproxy, the node-local API balancer (apiEndpoint nodeLocal)
            "register_config_models",
            "register_distros",
            "render_node_files",
            "uninstall_distro",
        ],
    }
    kinds = {p["kind"] for p in plugins.values()}
    assert {"provider", "distro", "mesh", "cni", "storage", "addon"} <= kinds


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "sloth_kubernetes.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_with_no_plugins_the_cli_says_so():
    result = run_cli("plugins", env={"SLOTH_LOAD_PLUGINS": ""})
    assert result.returncode == 0
    assert "No plugins are installed" in result.stdout


def test_a_plugin_that_fails_to_import_warns_and_the_cli_keeps_working(plugin_site):
    site = plugin_site("broken", "import this_module_does_not_exist\n")
    result = run_cli("plugins", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0
    assert "warning: plugin 'broken' (broken-sloth-plugin) was skipped" in result.stderr
    assert "ModuleNotFoundError" in result.stderr
    assert "k3s" in result.stdout
    assert len(result.stderr.strip().splitlines()) == 1  # one warning line, no traceback


def test_disable_plugins_hides_one(tmp_path):
    result = run_cli("plugins", "-o", "json", env={"SLOTH_DISABLE_PLUGINS": "k3s"})
    names = {p["name"] for p in json.loads(result.stdout)}
    assert "k3s" not in names
    assert "flannel" in names


def test_trace_plugins_prints_hook_calls():
    result = run_cli(
        "config",
        "validate",
        "-f",
        str(REPO / "examples" / "local.yaml"),
        env={"SLOTH_TRACE_PLUGINS": "1"},
    )
    assert result.returncode == 0
    assert "[plugins] register_distros -> k3s" in result.stderr


def test_validate_reports_errors_with_exit_1_and_no_traceback(
    sloth_cli, config_factory, dummy_provider
):
    path = config_factory(
        {
            "spec": {
                "nodePools": [{"name": "s", "provider": "dummy", "roles": ["server"], "cout": 3}]
            }
        }
    )
    result = sloth_cli("config", "validate", "-f", str(path))
    assert result.exit_code == 1
    assert f"{path}:" in result.stderr
    assert "spec.nodePools[0].cout: unknown key 'cout' (did you mean 'count'?)" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_prints_effective_config_with_defaults(sloth_cli, config_factory, dummy_provider):
    result = sloth_cli("config", "show", "-f", str(config_factory()), "-o", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["spec"]["mesh"]["type"] == "wireguard"
    assert data["spec"]["mesh"]["port"] == 51820
    assert data["spec"]["kubernetes"]["podCidr"] == "10.42.0.0/16"


def test_schema_accepts_every_example_and_rejects_a_typo(sloth_cli, sloth_manager):
    result = sloth_cli("config", "schema")
    schema = json.loads(result.stdout)
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    document = YAML(typ="safe").load((REPO / "examples" / "local.yaml").read_text())
    assert list(validator.iter_errors(document)) == []
    document["spec"]["nodePools"][0]["cout"] = 1
    assert list(validator.iter_errors(document))


def test_embedded_default_is_the_local_template():
    assert (REPO / "examples" / "local.yaml").read_text() == api.template_text("local")


@pytest.mark.parametrize("template", [t.name for t in api.templates()])
def test_init_writes_each_template_and_refuses_to_overwrite(sloth_cli, tmp_path, template):
    out = tmp_path / "c.yaml"
    assert sloth_cli("config", "init", "--template", template, "-o", str(out)).exit_code == 0
    assert out.read_text() == api.template_text(template)
    again = sloth_cli("config", "init", "--template", template, "-o", str(out))
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_interactive_init_with_scripted_answers_validates(sloth_cli, tmp_path):
    out = tmp_path / "wizard.yaml"
    answers = "lab\nlocal\n3\n4\nk3s\n"
    result = sloth_cli("config", "init", "--interactive", "-o", str(out), input=answers)
    assert result.exit_code == 0, result.stderr
    assert sloth_cli("config", "validate", "-f", str(out)).exit_code == 0
    shown = json.loads(sloth_cli("config", "show", "-f", str(out), "-o", "json").stdout)
    assert shown["metadata"]["name"] == "lab"
    assert [p["count"] for p in shown["spec"]["nodePools"]] == [3, 4]
    # K3s needs cgroups, which only systemd-mode local hosts have
    assert shown["spec"]["providers"]["local"]["mode"] == "systemd"


def test_plan_lists_nodes_and_detailed_exitcode_is_3(sloth_cli):
    example = str(REPO / "examples" / "local.yaml")
    result = sloth_cli("plan", "-f", example)
    assert result.exit_code == 0
    for node in ("demo-server-1", "demo-agent-1", "demo-agent-2"):
        assert f"+ create {node}" in result.stdout
    assert sloth_cli("plan", "-f", example, "--detailed-exitcode").exit_code == 3
    data = json.loads(sloth_cli("plan", "-f", example, "-o", "json").stdout)
    assert data["counts"]["create"] == 3


def test_doctor_fails_on_missing_credentials_without_printing_values(
    sloth_cli, config_factory, register_plugin, monkeypatch
):
    from core_tests_helpers import TokenProvider

    register_plugin(TokenProvider(), "tokenprovider")
    path = config_factory(
        text=textwrap.dedent("""\
        apiVersion: sloth-kubernetes.io/v1beta1
        kind: Cluster
        metadata: {name: t}
        spec:
          providers:
            tokenprovider: {token: "${env:TP_TOKEN}"}
          nodePools: [{name: s, provider: tokenprovider, roles: [server]}]
        """)
    )
    monkeypatch.delenv("TP_TOKEN", raising=False)
    result = sloth_cli("doctor", "-f", str(path), "-o", "json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["credentials: tokenprovider"]["status"] == "fail"
    assert "TP_TOKEN" in checks["credentials: tokenprovider"]["detail"]
    monkeypatch.setenv("TP_TOKEN", "very-secret-token-value")
    result = sloth_cli("doctor", "-f", str(path), "-o", "json")
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["credentials: tokenprovider"]["status"] == "ok"
    assert "very-secret" not in result.stdout + result.stderr


def test_an_internal_error_exits_70_and_writes_the_traceback_to_a_log(
    sloth_cli, register_plugin, tmp_path
):
    class Exploding:
        @hookimpl
        def doctor_checks(self, context):
            raise RuntimeError("boom in a plugin")

    register_plugin(Exploding(), "exploding")
    result = sloth_cli("doctor")
    assert result.exit_code == 70
    assert "internal error: RuntimeError: boom in a plugin" in result.stderr
    log_path = result.stderr.split("the traceback is in ")[1].strip()
    assert "Traceback" in Path(log_path).read_text()
    assert oct(Path(log_path).stat().st_mode & 0o777) == "0o600"


def test_an_entry_point_without_hooks_is_reported_not_silently_loaded(plugin_site):
    site = plugin_site("empty", "HOOKS = object()\n", "HOOKS")
    result = run_cli("plugins", "-o", "json", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0
    assert "warning: plugin 'empty' (empty-sloth-plugin) was skipped" in result.stderr
    assert "implements no sloth-kubernetes hook" in result.stderr
    assert "empty" not in {p["name"] for p in json.loads(result.stdout)}
