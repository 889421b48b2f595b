"""What remote work returns: command results, per-node outcomes, and redacted errors."""

from __future__ import annotations

import attrs

from ..errors import RemoteError
from ..secrets import redact

#: How much of a failed command's output an error keeps (the end is where the reason is).
OUTPUT_TAIL_LINES = 20


def output_tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    """The last ``lines`` lines of ``text``, redacted."""
    return redact("\n".join(text.rstrip().splitlines()[-lines:]))


def remote_error(
    node: str,
    operation: str,
    *,
    detail: str = "",
    command: str | None = None,
    exit_status: int | None = None,
    output: str = "",
    hint: str | None = None,
) -> RemoteError:
    """A :class:`RemoteError` naming node and operation; command and output are redacted."""
    message = f"{operation} failed on node {node}"
    if detail:
        message += f": {redact(detail)}"
    return RemoteError(
        message,
        hint=hint,
        host=node,
        command=redact(command) if command is not None else None,
        exit_status=exit_status,
        output=output_tail(output) if output else "",
    )


@attrs.frozen
class CommandResult:
    """One command's outcome on one node; ``stdout``/``stderr`` are already redacted."""

    exit_status: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@attrs.frozen
class NodeResult:
    """What an :meth:`RemoteSession.apply` did on one node."""

    changed: bool = False
    error: RemoteError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@attrs.frozen
class ApplyResult:
    """The outcome of one named deploy over several nodes; one node's failure is not fatal."""

    name: str
    per_node: dict[str, NodeResult] = attrs.field(factory=dict)

    @property
    def changed(self) -> bool:
        """True when any node changed."""
        return any(result.changed for result in self.per_node.values())

    @property
    def changed_nodes(self) -> list[str]:
        return sorted(name for name, result in self.per_node.items() if result.changed)

    @property
    def failed(self) -> dict[str, RemoteError]:
        """Node name → its error, for every node where the deploy failed."""
        return {
            name: result.error
            for name, result in sorted(self.per_node.items())
            if result.error is not None
        }

    @property
    def ok(self) -> bool:
        return not self.failed

    def raise_for_failures(self) -> None:
        """Raise the failure (or one naming every failed node) if any node failed."""
        failed = self.failed
        if not failed:
            return
        if len(failed) == 1:
            raise next(iter(failed.values()))
        details = "\n".join(f"  {name}: {error}" for name, error in failed.items())
        raise RemoteError(
            f"{self.name} failed on {len(failed)} nodes: {', '.join(failed)}\n{details}",
            hint="fix the first error above and re-run; nodes that succeeded are not redone",
        )
