"""A joining server's etcd membership, as K3s does it (RKE2 runs the same code).

From k3s-io/k3s ``pkg/etcd/etcd.go`` on the release-1.31 line (rancher/rke2 v1.31.4+rke2r1
requires k3s ``v1.31.4-0.20241211010154-1ac966b46a50``; read from a stored copy of that era —
``pkg/etcd/s3``, wrangler v3 — as the tag itself is not stored here):

* ``ClientURLs``: ``/db/info`` from the server named in ``server:`` lists the members; the client
  URLs of the *voting* members other than this node are used, the joined server's first. Any
  failure to get that list is ``ErrMemberListFailed``;
* ``join``: a member without a name (added, not started yet) whose peer URL is on this node's
  address is this node; this node is added (``MemberAddAsLearner``) unless it is listed; etcd is
  then started with every listed member in ``--initial-cluster``; the etcd calls run under a
  20 s deadline;
* ``Start`` runs ``join`` in a poll loop, once a second and without a deadline, while it fails
  with ``ErrTooManyLearners`` ("etcdserver: too many learner members in cluster": another server
  is still a learner) or ``ErrUnhealthy`` ("etcdserver: unhealthy cluster": etcd's
  ``StrictReconfigCheck`` refuses a member add until the member asked has been connected to every
  voting member for 5 s — right after a promotion) or ``ErrMemberListFailed``, logging
  ``Waiting for other members to finish joining etcd cluster: <error>``; any other error is fatal
  (``etcd cluster join failed``: the process exits and systemd restarts it). The retry dates from
  k3s-io/k3s#7351 (issue #7000: before it K3s exited and relied on systemd's restart).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from typing import Any

from . import etcd
from .config import ConfigRefused
from .join import Joiner, JoinRefused
from .records import record

#: ``join``'s client deadline (``context.WithTimeout(ctx, 20*time.Second)``).
JOIN_TIMEOUT = 20.0
#: ``wait.PollUntilContextCancel(ctx, time.Second, ...)``.
RETRY_SECONDS = 1.0
#: etcd's ``rpctypes.ErrTooManyLearners`` and ``rpctypes.ErrUnhealthy``, as its gateway words them.
TRANSIENT = ("etcdserver: too many learner members in cluster", "etcdserver: unhealthy cluster")


class MemberListFailed(Exception):
    """``ErrMemberListFailed``: ``/db/info`` did not give the member list."""


def initial_cluster(joiner: Joiner, process: etcd.Process, tls: str) -> str:
    """``--initial-cluster`` for this joining server, after adding it as a learner if needed;
    retried like K3s while the cluster cannot take a member yet."""
    while True:
        try:
            return _join(joiner, process, tls)
        except MemberListFailed as error:
            _waiting(f"Waiting to retrieve etcd cluster member list: {error}")
        except etcd.EtcdError as error:
            if str(error) not in TRANSIENT:  # K3s: logrus.Fatalf, then systemd restarts it
                raise ConfigRefused(f"etcd cluster join failed: {error}") from None
            _waiting(f"Waiting for other members to finish joining etcd cluster: {error}")
        time.sleep(RETRY_SECONDS)


def _waiting(message: str) -> None:
    print(f"sloth twin: {message}", file=sys.stderr, flush=True)
    record(f"WAIT {message}")


def _join(joiner: Joiner, process: etcd.Process, tls: str) -> str:
    urls, members = _client_urls(joiner, process.address)
    add = True
    cluster = []
    for member in members:
        for peer in member.get("peerURLs") or []:
            ours = urllib.parse.urlsplit(peer).hostname == process.address
            if ours and not member.get("name"):
                member["name"] = process.name  # added before, not started yet: this node
            if ours and member.get("name") == process.name:
                add = False
            cluster.append(f"{member.get('name', '')}={member['peerURLs'][0]}")
    if add:
        client = etcd.Client(urls, tls)
        client.add_learner(process.peer_url, timeout=JOIN_TIMEOUT)
        cluster.append(f"{process.name}={process.peer_url}")
    return ",".join(cluster)


def _client_urls(joiner: Joiner, own_address: str) -> tuple[list[str], list[dict[str, Any]]]:
    try:
        members: list[dict[str, Any]] = json.loads(joiner.get("/db/info")).get("members") or []
    except (JoinRefused, ValueError, AttributeError) as error:
        raise MemberListFailed(str(error)) from None
    joined = urllib.parse.urlsplit(joiner.url).hostname
    urls: list[str] = []
    for member in members:
        hosts = {urllib.parse.urlsplit(u).hostname for u in member.get("clientURLs") or []}
        if member.get("isLearner") or own_address in hosts:
            continue
        found = list(member.get("clientURLs") or [])
        urls = found + urls if joined in hosts else urls + found
    return urls, members
