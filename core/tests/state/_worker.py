"""A separate process acting on a state store, for the cross-process tests.

Usage: ``_worker.py ACTION URL ARGS…``. It opens the store, prints ``ready``, waits for a line on
stdin (so the test can release several workers at the same moment), acts, and prints one JSON
result line. ``fresh-ACTION`` waits before opening instead, to race the first open.
"""

from __future__ import annotations

import json
import os
import sys
import time

from sloth_kubernetes.errors import LockedError
from sloth_kubernetes.state import open_store


def main() -> None:
    action, url, *args = sys.argv[1:]
    fresh = action.startswith("fresh-")  # open only after "go": several first opens at once
    action = action.removeprefix("fresh-")
    if fresh:
        print("ready", flush=True)
        sys.stdin.readline()
    store = open_store(url)
    if not fresh:
        print("ready", flush=True)
        sys.stdin.readline()
    if action == "lock":  # lock CLUSTER HOLD_SECONDS
        cluster, hold = args[0], float(args[1])
        try:
            handle = store.lock(cluster, "up")
        except LockedError as error:
            print(json.dumps({"locked": False, "message": str(error), "hint": error.hint}))
            return
        print(json.dumps({"locked": True, "pid": os.getpid()}), flush=True)
        time.sleep(hold)
        handle.release()
    elif action == "lock-and-vanish":  # lock CLUSTER, then exit without releasing
        store.lock(args[0], "up")
        print(json.dumps({"locked": True, "pid": os.getpid()}), flush=True)
        os._exit(0)
    elif action == "hammer":  # hammer CLUSTER COUNT: audit appends + allocations
        cluster, count = args[0], int(args[1])
        addresses = []
        for index in range(count):
            store.audit_append(
                command="hammer", cluster=cluster, outcome="ok",
                resources={"pid": os.getpid(), "index": index},
            )  # fmt: skip
            owner = f"p{os.getpid()}-{index}"
            addresses.append(store.allocate_address(cluster, "mesh", owner, "10.9.0.0/16"))
        print(json.dumps({"addresses": addresses}))
    store.close()


if __name__ == "__main__":
    main()
