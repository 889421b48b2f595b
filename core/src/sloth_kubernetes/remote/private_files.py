"""Writing a file that holds a secret on a node, never readable by anyone else for a moment.

pyinfra's ``files.put`` uploads over SFTP and then runs ``chmod``: a new file exists with the SFTP
server's default mode (0644) until that next command, and under sudo the content first sits in a
temporary file in ``/tmp`` with that same mode. :func:`put_private` streams the content to a shell
on the node instead (pyinfra's ``_stdin``, base64: never in any argv), which writes it to a
``mktemp`` file (0600 from its creation) next to the target and renames it into place with its
final owner and mode. Like ``files.put`` it changes nothing when the file already has this
content, owner and mode (compared by SHA-256, computed on each side: the content never travels
back).
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from typing import Any

#: Shell run on the node; stdin is the content in base64 (pyinfra ends every stdin line with a
#: newline, which would change a file without one). ``mktemp`` creates the file 0600.
_WRITE = (
    "set -eu; umask 077; tmp=$(mktemp {dest}.sloth-XXXXXX); "
    'trap \'rm -f "$tmp"\' EXIT; base64 -d > "$tmp"; '
    'chown {owner} "$tmp"; chmod {mode} "$tmp"; mv -f "$tmp" {dest}; trap - EXIT'
)


def write_command(dest: str, *, mode: int = 0o600, user: str = "root", group: str = "root") -> str:
    """The node-side command of :func:`put_private` (its content comes on stdin)."""
    return _WRITE.format(
        dest=shlex.quote(dest), owner=shlex.quote(f"{user}:{group}"), mode=f"{mode:o}"
    )


def put_private(
    name: str,
    content: str,
    dest: str,
    *,
    mode: int = 0o600,
    user: str = "root",
    group: str = "root",
) -> Any:
    """Add a pyinfra operation writing ``content`` to ``dest`` (its directory must exist);
    return its ``OperationMeta``, or None when the file is already as wanted (no operation).

    Call it inside a deploy function, like any pyinfra operation; ``mode`` must not give others
    any access (it is for secrets).
    """
    if mode & 0o077:
        raise ValueError(f"put_private is for secrets: mode {mode:o} gives others access")
    from pyinfra.context import host
    from pyinfra.facts.files import File, Sha256File
    from pyinfra.operations import server

    present = host.get_fact(File, path=dest)
    if (
        present
        and present.get("mode") == int(f"{mode:o}")
        and present.get("user") == user
        and present.get("group") == group
        and host.get_fact(Sha256File, path=dest) == hashlib.sha256(content.encode()).hexdigest()
    ):
        return None
    return server.shell(
        name=name,
        commands=[write_command(dest, mode=mode, user=user, group=group)],
        _stdin=base64.b64encode(content.encode()).decode(),
    )
