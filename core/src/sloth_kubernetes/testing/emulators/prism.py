"""Prism (``@stoplight/prism-cli@5``) validating a stateful fake against a cloud's OpenAPI spec.

The chain is ``client -> recorder -> prism proxy --errors SPEC -> fake``. Prism rejects a request
that violates the spec with ``422`` before it reaches the fake, and turns a fake reply that violates
the spec into a ``500``; both carry a problem+json body listing the broken rules (``validation``),
and milder findings come in an ``sl-violations`` header. The recorder (a fault-free
:class:`~sloth_kubernetes.testing.emulators.faults.FaultyProxy`) counts every request and keeps
those rules, so :meth:`PrismEmulator.violations` can fail a test with the exact rule it broke even
when the client library swallows the error body.

Nothing here knows a cloud: a plugin's test support module passes its fake and a
:class:`PrismSpec` (the spec file under the api-specs folder, and corrections where the published
spec contradicts the real API).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from sloth_kubernetes.testing.emulators._http import (
    LOOPBACK,
    BackgroundServer,
    EmulatorError,
    JsonApp,
    RequestLog,
    port_is_open,
    start_process,
    stop_process,
    wait_for_log_line,
)
from sloth_kubernetes.testing.emulators.faults import FaultyProxy

if TYPE_CHECKING:
    import subprocess

PRISM_PACKAGE = "@stoplight/prism-cli@5"
_REPO_ROOT = Path(__file__).resolve().parents[5]
_LISTENING = re.compile(r"Prism is listening on http://127\.0\.0\.1:(\d+)")


@attrs.frozen
class PrismSpec:
    """A cloud's OpenAPI spec as Prism loads it.

    ``file`` is the entry file relative to the api-specs folder (a spec split over many files is
    given by the file that $refs the others). ``patch`` corrects, in a cached copy (never in the
    repo), places where the published spec contradicts the real API; bump ``patch_version`` when
    the patch changes so cached copies are rebuilt.
    """

    file: str
    patch: Callable[[dict[str, Any]], None] | None = None
    patch_version: str = "1"


class PrismUnavailable(EmulatorError):
    """Prism or the API specs are not on this machine; tests skip with :attr:`reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def specs_dir() -> Path:
    """``$SLOTH_API_SPECS``, else ``<repo>/../shared/api-specs`` (where the lead keeps them)."""
    configured = os.environ.get("SLOTH_API_SPECS")
    return Path(configured) if configured else _REPO_ROOT.parent / "shared" / "api-specs"


def spec_path(name: str, spec: PrismSpec) -> Path:
    """The spec's entry file; raises :class:`PrismUnavailable` when it is absent."""
    path = specs_dir() / spec.file
    if not path.is_file():
        raise PrismUnavailable(
            f"the {name} OpenAPI spec is not at {path}; set SLOTH_API_SPECS to the folder "
            "holding the api-specs (see docs/testing-clouds.md)"
        )
    return path


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a parsed spec, depth first (for :attr:`PrismSpec.patch` functions)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def prepared_spec(name: str, spec: PrismSpec) -> Path:
    """The file Prism loads: the spec itself, or a patched JSON copy cached in ``cache_dir()``."""
    source = spec_path(name, spec)
    patch = spec.patch
    if patch is None:
        return source
    raw = source.read_bytes()
    digest = hashlib.sha256(raw + spec.patch_version.encode()).hexdigest()[:16]
    target_dir = cache_dir() / "api-specs"
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        target_dir = Path(tempfile.gettempdir())
    target = target_dir / f"{name}-{digest}.json"
    if not target.exists():
        import yaml  # PyYAML: its C loader reads a 3.5 MB spec in ~1 s

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(raw, Loader=loader)  # noqa: S506 (a safe loader)
        patch(document)
        scratch = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        scratch.write_text(json.dumps(document, default=str), encoding="utf-8")
        os.replace(scratch, target)
        for stale in target_dir.glob(f"{name}-*.json"):
            if stale != target:
                stale.unlink(missing_ok=True)
    return target


def cache_dir() -> Path:
    """``$SLOTH_TEST_CACHE``, else ``<repo>/.cache`` (gitignored)."""
    configured = os.environ.get("SLOTH_TEST_CACHE")
    return Path(configured) if configured else _REPO_ROOT / ".cache"


def find_prism() -> str:
    """The prism executable: ``$SLOTH_PRISM``, the project cache, then ``PATH``."""
    candidates = [
        os.environ.get("SLOTH_PRISM", ""),
        str(cache_dir() / "node" / "node_modules" / ".bin" / "prism"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("prism")
    if found:
        return found
    raise PrismUnavailable(
        f"prism is not installed; run `npm install --prefix {cache_dir() / 'node'} "
        f"{PRISM_PACKAGE}` (or `make test`, which does it)"
    )


