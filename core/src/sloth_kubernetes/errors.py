"""One error hierarchy for the whole project.

Every error a user can cause or fix is a :class:`SlothError` carrying a ``hint`` that says what to
do. The CLI's single exit boundary (``cli/main.py``) prints ``str(error)`` plus the hint and exits
with :data:`EXIT_ERROR`; anything else is our bug and exits with :data:`EXIT_INTERNAL`.
Plugins raise these classes, never click's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

#: Process exit codes (ARCHITECTURE.md, "Errors, exit codes, output").
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHANGES = 3
EXIT_INTERNAL = 70


class SlothError(Exception):
    """Base of every handled error: a message saying what failed and a hint saying what to do."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


@attrs.frozen
class ConfigIssue:
    """One problem in a config file, located precisely enough for an editor to jump to it."""

    file: str
    line: int  # 1-based; 0 when unknown (e.g. a value from an overlay merge)
    column: int  # 1-based; 0 when unknown
    path: str  # dotted key path, e.g. ``spec.nodePools[1].count``
    message: str
    hint: str | None = None

    def render(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        key = f" {self.path}:" if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}:{key} {self.message}{hint}"


#: Issues listed in a ConfigError's message (all stay in ``issues``).
MAX_SHOWN_ISSUES = 50


class ConfigError(SlothError):
    """The cluster configuration is invalid; carries every issue found in one run."""

    def __init__(self, issues: Sequence[ConfigIssue], *, hint: str | None = None) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration"
        shown = [issue.render() for issue in self.issues[:MAX_SHOWN_ISSUES]]
        if count > MAX_SHOWN_ISSUES:  # thousands of lines help no one; the first ones locate it
            shown.append(f"… and {count - MAX_SHOWN_ISSUES} more")
        super().__init__(
            head + ":\n" + "\n".join("  " + line for line in shown),
            hint=hint
            or "fix the lines above; `sloth-kubernetes config schema` documents every key",
        )


class PluginError(SlothError):
    """A plugin is missing, failed to load, or answered a hook wrongly."""


class ProviderError(SlothError):
    """A cloud or machine provider refused or failed a request."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        provider: str | None = None,
        http_status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.provider = provider
        self.http_status = http_status
        self.retryable = retryable


class PartialProvisionError(ProviderError):
    """Some machines of a batch failed; ``records`` are the ones that exist and run (the engine
    saves them), ``failed`` maps node name → reason."""

    def __init__(
        self, message: str, *, records: list[Any], failed: dict[str, str], provider: str
    ) -> None:
        super().__init__(
            message,
            provider=provider,
            hint="re-run `up`: machines that exist are adopted, failed ones are created again",
        )
        self.records = records
        self.failed = failed


class RemoteError(SlothError):
    """A command on a node failed. ``output`` must already be redacted by the caller."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        host: str | None = None,
        command: str | None = None,
        exit_status: int | None = None,
        output: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.host = host
        self.command = command
        self.exit_status = exit_status
        self.output = output

    def __str__(self) -> str:
        parts = [self.message]
        if self.exit_status is not None:
            parts.append(f"(exit status {self.exit_status})")
        text = " ".join(parts)
        if self.output:
            tail = "\n".join(self.output.rstrip().splitlines()[-20:])
            text += "\n  output (last lines):\n    " + tail.replace("\n", "\n    ")
        return text


class StateError(SlothError):
    """The state store is unreachable, corrupt, newer than this version, or refused an update."""


class LockedError(StateError):
    """Another process holds the cluster's lock; ``holder`` describes it."""

    def __init__(self, message: str, *, holder: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.holder = holder


class UsageError(SlothError):
    """The command line itself is wrong (maps to exit code 2)."""

    exit_code = EXIT_USAGE
