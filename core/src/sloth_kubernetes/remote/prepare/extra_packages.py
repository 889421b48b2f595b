"""Installing a node's packages: the baseline's and those plugins need (``node_packages``: the
mesh's wireguard-tools, longhorn's open-iscsi and nfs-common).

The probe already said which are installed (``NodeFacts.packages``), so an up-to-date node runs
nothing. The missing ones are installed with the node's own apt (``apt-get update``, then one
``apt-get install`` per package) in one command per node that also reports, through dpkg, what is
installed afterwards: the outcome is read, not assumed. A package the node's apt cannot get
fails the node with an error naming the node, the package, apt's reason and the node's apt
sources.

A node whose system is the machine's (``NodeFacts.system_is_machines``: a fast-mode local host
that sees the machine's ``/usr``) may be unable to install anything — no route to a package
mirror, a package the machine's archives lack. There a package apt cannot install is reported as
**managed by the machine**, like the kernel settings such a node cannot change; on a node of its
own it is an error. Such nodes install from the machine's package lists and archives only (no
``apt-get update``, ``--no-download``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from ...errors import RemoteError, SlothError
from .facts import DebPackagesInstalled, split_sections
from .facts_model import NodeFacts
from .plan import MACHINE

if TYPE_CHECKING:
    from ..results import CommandResult
    from ..session import RemoteSession

STEP = "packages"
_SECTION = "installed"
_SOURCES = "sources"
_MARK = "@@sloth-section "  # as the probe's sections (facts.split_sections)
#: apt can take minutes on a slow mirror; a node stuck longer than this fails.
TIMEOUT = 900


@attrs.frozen
class PackagesOutcome:
    """What installing one node's extra packages did."""

    changed: tuple[str, ...] = ()  # (STEP,) when something was installed
    machine: tuple[str, ...] = ()  # packages the machine must provide
    error: SlothError | None = None


def install_command(packages: Sequence[str], *, machine_owned: bool = False) -> str:
    """Install ``packages`` with apt (if there is an apt), then list which of them dpkg has.

    ``machine_owned``: the node's system is the machine's — use the package lists and archives
    the machine has (no ``apt-get update``, no download): such nodes usually have no route to a
    mirror, and waiting for name resolution to time out would take minutes per run.
    """
    names = " ".join(shlex.quote(name) for name in packages)
    check = DebPackagesInstalled().command(packages)
    sources = (
        "grep -hs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list "
        "/etc/apt/sources.list.d/*.list; "
        "grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources; true"
    )
    update = "" if machine_owned else "apt-get update -qq 2>&1 | tail -n 3; "
    offline = "--no-download " if machine_owned else ""
    return (
        "export DEBIAN_FRONTEND=noninteractive; "
        "if command -v apt-get >/dev/null 2>&1; then "
        f"{update}"
        # one at a time: apt refuses a whole list for one package it cannot find
        f'for p in {names}; do echo "{_MARK}apt-$p"; '
        f'apt-get install -y -qq --no-install-recommends {offline}"$p" 2>&1 | tail -n 3; done; '
        "else echo 'E: no apt-get on this node'; fi; "
        f"echo '{_MARK}{_SOURCES}'; {sources}; "
        f"echo '{_MARK}{_SECTION}'; {check}"
    )


def _reason(sections: Mapping[str, list[str]], package: str) -> str:
    """apt's last error line for ``package`` (``E: Unable to locate package …``)."""
    lines = [*sections.get("apt", []), *sections.get(f"apt-{package}", [])]
    errors = [line.strip() for line in lines if line.startswith("E:")]
    return errors[-1] if errors else "the package manager did not install it"


def _outcome(
    node: str, packages: tuple[str, ...], owned: bool, result: CommandResult
) -> PackagesOutcome:
    """Read one node's install output: what dpkg lists afterwards decides, not exit codes."""
    sections = split_sections([f"{_MARK}apt", *result.stdout.splitlines()])
    if _SECTION not in sections:
        return PackagesOutcome(
            error=RemoteError(
                f"installing {', '.join(packages)} on node {node} did not finish",
                host=node,
                exit_status=result.exit_status,
                output=result.stdout + result.stderr,
                hint="check the connection to the node and re-run",
            )
        )
    listed = set(DebPackagesInstalled().process(sections[_SECTION]))
    missing = [p for p in packages if p not in listed]
    changed = (STEP,) if len(missing) < len(packages) else ()
    if not missing:
        return PackagesOutcome(changed=changed)
    if owned:
        machine = tuple(
            f"package {p}: {MACHINE} (not installed; apt cannot install it here: "
            f"{_reason(sections, p)})"
            for p in missing
        )
        return PackagesOutcome(changed=changed, machine=machine)
    output = "\n".join(
        line for name, got in sections.items() if name not in (_SECTION, _SOURCES) for line in got
    )
    sources = "; ".join(line.strip() for line in sections.get(_SOURCES, []) if line.strip())
    return PackagesOutcome(
        changed=changed,
        error=RemoteError(
            f"node {node}: apt could not install {', '.join(missing)}: "
            + "; ".join(f"{p}: {_reason(sections, p)}" for p in missing),
            host=node,
            output=output,
            hint=f"make {', '.join(missing)} available to the node's apt (its sources: "
            f"{sources or 'none'}) — a mirror that carries it, or an image that has it "
            "installed — then re-run `up`",
        ),
    )


def install(
    session: RemoteSession, pending: Mapping[str, tuple[str, ...]], facts: Mapping[str, NodeFacts]
) -> dict[str, PackagesOutcome]:
    """Install each node's missing ``pending`` packages; nodes with the same list run at once."""
    groups: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    for node, packages in pending.items():
        owned = facts[node].system_is_machines
        groups.setdefault((packages, owned), []).append(node)
    outcomes: dict[str, PackagesOutcome] = {}
    for (packages, owned), nodes in groups.items():
        command = install_command(packages, machine_owned=owned)
        results = session.shell(command, nodes=nodes, timeout=TIMEOUT)
        for node in nodes:
            outcomes[node] = _outcome(node, packages, owned, results[node])
    return outcomes
