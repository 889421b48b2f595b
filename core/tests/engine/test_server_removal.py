"""Removing servers keeps etcd safe (issue #16): `up` refuses a plan that leaves the servers
below etcd's quorum or at an even count, with a located error naming the pool's count and what
`--force` means; nothing is touched until it is forced. (engine/quorum.py)"""

from __future__ import annotations

import json

import pytest
from sloth_kubernetes.engine.quorum import quorum, server_removal_problem
from sloth_kubernetes.testing.plugin import DUMMY_CLUSTER


def _config(config_factory, servers: int, name: str):
    pools = [
        {"name": "servers", "provider": "dummy", "count": servers, "roles": ["server"]},
        {"name": "agents", "provider": "dummy", "count": 1, "roles": ["agent"]},
    ]
    return config_factory({**DUMMY_CLUSTER, "spec": {**DUMMY_CLUSTER["spec"], "nodePools": pools}},
                          name=name)  # fmt: skip


def _servers(sloth_cli, state) -> list[str]:
    status = json.loads(sloth_cli(*state, "status", "test", "-o", "json").stdout)
    return sorted(n["name"] for n in status["nodes"] if "server" in n["roles"])


def _count_line(path) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if "count: " in line and "server" in
                "".join(lines[i - 4 : i + 2]))  # fmt: skip


def test_below_quorum_and_even_counts_are_refused_located_then_forced(
    sloth_cli, config_factory, dummy_provider, dummy_cluster, tmp_path
):
    state = ["--state", f"sqlite:///{tmp_path}/state.db"]
    five = _config(config_factory, 5, "five.yaml")
    assert sloth_cli(*state, "up", "-f", str(five), "--yes").exit_code == 0
    assert len(_servers(sloth_cli, state)) == 5

    # 5 → 1: below the quorum of 3. Refused before anything is touched, located at the count.
    one = _config(config_factory, 1, "one.yaml")
    refused = sloth_cli(*state, "up", "-f", str(one), "--yes")
    assert refused.exit_code == 1
    text = refused.stderr + refused.stdout
    assert f"one.yaml:{_count_line(one)}:" in text
    assert "spec.nodePools[0].count" in text
    assert "removes 4 of 5 servers at once, leaving 1: below the etcd quorum of 3" in text
    assert "--force" in text
    assert "keep 3 or 5 servers" in text
    assert len(_servers(sloth_cli, state)) == 5
    assert len(dummy_provider.machines) == 6
    dry = sloth_cli(*state, "up", "-f", str(one), "--dry-run")  # seen before applying, too
    assert dry.exit_code == 1
    assert "below the etcd quorum of 3" in dry.stderr + dry.stdout

    # An even count is refused by the config's own check, whatever the run (config/semantics.py).
    four = _config(config_factory, 4, "four.yaml")
    even = sloth_cli(*state, "up", "-f", str(four), "--yes", "--force")
    assert even.exit_code == 1
    assert "an even number of etcd members" in even.stderr + even.stdout
    assert len(_servers(sloth_cli, state)) == 5

    # 5 → 3 is safe; 3 → 1 is below quorum; with --force it goes through, warning why.
    three = _config(config_factory, 3, "three.yaml")
    assert sloth_cli(*state, "up", "-f", str(three), "--yes").exit_code == 0
    assert len(_servers(sloth_cli, state)) == 3
    assert sloth_cli(*state, "up", "-f", str(one), "--yes").exit_code == 1
    forced = sloth_cli(*state, "up", "-f", str(one), "--yes", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert "--force: this change removes 2 of 3 servers at once" in forced.stderr
    assert _servers(sloth_cli, state) == ["test-servers-1"]


def test_a_removed_server_pool_is_located_at_the_pool_list(
    sloth_cli, config_factory, dummy_provider, dummy_cluster, tmp_path
):
    state = ["--state", f"sqlite:///{tmp_path}/state.db"]
    three = _config(config_factory, 3, "three.yaml")
    assert sloth_cli(*state, "up", "-f", str(three), "--yes").exit_code == 0
    gone = config_factory(
        {**DUMMY_CLUSTER, "spec": {**DUMMY_CLUSTER["spec"], "nodePools": [
            {"name": "agents", "provider": "dummy", "count": 1, "roles": ["server"]}]}},
        name="gone.yaml",
    )  # fmt: skip
    refused = sloth_cli(*state, "up", "-f", str(gone), "--yes")
    assert refused.exit_code == 1
    text = refused.stderr + refused.stdout
    assert "gone.yaml:" in text
    assert "spec.nodePools:" in text
    # A new server elsewhere does not count: it would join after the old members are gone,
    # with nothing left to join (provision deletes before it creates).
    assert "removes all 3 servers: nothing would be left" in text
    assert len(_servers(sloth_cli, state)) == 3


@pytest.mark.parametrize(
    ("before", "removed", "refused"),
    [(3, 1, True), (3, 2, True), (5, 1, True), (5, 2, False), (2, 1, False), (4, 1, False),
     (1, 1, False), (7, 2, False), (7, 3, True), (7, 4, True), (3, 3, True), (3, 0, False)],
)  # fmt: skip
def test_rules(before, removed, refused):
    assert (server_removal_problem(before, removed) is not None) is refused
    assert [quorum(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
