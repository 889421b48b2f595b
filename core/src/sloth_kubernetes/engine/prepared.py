"""Which nodes prepare can leave alone: those it converged before, under the same settings, whose
fingerprint read live now is still the one recorded then (remote/prepare/fingerprint.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model.nodes import NodePackage, NodeRecord
    from .phases import Run


def settings_keys(
    run: Run,
    nodes: Sequence[NodeRecord],
    packages: dict[str, list[NodePackage]],
    *,
    require_cgroups: bool,
) -> dict[str, str]:
    from ..remote.prepare import settings_for
    from ..remote.prepare.fingerprint import settings_key

    return {
        node.name: settings_key(
            settings_for(run.context.config, node),
            packages[node.name],
            require_cgroups=require_cgroups,
        )
        for node in nodes
    }


def unchanged_since_prepared(
    run: Run,
    nodes: Sequence[NodeRecord],
    packages: dict[str, list[NodePackage]],
    keys: dict[str, str],
) -> dict[str, NodeRecord]:
    """Nodes prepare converged before, under the same settings, whose fingerprint — read live,
    one round over them all — is still the one recorded then (remote/prepare/fingerprint.py):
    prepare would change nothing there. Each is journaled as verified."""
    from ..remote.prepare.fingerprint import read_fingerprints, recorded

    assert run.context.remote is not None
    candidates = {
        node.name: node
        for node in nodes
        if node.phases.get("prepare") == "done"
        and recorded(node).get("settings") == keys[node.name]
    }
    if not candidates:
        return {}
    digests = read_fingerprints(run.context.remote, {n: packages[n] for n in candidates})
    verified = {
        name: node
        for name, node in candidates.items()
        if digests.get(name) and digests[name] == recorded(node).get("fingerprint")
    }
    run.journal_nodes(
        "prepare", list(verified), "verify", "done", "unchanged since prepared (fingerprint)"
    )
    return verified
