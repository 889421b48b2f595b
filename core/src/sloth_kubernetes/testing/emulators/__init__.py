"""Local stand-ins for cloud APIs, for provider tests (docs/testing-clouds.md).

* :class:`~.ec2.Ec2Emulator` — moto's EC2 behind a wrapper that makes it parse like AWS;
* :class:`~.prism.PrismEmulator` — Prism validating a stateful fake against the cloud's OpenAPI
  spec (DigitalOcean, Linode, Hetzner; fakes in :mod:`.fakes`);
* :class:`~.faults.FaultyProxy` — 429/503/latency injection in front of any of them;
* :class:`~.replay.ReplayServer` — recorded exchanges for clouds with no local server.

The pytest fixtures live in :mod:`.fixtures` (imported by the core's pytest plugin). Nothing here
is imported by the CLI.
"""

from __future__ import annotations

from sloth_kubernetes.testing.emulators._http import EmulatorError, RecordedRequest, RequestLog
from sloth_kubernetes.testing.emulators.ec2 import Ec2Emulator
from sloth_kubernetes.testing.emulators.faults import FaultPolicy, FaultyProxy
from sloth_kubernetes.testing.emulators.prism import PrismEmulator, PrismUnavailable
from sloth_kubernetes.testing.emulators.replay import ReplayServer

__all__ = [
    "Ec2Emulator",
    "EmulatorError",
    "FaultPolicy",
    "FaultyProxy",
    "PrismEmulator",
    "PrismUnavailable",
    "RecordedRequest",
    "ReplayServer",
    "RequestLog",
]
