"""What the twin records for tests in ``/var/lib/sloth-twin`` (never the token: a hash prefix).

``invocations.log``: ``<time> CALL <args>``, ``<time> START <role> name=… token_sha=…
cluster_init=… server=… config_mode=…``, ``<time> FAILED <why>``, ``<time> WAIT <what>`` (a
joining server waiting, as K3s does, for the etcd cluster to take a member: one line a try).
``joins.log`` (on the server that was asked): ``<time> JOIN <node> <role> members_before=<n>
port=<p>``, ``DENIED``, ``CONCURRENT``, ``WRONGPORT``.
"""

from __future__ import annotations

import os
import time

RECORDS = "/var/lib/sloth-twin"


def record(line: str, log: str = "invocations.log") -> None:
    os.makedirs(RECORDS, exist_ok=True)
    with open(f"{RECORDS}/{log}", "a", encoding="utf-8") as handle:
        handle.write(f"{time.time():.6f} {line}\n")
