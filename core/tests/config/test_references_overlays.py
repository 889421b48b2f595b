"""Secret references and overlays."""

from __future__ import annotations

import attrs
import pytest
from sloth_kubernetes import api
from sloth_kubernetes.config import Reference, load_config
from sloth_kubernetes.errors import ConfigError
from sloth_kubernetes.hookspecs import hookimpl
from sloth_kubernetes.registry import Component, ConfigBlock


@attrs.frozen
class VaultishSettings:
    token: Reference
    region: str = "eu"


class Vaultish:
    @hookimpl
    def register_providers(self, register):
        register(Component("provider", "vaultish", "a provider with a credential"))

    @hookimpl
    def register_config_models(self, register):
        register(ConfigBlock("providers", "vaultish", VaultishSettings))


@pytest.fixture
def vaultish(register_plugin, dummy_provider):
    register_plugin(Vaultish(), "vaultish")


def with_token(config_factory, token, region="eu"):
    return config_factory(
        {"spec": {"providers": {"dummy": {}, "vaultish": {"token": token, "region": region}}}}
    )


def test_env_reference_resolves_only_when_used_and_is_masked(
    config_factory, sloth_manager, vaultish, monkeypatch
):
    monkeypatch.setenv("VAULTISH_TOKEN", "s3cr3t-value-123")
    config = load_config(
        [with_token(config_factory, "${env:VAULTISH_TOKEN}")], sloth_manager.hooks.catalog()
    )
    reference = config.spec.providers["vaultish"].settings.token
    assert str(reference) == "${env:VAULTISH_TOKEN}"
    secret = reference.resolve()
    assert secret.reveal() == "s3cr3t-value-123"
    assert "s3cr3t" not in repr(secret) + str(secret)
    shown = str(api.show(config))
    assert "${env:VAULTISH_TOKEN}" in shown
    assert "s3cr3t" not in shown


def test_file_reference_is_relative_to_the_config(
    config_factory, sloth_manager, vaultish, tmp_path, monkeypatch
):
    (tmp_path / "token.txt").write_text("from-a-file\n")
    monkeypatch.chdir("/")
    config = load_config(
        [with_token(config_factory, "${file:token.txt}")], sloth_manager.hooks.catalog()
    )
    reference = config.spec.providers["vaultish"].settings.token
    assert reference.resolve().reveal() == "from-a-file"


def test_an_unreadable_reference_points_at_where_it_was_written(
    config_factory, sloth_manager, vaultish
):
    path = with_token(config_factory, "${file:missing.txt}")
    config = load_config([path], sloth_manager.hooks.catalog())
    with pytest.raises(ConfigError) as caught:
        config.spec.providers["vaultish"].settings.token.resolve()
    (issue,) = caught.value.issues
    assert issue.file == str(path)
    assert issue.line > 0
    assert issue.path == "spec.providers.vaultish.token"
    assert issue.message == f"the secret file {path.parent / 'missing.txt'} does not exist"
    assert "write the secret into" in issue.hint


def test_missing_variable_is_reported_when_used(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE is not set"):
        Reference("env", "NOT_SET_ANYWHERE").resolve()


def test_a_literal_secret_is_refused(config_factory, sloth_manager, vaultish):
    with pytest.raises(ConfigError) as caught:
        load_config([with_token(config_factory, "plain-text-token")], sloth_manager.hooks.catalog())
    (issue,) = caught.value.issues
    assert issue.path == "spec.providers.vaultish.token"
    assert "${env:" in issue.hint


def test_a_reference_where_no_secret_belongs_is_refused(config_factory, sloth_manager, vaultish):
    path = with_token(config_factory, "${env:X}", region="${env:REGION}")
    with pytest.raises(ConfigError) as caught:
        load_config([path], sloth_manager.hooks.catalog())
    (issue,) = caught.value.issues
    assert issue.path == "spec.providers.vaultish.region"


def test_overlays_later_files_win_and_named_lists_merge(
    config_factory, sloth_manager, dummy_provider
):
    base = config_factory()
    overlay = config_factory(
        text="""\
metadata:
  name: prod
spec:
  nodePools:
    - name: agents
      count: 5
    - name: extra
      provider: dummy
      count: 1
"""
    )
    config = load_config([base, overlay], sloth_manager.hooks.catalog())
    assert config.name == "prod"
    pools = {p.name: p for p in config.spec.node_pools}
    assert pools["agents"].count == 5
    assert pools["agents"].provider == "dummy"  # kept from the base
    assert pools["servers"].count == 1
    assert list(pools) == ["servers", "agents", "extra"]


def test_overlay_errors_point_into_the_overlay_file(config_factory, sloth_manager, dummy_provider):
    base = config_factory()
    overlay = config_factory(
        text="spec:\n  nodePools:\n    - name: agents\n      count: -1\n", name="prod.yaml"
    )
    with pytest.raises(ConfigError) as caught:
        load_config([base, overlay], sloth_manager.hooks.catalog())
    (issue,) = caught.value.issues
    assert issue.file == str(overlay)
    assert (issue.line, issue.path) == (4, "spec.nodePools[1].count")
