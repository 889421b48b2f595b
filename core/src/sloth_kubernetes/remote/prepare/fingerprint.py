"""A prepared node's fingerprint: what lets ``up`` skip prepare on it without trusting the state.

After prepare converged a node, the phase records two digests on it (``extra["prepare"]``):

* ``settings`` — of what prepare was asked to do there (:func:`settings_key`: the node's
  :class:`~.plan.PrepareSettings`, its plugins' packages, whether cgroups were required, and this
  version of sloth-kubernetes, whose constants decide the baseline);
* ``fingerprint`` — of what the node itself reports for everything prepare reads and writes: the
  same sections as :class:`~.facts.NodeProbe` (packages, sysctls, managed files with their modes
  and contents, kernel modules, swap, time sync, sshd, the firewall table), hashed **on the
  node** so one short line travels back. Volatile readings (free space, memory, the SSH
  client's address) are left out: they change without anyone touching the node.

A later run reads every candidate node's fingerprint in one parallel round
(:func:`read_fingerprints`). When both digests match, the node's facts are those it had when
prepare last converged it under the same settings, so prepare would change nothing there: it is
skipped. Any difference — a package removed, a sysctl file edited, a firewall rule flushed —
sends the node through the full phase, which repairs it and records a new fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .facts import _MARK, _sections

if TYPE_CHECKING:
    from ...model import NodePackage, NodeRecord
    from ..session import RemoteSession
    from .plan import PrepareSettings

#: Where the digests live on a node record (``NodeRecord.extra``).
EXTRA_KEY = "prepare"
#: Probe sections whose readings change on their own (never a reason to prepare again).
VOLATILE_SECTIONS = frozenset({"resources", "client"})


def fingerprint_command(packages: Sequence[str]) -> str:
    """The probe's stable sections, hashed on the node: prints one sha256 hex digest."""
    parts = [
        f"echo '{_MARK}{name}'; ( {fact.command(**kwargs)} ) 2>/dev/null"
        for name, fact, kwargs in _sections(packages)
        if name not in VOLATILE_SECTIONS
    ]
    return "{ " + "; ".join(parts) + "; true; } | sha256sum | cut -c1-64"


def settings_key(
    settings: PrepareSettings, packages: Sequence[NodePackage], *, require_cgroups: bool
) -> str:
    """The digest of what prepare is asked to do on one node (see the module docstring)."""
    from ... import __version__

    names = sorted(package.name for package in packages)
    text = "\n".join(
        [__version__, repr(settings), repr(sorted(map(repr, packages))), str(require_cgroups)]
    )
    return hashlib.sha256((text + fingerprint_command(names)).encode()).hexdigest()


def recorded(node: NodeRecord) -> Mapping[str, Any]:
    value = node.extra.get(EXTRA_KEY)
    return value if isinstance(value, dict) else {}


def read_fingerprints(
    session: RemoteSession, packages: Mapping[str, Sequence[NodePackage]]
) -> dict[str, str]:
    """``{node: digest}`` for the nodes of ``packages`` (one command per node, all in parallel;
    nodes sharing a package list share one round). A node that did not answer is left out."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, wanted in packages.items():
        groups.setdefault(tuple(sorted({p.name for p in wanted})), []).append(name)
    digests: dict[str, str] = {}
    for names, nodes in groups.items():
        results = session.shell(fingerprint_command(names), nodes=nodes, timeout=60)
        for name, result in results.items():
            digest = result.stdout.strip()
            if result.exit_status == 0 and len(digest) == 64:
                digests[name] = digest
    return digests
