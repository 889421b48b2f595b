from __future__ import annotations

import base64
import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ec2_fake import Ec2Emulator, ec2_driver
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.emulators.fixtures import emulator_unavailable, sweep_once
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_aws.plugin import PROVIDER


@pytest.fixture(scope="session")
def _ec2_server() -> Iterator[Ec2Emulator]:
    if importlib.util.find_spec("moto") is None:
        emulator_unavailable("EC2", "moto is not installed; run `pip install 'moto[server]'`")
    sweep_once()
    emulator = Ec2Emulator()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def ec2_emulator(_ec2_server: Ec2Emulator) -> Ec2Emulator:
    """moto's EC2, emptied for this test. libcloud: ``EC2NodeDriver(key, secret, region=...,
    host=e.host, port=e.port, secure=False, signature_version="4")``."""
    _ec2_server.reset()
    return _ec2_server


@pytest.fixture
def cloud() -> CloudProvider:
    return PROVIDER


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


@pytest.fixture
def provider_block(ec2_emulator: Any, aws_credentials: None) -> dict[str, Any]:
    return {
        "endpoint": ec2_emulator.endpoint,
        "region": "eu-west-1",
        "pollInterval": 0.05,
        "createTimeout": 10,
    }


@pytest.fixture
def sent_user_data(ec2_emulator: Any) -> Callable[[str], str | None]:
    driver = ec2_driver(ec2_emulator)

    def read(name: str) -> str | None:
        (node,) = driver.list_nodes(ex_filters={"tag:sloth-node": name})
        reply = driver.connection.request(
            driver.path,
            params={"Action": "DescribeInstanceAttribute", "InstanceId": node.id,
                    "Attribute": "userData"},
        ).object  # fmt: skip
        value = reply.findtext(".//{*}userData/{*}value")
        return base64.b64decode(value).decode() if value else None

    return read
