"""Wait until every node is Ready, through the Kubernetes API (lightkube).

On timeout the error names the nodes that are not Ready (with their Ready condition's reason)
and carries the tail of the distribution's log from each of them, redacted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import RemoteError
from ..secrets import redact

POLL_SECONDS = 2.0


def node_conditions(client: Any) -> dict[str, tuple[str, str]]:
    """{node name: (Ready status, reason)} as the API reports them."""
    from lightkube.resources.core_v1 import Node

    found: dict[str, tuple[str, str]] = {}
    for node in client.list(Node):
        ready = ("Unknown", "no Ready condition")
        for condition in (node.status.conditions if node.status else None) or []:
            if condition.type == "Ready":
                ready = (condition.status, condition.reason or condition.message or "")
        found[node.metadata.name] = ready
    return found


def client_for(kubeconfig_text: str) -> Any:
    from lightkube import Client, KubeConfig

    from .kubeconfig import load

    return Client(config=KubeConfig.from_dict(load(kubeconfig_text)), trust_env=False)


def wait_ready(
    kubeconfig_text: str,
    names: Sequence[str],
    *,
    timeout: float,
    progress: Callable[[str], None] = lambda _text: None,
    log_tail: Callable[[str], str] | None = None,
    client: Any = None,
) -> None:
    """Poll the API until every node in ``names`` is Ready (see module doc)."""
    from httpx2 import HTTPError
    from lightkube import ApiError

    own = client is None
    client = client or client_for(kubeconfig_text)
    try:
        _poll(client, names, timeout, progress, log_tail, (ApiError, HTTPError, OSError))
    finally:
        if own:
            client.close()


def _poll(
    client: Any,
    names: Sequence[str],
    timeout: float,
    progress: Callable[[str], None],
    log_tail: Callable[[str], str] | None,
    transient: tuple[type[BaseException], ...],
) -> None:
    deadline = time.monotonic() + timeout
    seen: dict[str, tuple[str, str]] = {}
    last_error = ""
    reported = -1
    while True:
        try:
            seen = node_conditions(client)
            last_error = ""
        except transient as error:
            last_error = redact(str(error))
        ready = [n for n in names if seen.get(n, ("",))[0] == "True"]
        if len(ready) == len(names):
            progress(f"all {len(names)} nodes Ready")
            return
        if len(ready) != reported:
            progress(f"{len(ready)}/{len(names)} nodes Ready")
            reported = len(ready)
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    waiting = [n for n in names if n not in ready]
    lines = []
    for name in waiting:
        status, reason = seen.get(name, ("absent", "not registered with the API"))
        lines.append(f"--- {name}: Ready={status} {reason}".rstrip())
        if log_tail is not None:
            lines.append(redact(log_tail(name)))
    raise RemoteError(
        f"{len(waiting)} node(s) not Ready after {timeout:g}s: {', '.join(waiting)}"
        + (f" (API: {last_error})" if last_error else ""),
        output="\n".join(lines),
        hint="the output shows each node's Ready condition and the tail of its distribution log",
    )
