"""The emulator fixtures, until the core's pytest plugin registers them (then delete this)."""

from __future__ import annotations

from sloth_kubernetes.testing.emulators.fixtures import (  # noqa: F401 (pytest finds them here)
    _digitalocean_server,
    _ec2_server,
    _hetzner_server,
    _linode_server,
    digitalocean_emulator,
    ec2_emulator,
    faulty_proxy,
    hetzner_emulator,
    linode_emulator,
    recorded_api,
)
