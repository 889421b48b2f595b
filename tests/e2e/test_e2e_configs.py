"""The real-cloud e2e configs are valid for every cloud and distribution (runs in `make test`:
a broken config is found here, not after a manually started cloud run)."""

from __future__ import annotations

import e2e_clouds as clouds
import pytest


@pytest.mark.parametrize("cloud", sorted(clouds.CLOUDS))
@pytest.mark.parametrize("distro", clouds.DISTROS)
def test_every_e2e_config_validates(cloud, distro, tmp_path, monkeypatch):
    from sloth_kubernetes import api

    for variable in clouds.CLOUDS[cloud][0]:
        monkeypatch.setenv(
            variable, str(tmp_path / "key.json") if "CREDENTIALS" in variable else "x"
        )
    (tmp_path / "key.json").write_text("{}")
    name = clouds.cluster_name(cloud, distro)
    path = tmp_path / "c.yaml"
    path.write_text(clouds.config_text(cloud, distro, name))
    config = api.load([path])
    assert config.name == name
    assert config.spec.kubernetes.distribution == distro
    assert {pool.provider for pool in config.spec.node_pools} == {cloud}
    assert len(name) <= 40