def violations_in_reply(status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
    """Readable spec violations from one Prism reply: its problem+json ``validation`` list (422 for
    a bad request, 500 for a bad fake reply) and its ``sl-violations`` header."""
    entries: list[dict[str, Any]] = []
    raw_header = next((v for k, v in headers.items() if k.lower() == "sl-violations"), None)
    if raw_header:
        try:
            entries.extend(json.loads(raw_header))
        except ValueError:
            return [raw_header]
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if status >= 400 and "problem+json" in content_type:
        try:
            problem = json.loads(body)
        except ValueError:
            problem = {}
        for entry in problem.get("validation") or []:
            # Prism's --errors replies lack the request/response prefix; 422 is about the request.
            where = entry.get("location") or []
            if where[:1] not in (["request"], ["response"]):
                where = ["request" if status == 422 else "response", *where]
            entries.append({**entry, "location": where})
    lines: list[str] = []
    for entry in entries:
        line = (
            f"{'.'.join(str(p) for p in entry.get('location', []))}: {entry.get('message')} "
            f"[{entry.get('severity', 'Error')}]"
        )
        if line not in lines:
            lines.append(line)
    return lines


class PrismEmulator:
    """A cloud API: Prism validating requests and replies in front of a stateful fake.

    ``endpoint`` is what a client uses as its API base URL (``http://127.0.0.1:PORT``); the fake's
    paths are the spec's paths (without the spec's server prefix).
    """

    def __init__(
        self, name: str, fake: JsonApp, spec: PrismSpec, *, startup_timeout: float = 90.0
    ) -> None:
        self.name = name
        self.fake = fake
        prepared = prepared_spec(name, spec)
        prism = find_prism()
        self._backend = BackgroundServer(fake, name=name)
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix=f"sloth-prism-{name}-", suffix=".log", delete=False
        )
        started = time.monotonic()
        argv = [
            prism,
            "proxy",
            "--errors",
            str(prepared),
            self._backend.endpoint,
            "--host",
            LOOPBACK,
            "--port",
            "0",
        ]
        self.process: subprocess.Popen[bytes] = start_process(argv, log=self._log)
        try:
            match = wait_for_log_line(
                self.process,
                self._log.name,
                _LISTENING,
                timeout=startup_timeout,
                what=f"Prism for {name}",
            )
            self.prism_port = int(match.group(1))
            if not port_is_open(self.prism_port):
                raise EmulatorError(
                    f"Prism for {name} said it listens on {self.prism_port} but does not"
                )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self._violations: list[str] = []
        self._front = FaultyProxy(
            f"http://{LOOPBACK}:{self.prism_port}", on_response=self._collect, name=f"{name}-front"
        )
        self.host = LOOPBACK

    def _collect(self, status: int, headers: dict[str, str], body: bytes) -> None:
        found = violations_in_reply(status, headers, body)
        if found:
            with self.fake.lock:
                self._violations.extend(found)

    @property
    def port(self) -> int:
        return self._front.port

    @property
    def endpoint(self) -> str:
        """The API base URL clients use (the recorder in front of Prism)."""
        return self._front.endpoint

    @property
    def prism_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.prism_port}"

    @property
    def backend_endpoint(self) -> str:
        """The fake without Prism (for debugging a spec problem; tests use ``endpoint``)."""
        return self._backend.endpoint

    @property
    def requests(self) -> RequestLog:
        """Every request clients sent since the last reset, with the status they got (a 422 is
        Prism refusing a request that violates the spec)."""
        return self._front.requests

    def reset(self) -> None:
        """Empty the fake's state, the request log and the violations seen so far."""
        reset = getattr(self.fake, "reset", None)
        if callable(reset):
            reset()
        self._front.reset()
        with self.fake.lock:
            self._violations.clear()

    def violations(self, *, include_warnings: bool = False) -> list[str]:
        """Spec violations (in requests or in the fake's replies) seen since the last reset.

        Prism also reports some harmless findings as warnings (e.g. a 404 it cannot match to a
        documented status); those are left out unless ``include_warnings``.
        """
        with self.fake.lock:
            found = list(self._violations)
        return [v for v in found if include_warnings or not v.endswith("[Warning]")]

    def take_violations(self, *, include_warnings: bool = False) -> list[str]:
        """Return the violations seen so far and forget them (for tests that provoke one)."""
        with self.fake.lock:
            found = self.violations(include_warnings=include_warnings)
            self._violations.clear()
        return found

    def stop(self) -> None:
        front = getattr(self, "_front", None)
        if front is not None:
            front.stop()
        stop_process(self.process)
        self._backend.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)
