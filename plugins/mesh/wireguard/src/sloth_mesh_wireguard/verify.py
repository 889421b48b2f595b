"""Is the mesh working? Ping matrices over mesh addresses, and what a failing matrix means.

Reading a matrix: a node that reaches no one and that no one reaches (with at least three nodes,
so there is someone to tell) is *down* — its WireGuard is not running or it is cut off — and is
named once instead of as N-1 broken links. Every other failing pair is a *broken link*: both
nodes work, the two of them cannot talk (a firewall in between, a stuck handshake, a wrong
endpoint). A pair counts as broken when either direction fails.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from . import commands

#: ``matrix[source][target]``: True reached, False not, None not measured (source unreachable).
Matrix = dict[str, dict[str, bool | None]]


def parse_matrix_output(stdout: str, targets: Sequence[str]) -> dict[str, bool | None]:
    """``name ok|fail`` lines → ``{target: reached}``; missing lines are ``None``."""
    seen: dict[str, bool | None] = dict.fromkeys(targets)
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in seen and parts[1] in ("ok", "fail"):
            seen[parts[0]] = parts[1] == "ok"
    return seen


def run_matrix(
    session: Any,
    sources: Sequence[str],
    targets: Mapping[str, str],
    *,
    deadline: int = 2,
    only: Mapping[str, Sequence[str]] | None = None,
) -> Matrix:
    """Ping ``targets`` (name → mesh address) from every source in parallel (one SSH command
    per node). ``only`` restricts a source to some targets (re-checking failed pairs)."""
    matrix: Matrix = {}
    if only is None:
        pairs = [(name, address) for name, address in sorted(targets.items())]
        command = commands.ping_matrix(pairs, deadline=deadline)
        results = session.shell(command, nodes=list(sources), timeout=deadline + 30)
        for source in sources:
            result = results.get(source)
            wanted = [name for name in targets if name != source]
            if result is None or result.exit_status != 0:
                matrix[source] = dict.fromkeys(wanted)
                continue
            parsed = parse_matrix_output(result.stdout, list(targets))
            matrix[source] = {name: parsed[name] for name in wanted}
        return matrix
    # Different targets per source: group sources with the same target list into one command.
    groups: dict[tuple[str, ...], list[str]] = {}
    for source, names in only.items():
        if names:
            groups.setdefault(tuple(sorted(names)), []).append(source)
    for names, group in groups.items():
        pairs = [(name, targets[name]) for name in names]
        results = session.shell(
            commands.ping_matrix(pairs, deadline=deadline), nodes=group, timeout=deadline + 30
        )
        for source in group:
            result = results.get(source)
            if result is None or result.exit_status != 0:
                matrix[source] = dict.fromkeys(names)
            else:
                parsed = parse_matrix_output(result.stdout, list(names))
                matrix[source] = {name: parsed[name] for name in names}
    return matrix


def merge(base: Matrix, update: Matrix) -> Matrix:
    """``base`` with ``update``'s measurements on top."""
    merged = {source: dict(row) for source, row in base.items()}
    for source, row in update.items():
        merged.setdefault(source, {}).update(row)
    return merged


def failing_pairs(matrix: Matrix) -> list[tuple[str, str]]:
    """Unordered pairs (sorted names) where either direction did not succeed."""
    pairs = set()
    for source, row in matrix.items():
        for target, reached in row.items():
            if reached is not True:
                pairs.add(tuple(sorted((source, target))))
    return sorted(pairs)  # type: ignore[arg-type]


@attrs.frozen
class Diagnosis:
    """What a matrix says: nodes that are down (with why) and links that are broken."""

    down: dict[str, str]
    broken_links: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.down and not self.broken_links


def diagnose(
    matrix: Matrix, nodes: Sequence[str], known_down: Mapping[str, str] | None = None
) -> Diagnosis:
    """Name dead nodes once, and only the links that are broken between working nodes.

    ``known_down`` are nodes already known dead (WireGuard not running, SSH unreachable) with
    the reason."""
    down = dict(known_down or {})
    failing = failing_pairs(matrix)
    if len(nodes) >= 3:
        for node in nodes:
            if node in down:
                continue
            others = [other for other in nodes if other != node and other not in down]
            if others and all(tuple(sorted((node, other))) in failing for other in others):
                down[node] = "reaches no other node and no node reaches it"
    links = tuple(pair for pair in failing if pair[0] not in down and pair[1] not in down)
    return Diagnosis(down, links)


def grid(matrix: Matrix, nodes: Sequence[str]) -> list[list[str]]:
    """Rows for a table: first column the source, then one cell per target (``ok``/``FAIL``/
    ``?``, ``-`` on the diagonal)."""
    rows = []
    for source in nodes:
        row = [source]
        for target in nodes:
            if target == source:
                row.append("-")
                continue
            reached = matrix.get(source, {}).get(target)
            row.append("ok" if reached else "?" if reached is None else "FAIL")
        rows.append(row)
    return rows


def all_pairs(nodes: Sequence[str]) -> list[tuple[str, str]]:
    return list(itertools.combinations(sorted(nodes), 2))
