"""Small plugins shared by the CLI tests."""

from __future__ import annotations

import attrs
from sloth_kubernetes.config import Reference
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.registry import Component, ConfigBlock


@attrs.frozen
class TokenSettings:
    token: Reference


class TokenProvider:
    @hookimpl
    def register_providers(self, register):
        register(Component("provider", "tokenprovider", "a provider needing a token"))

    @hookimpl
    def register_config_models(self, register):
        register(ConfigBlock("providers", "tokenprovider", TokenSettings))
