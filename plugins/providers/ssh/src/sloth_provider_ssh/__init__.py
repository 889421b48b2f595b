"""sloth-provider-ssh: machines you already have, reached over SSH with pinned host keys."""

from __future__ import annotations

from .settings import Bastion, Inventory, SshHost, SshPoolOptions, SshSettings

__all__ = ["Bastion", "Inventory", "SshHost", "SshPoolOptions", "SshSettings"]
