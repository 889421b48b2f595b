"""`--help` stays light; logs never carry secrets; arbitrary YAML never crashes the loader."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sloth_kubernetes import log
from sloth_kubernetes.config import load_config_text
from sloth_kubernetes.errors import ConfigError
from sloth_kubernetes.secrets import MASK, Secret

HEAVY = ("libcloud", "pyinfra", "lightkube", "psycopg", "boto3", "kubernetes_validate", "gevent")


def test_help_with_every_plugin_installed_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from sloth_kubernetes.cli.main import run\n"
        "code = run(['--help'])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}), code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[] 0"


def test_json_logs_mask_registered_secrets():
    stream = io.StringIO()
    log.configure(debug=True, log_format="json", stream=stream)
    secret = Secret("hunter2-the-password", source="env:PW")
    logger = log.get_logger("test")
    logger.info("connecting with %s", secret.reveal(), extra={"fields": {"token": secret.reveal()}})
    line = json.loads(stream.getvalue())
    assert line["message"] == f"connecting with {MASK}"
    assert line["token"] == MASK
    assert "hunter2" not in stream.getvalue()
    logging.getLogger("sloth_kubernetes").handlers.clear()


VALID = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata:
  name: fuzz
spec:
  providers:
    local: {mode: fast}
  nodePools:
    - {name: servers, provider: local, count: 1, roles: [server]}
  mesh: {type: wireguard, port: 51820}
  kubernetes: {distribution: k3s, cni: {type: flannel}}
"""


def check_only_located_config_errors(text, catalog):
    try:
        load_config_text(text, catalog, file="fuzz.yaml")
    except ConfigError as error:
        issues = error.issues
    else:
        return
    assert issues
    for issue in issues:
        assert issue.file == "fuzz.yaml"
        assert issue.message


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_config_errors(sloth_manager, text):
    check_only_located_config_errors(text, sloth_manager.hooks.catalog())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_mutated_valid_config_only_raises_located_config_errors(sloth_manager, data):
    lines = VALID.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "replace", "indent"]))
        if action == "delete" and len(lines) > 1:
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "indent":
            lines[index] = "  " + lines[index]
        else:
            key, sep, _value = lines[index].partition(":")
            replacement = data.draw(
                st.sampled_from(
                    [
                        "",
                        "-1",
                        "true",
                        "null",
                        "[]",
                        "{}",
                        "'x'",
                        "1.5",
                        "${env:X}",
                        "[a, b]",
                        "99999",
                    ]
                )
            )
            lines[index] = f"{key}{sep} {replacement}" if sep else replacement
    check_only_located_config_errors("\n".join(lines) + "\n", sloth_manager.hooks.catalog())
