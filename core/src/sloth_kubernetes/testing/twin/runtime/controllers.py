"""The loops a twin server runs: learner promotion (on the etcd leader), the deploy controller,
its own node's heartbeat, and the node lifecycle controller. Periods are shortened from the
real ones (named in :mod:`.etcd`, :mod:`.deploy`, :mod:`.node`) to keep tests fast."""

from __future__ import annotations

import contextlib
import time
import traceback
from typing import Any

from . import deploy, etcd
from .facts import Facts
from .node import HEARTBEAT_SECONDS, ApiClient, heartbeat, network_verdict, stale, unknown
from .records import record
from .store import ApiFailure, Store

DEPLOY_SECONDS = 2.0


class Controllers:
    def __init__(
        self,
        facts: Facts,
        config: dict[str, Any],
        data: str,
        store: Store,
        local: etcd.Client,
        member_name: str,
        kubelet: ApiClient,
        node_name: str,
    ) -> None:
        self.facts, self.config, self.data, self.store = facts, config, data, store
        self.local, self.member_name, self.kubelet, self.node_name = (
            local,
            member_name,
            kubelet,
            node_name,
        )
        self.last_problems: list[str] = []
        self.deployed_once = False
        self.network: bool | None = None  # does a CNI run? unknown until the first pass

    def run_forever(self) -> None:
        next_deploy = next_beat = 0.0
        while True:
            now = time.monotonic()
            self._guard(self.promote_learners)
            if now >= next_deploy:
                self._guard(self.deploy)
                self._guard(self.node_lifecycle)
                next_deploy = now + DEPLOY_SECONDS
            if now >= next_beat:
                self._guard(lambda: heartbeat(self.kubelet, self.node_name))
                next_beat = now + HEARTBEAT_SECONDS
            time.sleep(1.0)

    @staticmethod
    def _guard(step: Any) -> None:
        try:
            step()
        except (etcd.EtcdError, ApiFailure, OSError):
            pass  # no quorum, a peer away: try again on the next tick, as K3s's loops do
        except Exception:
            record("ERROR " + traceback.format_exc().replace("\n", " | "))

    def promote_learners(self) -> None:
        state = self.local.status()
        if state.get("leader") != state.get("header", {}).get("member_id"):
            return
        for member in self.local.members():
            if member.get("isLearner") and member.get("name"):
                # etcd refuses until the learner is in sync with the leader
                with contextlib.suppress(etcd.EtcdError):
                    self.local.promote(str(member["ID"]))

    def deploy(self) -> None:
        manifests = deploy.read_manifests(f"{self.data}/server/manifests")
        objects, self.network = deploy.desired(self.facts, self.config, manifests, self.node_name)
        problems = deploy.apply(self.store, objects, first_pass=not self.deployed_once)
        self.deployed_once = True
        if problems != self.last_problems:
            for problem in problems:
                record(f"DEPLOY-PROBLEM {problem}")
            self.last_problems = problems

    def node_lifecycle(self) -> None:
        nodes = next(r for r in self.store.catalog() if r.plural == "nodes" and not r.group)
        items, _ = self.store.list(nodes)
        for node in items:
            if stale(node):
                self.store.update(nodes, unknown(node), status_only=True)
            elif self.network is not None:
                judged = network_verdict(node, self.network)
                if judged is not None:
                    self.store.update(nodes, judged, status_only=True)
