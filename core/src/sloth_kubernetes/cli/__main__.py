"""``python -m sloth_kubernetes.cli``."""

from __future__ import annotations

from .main import main

main()
