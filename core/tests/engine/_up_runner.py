"""Runs the real CLI with the fake dummy provider (file-backed "cloud") and the fake mesh/distro.

Usage: python _up_runner.py CLOUD_FILE DELAY_SECONDS -- CLI ARGS…  (used by the kill tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

from sloth_kubernetes.cli.main import run
from sloth_kubernetes.plugins import create_plugin_manager
from sloth_kubernetes.testing.dummy import DummyCluster, DummyProvider

if __name__ == "__main__":
    cloud, delay, separator, *args = sys.argv[1:]
    assert separator == "--"
    manager = create_plugin_manager()
    manager.register(DummyProvider(Path(cloud), float(delay)), "dummy")
    manager.register(DummyCluster(), "dummy-cluster")
    sys.exit(run(args, manager=manager))
