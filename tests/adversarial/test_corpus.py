"""The adversarial corpus: hostile configs, state files, audit rows, saved plans, state exports and
host inventories, each run through the real CLI exit boundary (``cli.main.run``) in one worker
process under a memory limit (RLIMIT_AS) with a wall-clock alarm per case.

Every case must end in a handled error (exit 1 with a hint, or a usage error, exit 2) that names
the file it is about — never exit 70 (internal error), never success, never the alarm, never a
runaway of memory. The committed files are in ``corpus/``; large, deep and binary state files are
made by the fixtures. docs/reliability.md lists the limits these cases run into.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
SECONDS_PER_CASE = 20.0  # the alarm: a case still running then is a failure
MAX_CASE_SECONDS = 10.0  # well above the ~1 s a case takes on a loaded 2-core machine
MAX_RSS_GROWTH_KIB = 256 * 1024
MEMORY_LIMIT = 3 * 1024**3  # RLIMIT_AS of the worker: a runaway dies instead of the machine
UNSET = ["SLOTH_STATE", "SLOTH_STATE_PASSPHRASE", "SLOTH_ADVERSARIAL_UNSET", "HCLOUD_TOKEN"]

INVENTORY_CONFIG = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {{name: inv}}
spec:
  providers:
    ssh:
      inventory: {{{kind}: {path}}}
  nodePools:
    - {{name: servers, provider: ssh, count: 1, roles: [server]}}
  mesh: {{type: wireguard}}
  kubernetes: {{distribution: k3s}}
"""


def _case(name: str, args: list[str], cwd: Path, about: str, **env: str) -> dict[str, Any]:
    return {"name": name, "args": args, "cwd": str(cwd), "about": about, "env": env,
            "unset": UNSET}  # fmt: skip


def _state_files(work: Path) -> dict[str, Path]:
    """Damaged state stores, each a file a user might point --state at."""
    from sloth_kubernetes.state import open_store

    files: dict[str, Path] = {}
    junk = work / "junk.db"
    junk.write_bytes(os.urandom(4096))
    files["random-bytes"] = junk
    text = work / "text.db"
    text.write_text("not a database\n")
    files["text-file"] = text
    empty = work / "empty.db"
    empty.touch()
    files["empty-file"] = empty
    files["a-directory"] = work
    for variant in ("newer-schema", "no-meta-table", "audit-bad-json", "audit-bad-seq"):
        path = work / f"{variant}.db"
        with open_store(str(path)) as store:
            store.audit_append(command="up", cluster="demo", outcome="succeeded")
            store.audit_append(command="up", cluster="demo", outcome="succeeded")
        connection = sqlite3.connect(path)
        statement = {
            "newer-schema": "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            "no-meta-table": "DROP TABLE meta",
            "audit-bad-json": "UPDATE audit SET resources = '{broken' WHERE seq = 1",
            "audit-bad-seq": "UPDATE audit SET seq = 'x' WHERE seq = 2",
        }[variant]
        connection.execute(statement)
        connection.commit()
        connection.close()
        files[variant] = path
    return files


