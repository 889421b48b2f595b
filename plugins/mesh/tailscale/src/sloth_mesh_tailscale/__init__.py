"""Tailscale mesh plugin for sloth-kubernetes: config model, install/join commands, the hook."""

from __future__ import annotations

from sloth_mesh_tailscale.model import TailscaleMeshSpec

__all__ = ["TailscaleMeshSpec"]
