from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from sloth_kubernetes.cloud import CloudProvider
from sloth_kubernetes.testing.provider_contract import cloud_harness  # noqa: F401
from sloth_provider_aws.plugin import PROVIDER


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


def ec2_driver(emulator: Any) -> Any:
    from libcloud.compute.drivers.ec2 import EC2NodeDriver

    return EC2NodeDriver(
        "AKIDEXAMPLE", "secret", region="eu-west-1", host=emulator.host, port=emulator.port,
        secure=False, signature_version="4",
    )  # fmt: skip


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