def _generated(work: Path) -> dict[str, Path]:
    """Hostile files too large or too deep to commit."""
    made = {
        "config-20MB-sparse.yaml": None,
        "config-deep-block-mapping.yaml": "".join(" " * i + f"k{i}:\n" for i in range(3000)),
        "plan-deep.json": "[" * 200_000 + "]" * 200_000,
        "export-deep.json": '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "inventory-terraform-deep.json": '{"sloth_hosts": {"value": '
        + "[" * 100_000
        + "]" * 100_000
        + "}}",
        "inventory-deep.yaml": "all:\n  children:\n"
        + "".join("  " * (i + 2) + f"g{i}:\n" + "  " * (i + 3) + "children:\n" for i in range(300)),
    }
    paths = {}
    for name, text in made.items():
        path = work / name
        if text is None:
            with path.open("w") as handle:
                handle.write("kind: Cluster\n")
                handle.truncate(20 * 1024 * 1024)
        else:
            path.write_text(text)
        paths[name] = path
    plan_sparse = work / "plan-70MB-sparse.json"
    with plan_sparse.open("w") as handle:
        handle.truncate(70 * 1024 * 1024)
    paths[plan_sparse.name] = plan_sparse
    return paths


def build_cases(work: Path) -> list[dict[str, Any]]:
    state = f"sqlite:///{work / 'state.db'}"
    cases = []
    generated = _generated(work)
    configs = sorted((CORPUS / "configs").iterdir())
    configs += [generated["config-20MB-sparse.yaml"], generated["config-deep-block-mapping.yaml"]]
    for path in configs:
        if path.name.startswith(("credential", "reference")):
            continue  # valid until a command needs the credentials: `plan` below
        cases.append(_case(f"config {path.name}", ["config", "validate", "-f", str(path)], work,
                           path.name))  # fmt: skip
    for path in [p for p in configs if p.name.startswith(("credential", "reference"))]:
        cases.append(_case(f"plan {path.name}", ["--state", state, "plan", "-f", str(path)],
                           work, path.name))  # fmt: skip
    cases.append(_case("config /dev/zero", ["config", "validate", "-f", "/dev/zero"], work,
                       "/dev/zero"))  # fmt: skip
    cases.append(_case("config missing file", ["config", "validate", "-f", "/no/such.yaml"], work,
                       "/no/such.yaml"))  # fmt: skip
    plans = [
        *sorted((CORPUS / "plans").iterdir()),
        generated["plan-deep.json"],
        generated["plan-70MB-sparse.json"],
    ]
    for path in plans:
        cases.append(_case(f"plan {path.name}", ["--state", state, "up", "--plan", str(path),
                                                 "--dry-run"], work, path.name))  # fmt: skip
    exports = [*sorted((CORPUS / "exports").iterdir()), generated["export-deep.json"]]
    for path in exports:
        cases.append(_case(f"export {path.name}", ["--state", state, "state", "import",
                                                   str(path)], work, path.name))  # fmt: skip
    inventories = [
        *sorted((CORPUS / "inventories").iterdir()),
        generated["inventory-terraform-deep.json"],
        generated["inventory-deep.yaml"],
    ]
    for path in inventories:
        kind = "terraform" if "terraform" in path.name else "ansible"
        config = work / f"inventory-{path.name}.yaml"
        config.write_text(INVENTORY_CONFIG.format(kind=kind, path=path))
        # The ssh provider imports its hosts when `up` provisions; a well-formed inventory then
        # stops at the host key check (no key is pinned), before any connection.
        about = "no host key" if path.name == "children-cycle.ini" else path.name
        cases.append(_case(f"inventory {path.name}", ["--state", state, "up", "-f", str(config),
                                                      "--yes"], work, about))  # fmt: skip
    for variant, path in _state_files(work / "states").items():
        commands = [["audit", "verify"], ["audit", "log"]]
        if not variant.startswith("audit"):  # the other commands do not read the audit log
            commands += [["state", "list"], ["status"], ["state", "unlock", "demo", "--force"]]
        for command in commands:
            name = f"state {variant}: {' '.join(command)}"
            cases.append(_case(name, ["--state", str(path), *command], work, path.name))
    return cases


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("adversarial")
    (work / "states").mkdir()
    old = os.environ.get("SLOTH_DATA_DIR")
    os.environ["SLOTH_DATA_DIR"] = str(work / "data")
    try:
        cases = build_cases(work)
    finally:
        if old is None:
            os.environ.pop("SLOTH_DATA_DIR")
        else:
            os.environ["SLOTH_DATA_DIR"] = old
    cases_file = work / "cases.json"
    cases_file.write_text(json.dumps(cases))
    env = {**os.environ, "SLOTH_DATA_DIR": str(work / "data"), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, str(HERE / "_worker.py"), str(cases_file), str(SECONDS_PER_CASE)],
        capture_output=True, text=True, env=env, check=False, preexec_fn=_limit_memory,
        timeout=SECONDS_PER_CASE * len(cases),
    )  # fmt: skip
    found = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    abouts = {case["name"]: case["about"] for case in cases}
    assert len(found) == len(cases), f"the worker died (exit {done.returncode}):\n{done.stderr}"
    return {name: {**result, "about": abouts[name]} for name, result in found.items()}


def test_the_corpus_is_all_there(results: dict[str, dict[str, Any]]) -> None:
    kinds = {name.split(" ", 1)[0] for name in results}
    assert kinds == {"config", "plan", "export", "inventory", "state"}
    assert len(results) > 80


def test_every_case_ends_in_a_handled_error_naming_what_it_is_about(
    results: dict[str, dict[str, Any]],
) -> None:
    bad = []
    for name, result in sorted(results.items()):
        stderr = result["stderr"]
        problems = []
        if result["code"] not in (1, 2):
            problems.append(f"exit {result['code']}")
        if "internal error" in stderr or "Traceback" in stderr:
            problems.append("a crash")
        if result["code"] == 1 and "hint:" not in stderr:
            problems.append("no hint")
        if result["about"] not in stderr:
            problems.append(f"does not name {result['about']}")
        if result["seconds"] > MAX_CASE_SECONDS:
            problems.append(f"took {result['seconds']} s")
        if result["rss_growth_kib"] > MAX_RSS_GROWTH_KIB:
            problems.append(f"grew by {result['rss_growth_kib'] // 1024} MiB")
        if problems:
            bad.append(f"{name}: {', '.join(problems)}\n    {stderr.strip()[:600]}")
    assert not bad, "\n".join(bad)
