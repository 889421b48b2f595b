"""Generic harnesses for local stand-ins of cloud APIs (docs/testing-clouds.md).

No cloud is named here: each provider plugin keeps its fake beside its tests
(``plugins/providers/<cloud>/tests/``) and builds it from these pieces:

* :class:`~.described.DescribedApp` / :class:`~.described.DescribedEmulator` — a stateful fake
  checked against a derived subset of the cloud's published API description;
* :class:`~.prism.PrismEmulator` — Prism validating a stateful fake against the cloud's OpenAPI
  spec;
* :mod:`.state` — ids, address pools, pagination and timestamps the fakes share;
* :class:`~.faults.FaultyProxy` — 429/503/latency injection in front of any of them;
* :class:`~.replay.ReplayServer` — recorded exchanges (errors a fake cannot produce).

The pytest fixtures live in :mod:`.fixtures` (imported by the core's pytest plugin). Nothing here
is imported by the CLI.
"""

from __future__ import annotations

from sloth_kubernetes.testing.emulators._http import EmulatorError, RecordedRequest, RequestLog
from sloth_kubernetes.testing.emulators.faults import FaultBody, FaultPolicy, FaultyProxy
from sloth_kubernetes.testing.emulators.prism import PrismEmulator, PrismSpec, PrismUnavailable
from sloth_kubernetes.testing.emulators.replay import ReplayServer

__all__ = [
    "EmulatorError",
    "FaultBody",
    "FaultPolicy",
    "FaultyProxy",
    "PrismEmulator",
    "PrismSpec",
    "PrismUnavailable",
    "RecordedRequest",
    "ReplayServer",
    "RequestLog",
]
