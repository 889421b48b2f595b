"""A CNI that comes from the add-ons phase: the distro phase ends with nodes registered (not
Ready) and says so; the add-ons phase waits for Ready right after the CNI; a failed wait fails
the add-ons phase and blocks verify; a run after that waits again. No machine, no SSH: the
dummy provider and mesh, and a distro plugin that leaves its nodes NotReady as a real kubelet
without a CNI does (the wait itself is tested on the twin: plugins/distros/k3s/tests)."""

from __future__ import annotations

import json

import attrs
import pytest
from sloth_kubernetes.errors import RemoteError
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.plugin import AddonManifests, Cni
from sloth_kubernetes.registry import Component

NOT_READY = "2 node(s) not Ready after 1s: test-agents-1, test-agents-2"


class AwaitingCniDistro:
    """Installs instantly; its nodes stay NotReady until ``distro_wait_ready`` (after the CNI)."""

    def __init__(self) -> None:
        self.waited: list[tuple[str, ...]] = []
        self.not_ready: RemoteError | None = None

    @hookimpl
    def register_distros(self, register):
        register(Component("distro", "nocni", "a distro whose CNI is an add-on (test)"))

    @hookimpl
    def install_distro(self, context, distro, nodes):
        if distro != "nocni":
            return None
        return [attrs.evolve(n, extra={**n.extra, "distro": {"ready": False}}) for n in nodes]

    @hookimpl
    def distro_wait_ready(self, context, distro, nodes):
        if distro != "nocni":
            return None
        self.waited.append(tuple(n.name for n in nodes))
        if self.not_ready is not None:
            raise self.not_ready
        return [attrs.evolve(n, extra={**n.extra, "distro": {"ready": True}}) for n in nodes]


@attrs.frozen
class _Settings:
    """No settings."""


@pytest.fixture
def distro(register_plugin):
    plugin = AwaitingCniDistro()
    register_plugin(plugin, "nocni-distro")
    cni = Cni("testcni", "a CNI add-on (test)", settings=_Settings,
              render=lambda _config, _settings: AddonManifests([]))  # fmt: skip
    register_plugin(cni, "testcni")
    return plugin


@pytest.fixture
def cluster(config_factory, dummy_provider, dummy_cluster, distro, tmp_path):
    spec = {"mesh": {"type": "dummy"},
            "kubernetes": {"distribution": "nocni", "cni": {"type": "testcni"}}}  # fmt: skip
    return str(config_factory({"spec": spec})), ("--state", f"sqlite:///{tmp_path}/state.db")


def outcomes(stdout: str) -> dict[str, tuple[str, str]]:
    return {o["phase"]: (o["status"], o["detail"]) for o in json.loads(stdout)["outcomes"]}


def test_distro_registers_addons_wait_for_ready_after_the_cni(sloth_cli, cluster, distro):
    path, state = cluster
    until = sloth_cli(*state, "up", "-f", path, "--yes", "--until", "distro", "-o", "json")
    assert until.exit_code == 0, until.stderr
    assert outcomes(until.stdout)["distro"] == (
        "done",
        "3 nodes registered, 3 not Ready until the CNI add-on is delivered "
        "(the addons phase waits for Ready)",
    )
    assert distro.waited == []  # nobody waits for Ready before the CNI is there

    distro.not_ready = RemoteError(NOT_READY, hint="see the nodes' conditions")
    failed = sloth_cli(*state, "up", "-f", path, "--yes", "-o", "json")
    assert failed.exit_code == 1
    final = outcomes(failed.stdout)
    assert final["addons"][0] == "failed"
    assert NOT_READY in final["addons"][1]
    assert final["verify"] == ("skipped", "addons failed (its error is above)")
    assert distro.waited == [("test-agents-1", "test-agents-2", "test-servers-1")]

    distro.not_ready = None  # the CNI came up: the next run waits again and succeeds
    done = sloth_cli(*state, "up", "-f", path, "--yes", "-o", "json")
    assert done.exit_code == 0, done.stdout + done.stderr
    final = outcomes(done.stdout)
    assert final["addons"][0] == "done"
    assert "3 nodes Ready" in final["addons"][1]
    assert final["verify"] == ("done", "3 nodes finished every phase")
    assert len(distro.waited) == 2

    again = sloth_cli(*state, "up", "-f", path, "--yes", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert len(distro.waited) == 2  # Ready is recorded: a converged run waits for nothing
