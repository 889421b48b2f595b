from __future__ import annotations

import pytest


@pytest.fixture
def with_ssh_provider(sloth_manager, register_plugin):
    """The plugin manager with the ``ssh`` provider (machines you already have) registered."""
    if not sloth_manager.pm.has_plugin("ssh"):
        from sloth_provider_ssh import plugin

        register_plugin(plugin.PLUGIN, "ssh")
    return sloth_manager
