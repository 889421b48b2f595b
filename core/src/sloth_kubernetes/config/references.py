"""Secret references: ``${env:NAME}`` and ``${file:PATH}``.

A reference is kept as a :class:`Reference` in the validated config and resolved only when a
plugin needs the value (``reference.resolve()``). The value is wrapped in
:class:`sloth_kubernetes.secrets.Secret` (registered for redaction) and never written back:
``config show`` prints the reference itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import attrs

from ..errors import ConfigError, ConfigIssue
from ..secrets import Secret

REFERENCE = re.compile(r"^\$\{(?P<kind>env|file):(?P<target>[^}]+)\}$")
LOOKS_LIKE_REFERENCE = re.compile(r"\$\{[^}]*\}")


@attrs.frozen
class Reference:
    """A pointer to a secret outside the config file."""

    kind: str  # "env" or "file"
    target: str
    file: str = attrs.field(default="", eq=False)
    line: int = attrs.field(default=0, eq=False)
    column: int = attrs.field(default=0, eq=False)
    path: str = attrs.field(default="", eq=False)

    def __str__(self) -> str:
        return f"${{{self.kind}:{self.target}}}"

    def is_available(self) -> bool:
        """Whether the value can be read, without reading it (for ``doctor``)."""
        if self.kind == "env":
            return bool(os.environ.get(self.target))
        return self._file_path().is_file()

    def resolve(self) -> Secret:
        """Read the secret now; a missing variable or file is a located config error."""
        if self.kind == "env":
            value = os.environ.get(self.target)
            if not value:
                raise self._error(
                    f"the environment variable {self.target} is not set",
                    f"export {self.target}=… before running (never write the value into the "
                    "config), or use ${file:…}",
                )
        else:
            path = self._file_path()
            try:
                value = path.read_text(encoding="utf-8").rstrip("\n")
            except FileNotFoundError:
                raise self._error(
                    f"the secret file {path} does not exist",
                    f"write the secret into {path} (mode 0600); a relative path is relative to "
                    "the config file",
                ) from None
            except (OSError, UnicodeDecodeError) as error:
                reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
                raise self._error(
                    f"cannot read the secret file {path}: {reason}",
                    "check the path and its permissions (relative paths are relative to the "
                    "config file)",
                ) from None
            if not value:
                raise self._error(f"secret file {path} is empty", "write the secret into it")
        return Secret(value, source=f"{self.kind}:{self.target}")

    def _file_path(self) -> Path:
        path = Path(os.path.expanduser(self.target))
        if not path.is_absolute() and self.file:
            path = Path(self.file).parent / path
        return path

    def _error(self, message: str, hint: str) -> ConfigError:
        return ConfigError(
            [ConfigIssue(self.file, self.line, self.column, self.path, message, hint)]
        )


def parse_reference(text: str) -> tuple[str, str] | None:
    """``("env", "NAME")`` for ``${env:NAME}``; None when ``text`` is not a whole reference."""
    match = REFERENCE.match(text)
    return (match["kind"], match["target"]) if match else None
