"""Wait for nodes through the Kubernetes API (lightkube): until they are Ready, or — while the
pod network is still to come from the add-ons phase — until they are registered.

A node is *registered* when its Node object exists and its kubelet has posted a Ready
condition (any status): the kubelet runs and talks to the API. It is *Ready* when that condition
is ``True``; a kubelet without a CNI configuration posts ``False`` with reason
``KubeletNotReady`` and a message naming the network plugin (kubernetes v1.31
``pkg/kubelet/nodestatus/setters.go`` ReadyCondition).

On timeout the error names the nodes that did not get there, with their Ready condition's
status, reason and message, and carries the tail of the distribution's log from each of them,
redacted.

With the API, its address must first answer TCP from this machine (:func:`check_reachable`):
a firewall that drops the port fails at once with the cause, not after the whole timeout.
"""

from __future__ import annotations

import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

from ..errors import RemoteError
from ..secrets import redact

if TYPE_CHECKING:
    from lightkube import Client

#: The longest pause between two looks at a node that is not there yet.
POLL_SECONDS = 2.0
#: The first pause: a service started a moment ago is often up within a second, and a fixed 2 s
#: step made every wait end up to 2 s late (a run of an `up` waits a dozen times).
FIRST_POLL_SECONDS = 0.25


def poll_pauses() -> Iterator[float]:
    """The pauses between looks: 0.25 s, doubling, then every :data:`POLL_SECONDS`."""
    pause = FIRST_POLL_SECONDS
    while True:
        yield pause
        pause = min(POLL_SECONDS, pause * 2)


Until = Literal["Ready", "registered"]


class NodeReady(NamedTuple):
    """A node's Ready condition as the API reports it."""

    status: str  # "True", "False", "Unknown"
    reason: str = ""
    message: str = ""

    @property
    def registered(self) -> bool:
        return self.status in ("True", "False", "Unknown")

    def describe(self) -> str:
        return " ".join(
            part for part in (f"Ready={self.status}", self.reason, self.message) if part
        )


#: Not in the API at all (no Node object), or no Ready condition posted yet.
ABSENT = NodeReady("absent", "not registered with the API")
NO_CONDITION = NodeReady("none", "registered, but its kubelet has posted no Ready condition")


def node_readiness(client: Client) -> dict[str, NodeReady]:
    """{node name: its Ready condition} for every Node the API lists."""
    from lightkube.resources.core_v1 import Node

    found: dict[str, NodeReady] = {}
    for node in client.list(Node):
        ready = NO_CONDITION
        for condition in (node.status.conditions if node.status else None) or []:
            if condition.type == "Ready":
                ready = NodeReady(condition.status, condition.reason or "", condition.message or "")
        if node.metadata is not None and node.metadata.name:  # the API always names a node
            found[node.metadata.name] = ready
    return found


#: How long the API's address may take to answer TCP once the first server is healthy (a cloud
#: firewall's rule change takes a few seconds to apply).
REACH_SECONDS = 20.0


def check_reachable(url: str, *, cause: str, hint: str, seconds: float = REACH_SECONDS) -> None:
    """Raise a :class:`RemoteError` naming ``cause`` when nothing at ``url``'s host and port
    accepts a TCP connection from this machine within ``seconds``."""
    parts = urllib.parse.urlsplit(url)
    address = (parts.hostname or "", parts.port or 443)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(address, timeout=max(0.1, min(3.0, seconds))):
                return
        except TimeoutError:
            reason = "timed out: something drops the packets"
        except OSError as error:
            reason = error.strerror or str(error)
        if time.monotonic() > deadline:
            break
        time.sleep(1.0)
    raise RemoteError(
        f"the Kubernetes API {url} is not reachable from this machine ({reason}): {cause}",
        hint=hint,
    )


def node_conditions(client: Client) -> dict[str, tuple[str, str]]:
    """{node name: (Ready status, reason)} as the API reports them."""
    return {
        name: (ready.status, ready.reason or ready.message)
        for name, ready in node_readiness(client).items()
    }


def client_for(kubeconfig_text: str) -> Client:
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
    client: Client | None = None,
    until: Until = "Ready",
) -> dict[str, NodeReady]:
    """Poll the API until every node in ``names`` is ``until`` (see module doc); return what
    was last seen of each."""
    from httpx2 import HTTPError
    from lightkube import ApiError

    own = client is None
    client = client or client_for(kubeconfig_text)
    transient = (ApiError, HTTPError, OSError)

    def read() -> dict[str, NodeReady]:
        return node_readiness(client)

    try:
        return poll(read, names, timeout, progress, log_tail, transient, until=until)
    finally:
        if own:
            client.close()


def reached(ready: NodeReady, until: Until) -> bool:
    return ready.status == "True" if until == "Ready" else ready.registered


def poll(
    read: Callable[[], Mapping[str, NodeReady]],
    names: Sequence[str],
    timeout: float,
    progress: Callable[[str], None],
    log_tail: Callable[[str], str] | None,
    transient: tuple[type[BaseException], ...] = (),
    *,
    until: Until = "Ready",
) -> dict[str, NodeReady]:
    """Call ``read`` (see :func:`poll_pauses`) until every node of ``names`` is ``until``;
    progress is reported when the count changes. Raises :class:`RemoteError` on timeout."""
    deadline = time.monotonic() + timeout
    seen: Mapping[str, NodeReady] = {}
    last_error = ""
    reported = -1
    pauses = poll_pauses()
    while True:
        try:
            seen = read()
            last_error = ""
        except transient as error:
            last_error = redact(str(error))
        done = [n for n in names if reached(seen.get(n, ABSENT), until)]
        if len(done) == len(names):
            progress(f"all {len(names)} nodes {until}")
            return {n: seen[n] for n in names}
        if len(done) != reported:
            progress(f"{len(done)}/{len(names)} nodes {until}")
            reported = len(done)
        if time.monotonic() > deadline:
            break
        time.sleep(next(pauses))
    waiting = [n for n in names if n not in done]
    lines = []
    for name in waiting:
        lines.append(f"--- {name}: {seen.get(name, ABSENT).describe()}")
        if log_tail is not None:
            lines.append(redact(log_tail(name)))
    raise RemoteError(
        f"{len(waiting)} node(s) not {until} after {timeout:g}s: {', '.join(waiting)}"
        + (f" (API: {last_error})" if last_error else ""),
        output="\n".join(lines),
        hint="the output shows each node's Ready condition (status, reason, message) and the "
        "tail of its distribution log",
    )
