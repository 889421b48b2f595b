"""Secrets sweeps for tests: plant secrets, then look for them everywhere a run leaves something.

Three ways a secret escapes, and a way to see each:

* **argv** — :class:`ArgvSampler` reads every process's ``/proc/PID/cmdline`` on this machine
  every 20 ms (processes inside local test hosts included: their pid namespaces are children of
  this machine's), and :class:`RemoteCommands` records every command sent over SSH (paramiko's
  ``Channel.exec_command``): the exact text a node's shell runs as ``sh -c …``, so even a command
  too short-lived for sampling is seen;
* **files** — :func:`files_under` (this machine) and :func:`host_files` (everything written on a
  local test host: its disk overlay's upper layer, plus its tmpfs ``/run``, ``/tmp``, ``/dev/shm``
  read through its PID 1's root), each with its mode, and :class:`SftpUploads`, which stats every
  file SFTP uploads the moment the upload finishes — before any later ``chmod`` — so a secret file
  that is briefly readable by others is seen;
* **text** — whatever a command printed: :func:`exposures` greps any of these for the needles.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

#: tmpfs directories of a test host, not in its disk overlay (read through /proc/PID/root).
HOST_TMPFS = ("run", "tmp", "dev/shm")


@attrs.frozen
class Artefact:
    """Something a run left: where (a readable label), its bytes, and a file's mode bits."""

    where: str
    content: bytes
    mode: int | None = None


def exposures(
    needles: Mapping[str, str], artefacts: Iterable[Artefact]
) -> dict[str, list[Artefact]]:
    """{secret kind: the artefacts holding it}; kinds found nowhere are left out."""
    found: dict[str, list[Artefact]] = {}
    encoded = {kind: needle.encode() for kind, needle in needles.items()}
    for artefact in artefacts:
        for kind, needle in encoded.items():
            if needle in artefact.content:
                found.setdefault(kind, []).append(artefact)
    return found


def text(where: str, value: str) -> Artefact:
    return Artefact(where, value.encode(errors="replace"))


def files_under(*roots: Path, skip: Iterable[str] = ()) -> Iterator[Artefact]:
    """Every regular file under ``roots`` (symlinks not followed), except names in ``skip``."""
    skipped = set(skip)
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.name in skipped or path.is_symlink() or not path.is_file():
                continue
            yield _read(str(path), path)


def host_files(upper: Path, init_pid: int) -> Iterator[Artefact]:
    """Everything written on a local test host, labelled by its path on the host.

    ``upper`` is the upper layer of the host's root overlay (all its disk writes); the tmpfs
    directories are read through ``/proc/<init_pid>/root``, the host's own view.
    """
    for path in upper.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        yield _read("/" + str(path.relative_to(upper)), path)
    root = Path(f"/proc/{init_pid}/root")
    for directory in HOST_TMPFS:
        base = root / directory
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            try:
                if path.is_symlink() or not path.is_file():
                    continue
            except OSError:
                continue
            yield _read("/" + str(path.relative_to(root)), path)


def _read(where: str, path: Path) -> Artefact:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return Artefact(where, b"", None)
        return Artefact(where, path.read_bytes(), stat.S_IMODE(info.st_mode))
    except OSError:  # gone meanwhile (a socket's lock, a rotated log)
        return Artefact(where, b"", None)


class ArgvSampler:
    """Every process's argv on this machine, sampled every 20 ms while entered."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.seen: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if argv:
                    self.seen.add(argv.replace(b"\0", b" ").decode(errors="replace"))
            self.samples += 1
            self._stop.wait(self.interval)

    def artefacts(self) -> list[Artefact]:
        return [text(f"argv: {argv[:100]}", argv) for argv in sorted(self.seen)]

    def __enter__(self) -> ArgvSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


class RemoteCommands:
    """Every command sent over SSH (paramiko) while entered: what a node's shell gets as argv."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self._lock = threading.Lock()
        self._original: Any = None

    def artefacts(self) -> list[Artefact]:
        return [text(f"remote command: {c[:100]}", c) for c in self.commands]

    def __enter__(self) -> RemoteCommands:
        import paramiko

        original = paramiko.Channel.exec_command
        self._original = original

        def exec_command(channel: Any, command: str | bytes) -> Any:
            shown = command.decode(errors="replace") if isinstance(command, bytes) else command
            with self._lock:
                self.commands.append(shown)
            return original(channel, command)

        paramiko.Channel.exec_command = exec_command  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_exc: object) -> None:
        import paramiko

        paramiko.Channel.exec_command = self._original  # type: ignore[method-assign]


@attrs.frozen
class Upload:
    """One SFTP upload: the remote path, and its mode bits on the node right after the upload."""

    path: str
    mode: int
    content: bytes


class SftpUploads:
    """Every file uploaded over SFTP (paramiko) while entered, stat'ed on the node the moment the
    upload finished — before the uploader's next command (a ``chmod``) could run."""

    def __init__(self) -> None:
        self.uploads: list[Upload] = []
        self._lock = threading.Lock()
        self._original: Any = None

    def __enter__(self) -> SftpUploads:
        import paramiko

        original = paramiko.SFTPClient.putfo
        self._original = original

        def putfo(client: Any, fl: Any, remotepath: str, *args: Any, **kwargs: Any) -> Any:
            start = fl.tell() if hasattr(fl, "tell") else 0
            content = fl.read()
            if isinstance(content, str):
                content = content.encode()
            fl.seek(start)
            result = original(client, fl, remotepath, *args, **kwargs)
            mode = stat.S_IMODE(client.stat(remotepath).st_mode or 0)
            with self._lock:
                self.uploads.append(Upload(remotepath, mode, content))
            return result

        paramiko.SFTPClient.putfo = putfo  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_exc: object) -> None:
        import paramiko

        paramiko.SFTPClient.putfo = self._original  # type: ignore[method-assign]
