"""Hostile config files end in one located error, fast and in bounded memory (docs/reliability.md,
"Config limits"): size, nesting depth, alias expansion, tags, encodings."""

from __future__ import annotations

import time

import pytest
from sloth_kubernetes.config import load_config
from sloth_kubernetes.config.loader import MAX_CONFIG_BYTES
from sloth_kubernetes.config.located import MAX_ALIAS_VALUES, MAX_DEPTH
from sloth_kubernetes.errors import ConfigError


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": each level lists the previous one ``width`` times."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def single_issue(path, manager):
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config([path], manager.hooks.catalog())
    elapsed = time.monotonic() - started
    (issue,) = caught.value.issues
    return issue, elapsed


@pytest.mark.parametrize(
    ("name", "text", "line", "column", "message"),
    [
        ("alias bomb", alias_bomb(), 5, 5, f"more than {MAX_ALIAS_VALUES} values"),
        ("deep flow", "spec: " + "[" * 5000 + "]" * 5000 + "\n", 1, 7 + MAX_DEPTH, "deeper than"),
        ("unclosed deep flow", "spec: " + "[" * 5000 + "\n", 1, 7 + MAX_DEPTH, "deeper than"),
        ("deep block sequence", "spec:\n  " + "- " * 3000 + "x\n", 2, None, "deeper than"),
        (
            "deep block mapping",
            "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n",
            None,
            None,
            "deeper than",
        ),
        (
            "python tag",
            "apiVersion: !!python/object/apply:os.system ['echo hi']\n",
            1,
            13,
            "tag !!python/object/apply:os.system is not allowed",
        ),
        ("binary tag", "kind: !!binary aGk=\n", 1, 7, "tag !!binary is not allowed"),
        ("set tag", "kind: !!set {a: null}\n", 1, 7, "tag !!set is not allowed"),
        ("custom tag", "kind: !Cluster x\n", 1, 7, "tag !Cluster is not allowed"),
        ("NUL byte", "kind: Cluster\nmetadata:\x00\n", 2, 10, "U+0000 is not allowed"),
    ],
)
def test_hostile_yaml_ends_in_one_located_error_quickly(
    config_factory, sloth_manager, name, text, line, column, message
):
    issue, elapsed = single_issue(config_factory(text=text), sloth_manager)
    assert message in issue.message, name
    assert issue.line == (line if line is not None else issue.line)
    assert issue.line > 0
    if column is not None:
        assert issue.column == column, name
    assert "docs/reliability.md" in (issue.hint or "") or "YAML" in issue.message
    assert elapsed < 1.0, f"{name} took {elapsed:.2f} s"


def test_anchors_shared_by_node_pools_still_work(config_factory, sloth_manager, dummy_provider):
    text = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata: {name: anchors}
spec:
  providers: {dummy: {}}
  nodePools:
    - &pool {name: servers, provider: dummy, count: 1, roles: [server], labels: {tier: a}}
    - <<: *pool
      name: agents
      roles: [agent]
"""
    config = load_config([config_factory(text=text)], sloth_manager.hooks.catalog())
    assert [pool.name for pool in config.spec.node_pools] == ["servers", "agents"]
    assert config.spec.node_pools[1].labels == {"tier": "a"}


def test_a_file_over_the_size_limit_is_refused_without_reading_it(tmp_path, sloth_manager):
    path = tmp_path / "huge.yaml"
    with path.open("w") as handle:
        handle.write("kind: Cluster\n")
        handle.truncate(20 * 1024 * 1024)  # 20 MB, sparse: cheap to create
    issue, elapsed = single_issue(path, sloth_manager)
    assert issue.file == str(path)
    assert f"larger than {MAX_CONFIG_BYTES // 1024} KiB" in issue.message
    assert "docs/reliability.md" in issue.hint
    assert elapsed < 1.0


def test_endless_input_is_cut_at_the_limit(sloth_manager):
    issue, elapsed = single_issue("/dev/zero", sloth_manager)
    assert "larger than" in issue.message
    assert elapsed < 1.0


@pytest.mark.parametrize(
    ("encoding", "message"), [("utf-16", "UTF-16-encoded"), ("utf-32", "UTF-32-encoded")]
)
def test_other_encodings_are_named_at_line_one(tmp_path, sloth_manager, encoding, message):
    path = tmp_path / "wide.yaml"
    path.write_bytes("kind: Cluster\n".encode(encoding))
    issue, _ = single_issue(path, sloth_manager)
    assert (issue.line, issue.column, issue.message) == (1, 1, f"the file is {message}")
    assert "UTF-8" in issue.hint


def test_a_byte_that_is_not_utf8_is_located(tmp_path, sloth_manager):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("kind: Cluster\nmetadata:\n  name: café\n".encode("latin-1"))
    issue, _ = single_issue(path, sloth_manager)
    assert (issue.line, issue.column) == (3, 12)
    assert "byte 0xe9 is not UTF-8" in issue.message


def test_a_utf8_byte_order_mark_is_accepted(tmp_path, sloth_manager):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf- a\n")
    issue, _ = single_issue(path, sloth_manager)
    assert issue.message == "the document must be a mapping"
