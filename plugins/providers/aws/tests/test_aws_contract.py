"""The provider contract against moto's EC2 (stateful, full lifecycle)."""

from __future__ import annotations

from typing import Any, ClassVar

from ec2_fake import aws_fault_body
from sloth_kubernetes.testing.provider_contract import ProviderContract


class TestAwsContract(ProviderContract):
    pool: ClassVar[dict[str, Any]] = {"image": "ami-785db401"}  # an AMI moto knows
    portable_size: ClassVar[dict[str, Any] | None] = {"cpu": 2, "memoryGiB": 4}
    expected_size = "t3a.medium"
    fault_body = aws_fault_body  # EC2 answers errors in XML
