"""``spec.providers.local``: the ``image`` key is strict and its errors are located."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DOCUMENT = """\
apiVersion: sloth-kubernetes.io/v1beta1
kind: Cluster
metadata:
  name: demo
spec:
  providers:
    local:
      mode: {mode}
      image: {image}
  nodePools:
    - {{name: server, provider: local, count: 1, roles: [server]}}
"""


def _validate(sloth_cli: Any, tmp_path: Path, mode: str, image: str) -> Any:
    path = tmp_path / "cluster.yaml"
    path.write_text(DOCUMENT.format(mode=mode, image=image))
    return sloth_cli("config", "validate", "-f", str(path)), path


@pytest.mark.parametrize("image", ["debian-12-genericcloud", "debian-12-preloaded"])
def test_systemd_nodes_take_either_image(sloth_cli: Any, tmp_path: Path, image: str) -> None:
    result, _ = _validate(sloth_cli, tmp_path, "systemd", image)
    assert result.exit_code == 0, result.stdout + result.stderr


def test_an_unknown_image_is_refused_at_its_line(sloth_cli: Any, tmp_path: Path) -> None:
    result, path = _validate(sloth_cli, tmp_path, "systemd", "ubuntu-22.04")
    assert result.exit_code == 1
    assert f"{path}:9:14: spec.providers.local.image: 'ubuntu-22.04' is not a local host image" in (
        result.stderr
    )
    assert "use one of: debian-12-genericcloud, debian-12-preloaded" in result.stderr


def test_an_image_with_fast_mode_is_refused_naming_the_fix(sloth_cli: Any, tmp_path: Path) -> None:
    result, path = _validate(sloth_cli, tmp_path, "fast", "debian-12-genericcloud")
    assert result.exit_code == 1
    assert (
        f"{path}:9:14: spec.providers.local.image: image debian-12-genericcloud needs mode: "
        in (result.stderr)
    )
    assert "set mode: systemd, or remove image" in result.stderr


def test_the_image_of_systemd_nodes_defaults_to_the_stock_one() -> None:
    from sloth_provider_local.plugin import LocalSettings

    assert LocalSettings(mode="systemd").systemd_image == "debian-12-genericcloud"
    assert LocalSettings(mode="systemd", image="debian-12-preloaded").systemd_image == (
        "debian-12-preloaded"
    )
    assert LocalSettings().systemd_image is None  # fast mode: the machine's own system
