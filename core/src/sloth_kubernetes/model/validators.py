"""attrs validators with messages written for the person editing the YAML file.

They raise :class:`InvalidValue`; the config loader turns it into a located ``ConfigIssue``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import attrs

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class InvalidValue(ValueError):
    """A value has the right type but is not acceptable; ``hint`` says what would be."""

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.field = field  # the attribute that failed, when raised from an attrs validator


Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def dns_label(max_length: int = 63) -> Validator:
    """A lowercase RFC 1123 label: it ends up in host names, cloud tags and Kubernetes names."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not _DNS_LABEL.match(value) or len(value) > max_length:
            raise InvalidValue(
                f"{value!r} is not a valid name",
                hint=f"use lowercase letters, digits and '-', at most {max_length} characters, "
                "starting and ending with a letter or digit",
                field=attribute.name,
            )

    return check


def in_range(low: float, high: float) -> Validator:
    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not low <= value <= high:
            raise InvalidValue(
                f"{value} is out of range",
                hint=f"use a value from {low:g} to {high:g}",
                field=attribute.name,
            )

    return check


def ipv4_network(*, private: bool = False) -> Validator:
    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as error:
            raise InvalidValue(
                f"{value!r} is not an IPv4 network ({error})",
                hint="write it in CIDR form with the host bits zero, e.g. 10.100.0.0/16",
                field=attribute.name,
            ) from None
        if private and not network.is_private:
            raise InvalidValue(
                f"{value} is not a private network",
                hint="use a range from 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
                field=attribute.name,
            )

    return check


def cidr_list(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise InvalidValue(
                f"{item!r} is not an IP network",
                hint="write addresses in CIDR form, e.g. 203.0.113.0/24 or 0.0.0.0/0",
                field=attribute.name,
            ) from None


def unique_non_empty(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not value:
        raise InvalidValue("must not be empty", field=attribute.name)
    if len(set(value)) != len(value):
        raise InvalidValue("values are repeated", hint="list each value once", field=attribute.name)
