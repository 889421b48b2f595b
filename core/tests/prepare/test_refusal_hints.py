"""A node prepare refuses gets the hint for its own problem, not for another kind."""

from __future__ import annotations

from sloth_kubernetes.remote.prepare.run import _refusal


def test_no_cgroups_says_systemd_mode_not_another_image() -> None:
    error = _refusal("n1", ["node n1: no cgroups: the kubelet cannot run on this node"])
    assert "mode: systemd" in error.hint
    assert "image" not in error.hint


def test_each_problem_kind_gets_its_hint_once() -> None:
    error = _refusal(
        "n1",
        [
            "node n1: Alpine 3 is not supported (need Debian ≥ 11)",
            "node n1: 512 MiB of memory; Kubernetes needs at least 1024 MiB",
            "node n1: 10 MiB free on /var; need at least 2048 MiB",
        ],
    )
    assert error.hint.count("supported image") == 1
    assert error.hint.count("larger machine size") == 1
    assert "cgroups" not in error.hint
