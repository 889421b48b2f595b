"""sloth-kubernetes: one declarative spec to a running multi-cloud Kubernetes cluster."""

from __future__ import annotations

__version__ = "0.1.0"
