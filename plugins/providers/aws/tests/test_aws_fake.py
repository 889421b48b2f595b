"""libcloud's EC2 driver against the moto emulator: the calls a provider plugin makes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from ec2_fake import (
    LIBCLOUD_EC2_NAMESPACE,
    Ec2CompatMiddleware,
    Ec2Emulator,
    aws_fault_body,
    ec2_driver,
)
from sloth_kubernetes.testing.emulators._http import (
    emulator_processes,
    process_group_members,
    sweep_stale_processes,
)

pytestmark = pytest.mark.emulator

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl sloth-test"
)


def small_size(driver: Any) -> Any:
    from libcloud.compute.base import NodeSize

    # driver.list_sizes() works too, but parses libcloud's whole price list (seconds)
    return NodeSize("t3.micro", "t3.micro", 1024, 8, None, None, driver)


def test_node_lifecycle_with_tags(ec2_emulator: Any) -> None:
    from libcloud.compute.base import NodeImage
    from libcloud.compute.types import NodeState

    driver = ec2_driver(ec2_emulator)
    driver.import_key_pair_from_string("sloth-key", PUBLIC_KEY)
    node = driver.create_node(
        name="node-1",
        size=small_size(driver),
        image=NodeImage("ami-12345678", "debian", driver),
        ex_keyname="sloth-key",
        ex_metadata={"sloth/cluster": "demo", "sloth/node": "node-1"},
    )

    listed = {n.id: n for n in driver.list_nodes()}
    assert node.id in listed
    assert listed[node.id].extra["tags"] == {
        "Name": "node-1",
        "sloth/cluster": "demo",
        "sloth/node": "node-1",
    }
    assert listed[node.id].extra["key_name"] == "sloth-key"
    assert driver.reboot_node(listed[node.id]) is True
    assert driver.destroy_node(listed[node.id]) is True
    states = {n.id: n.state for n in driver.list_nodes()}
    assert states.get(node.id, NodeState.TERMINATED) == NodeState.TERMINATED


def test_key_pairs_and_security_groups(ec2_emulator: Any) -> None:
    driver = ec2_driver(ec2_emulator)
    pair = driver.import_key_pair_from_string("sloth-key", PUBLIC_KEY)
    assert [k.name for k in driver.list_key_pairs()] == ["sloth-key"]
    assert pair.fingerprint

    group_id = driver.ex_create_security_group("sloth-nodes", "sloth test nodes")["group_id"]
    assert driver.ex_authorize_security_group_ingress(
        group_id, 51820, 51820, ["10.0.0.0/8"], None, "udp"
    )
    (group,) = driver.ex_get_security_groups(group_ids=[group_id])
    assert group.ingress_rules == [
        {
            "protocol": "udp",
            "from_port": "51820",
            "to_port": "51820",
            "group_pairs": [],
            "cidr_ips": ["10.0.0.0/8"],
        }
    ]
    # moto answers DeleteSecurityGroup without <return>; the wrapper adds AWS's "true".
    assert driver.ex_delete_security_group_by_id(group_id) is True
    assert not driver.ex_get_security_groups(filters={"group-name": "sloth-nodes"})


def test_errors_carry_the_aws_error_code(ec2_emulator: Any) -> None:
    from libcloud.common.exceptions import BaseHTTPError

    driver = ec2_driver(ec2_emulator)
    with pytest.raises(BaseHTTPError, match=r"InvalidAMIID\.NotFound"):
        driver.get_image("ami-00000000")


def test_reset_forgets_everything_and_counts_requests(ec2_emulator: Any) -> None:
    driver = ec2_driver(ec2_emulator)
    driver.import_key_pair_from_string("sloth-key", PUBLIC_KEY)
    assert ec2_emulator.requests.count(action="ImportKeyPair") == 1
    ec2_emulator.reset()
    assert driver.list_key_pairs() == []
    assert ec2_emulator.requests.total == 1  # only the DescribeKeyPairs after the reset


def test_known_difference_moto_accepts_unknown_images(ec2_emulator: Any) -> None:
    """Documented in docs/testing-clouds.md: real AWS refuses an AMI that does not exist."""
    from libcloud.compute.base import NodeImage

    driver = ec2_driver(ec2_emulator)
    node = driver.create_node(
        name="n", size=small_size(driver), image=NodeImage("ami-0123456789abcdef0", "x", driver)
    )
    assert node.id


def test_rewrite_makes_moto_replies_parse_like_aws() -> None:
    ok = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<RebootInstancesResponse '
        b'xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><requestId>r</requestId>'
        b"</RebootInstancesResponse>"
    )
    rewritten = Ec2CompatMiddleware.rewrite(ok, 200)
    assert f'xmlns="{LIBCLOUD_EC2_NAMESPACE}"'.encode() in rewritten
    assert b"<return>true</return>" in rewritten
    error = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<Response xmlns="http://ec2.amazonaws.com/doc/'
        b'2016-11-15"><Errors><Error><Code>X</Code><Message>m</Message></Error></Errors></Response>'
    )
    assert b"<Response><Errors>" in Ec2CompatMiddleware.rewrite(error, 400)


def test_libcloud_does_not_retry_a_throttled_ec2_call(ec2_emulator: Any, faulty_proxy: Any) -> None:
    """Why the project needs its own retry layer (TESTING.md): one 503, one failed call."""
    from libcloud.common.exceptions import BaseHTTPError
    from libcloud.compute.drivers.ec2 import EC2NodeDriver

    proxy = faulty_proxy(ec2_emulator, fault_rate=1.0, statuses=(503,), fault_body=aws_fault_body)
    driver = EC2NodeDriver(
        "AKIDSLOTHTEST",
        "not-a-secret",
        region="eu-west-1",
        host=proxy.host,
        port=proxy.port,
        secure=False,
        signature_version="4",
    )
    with pytest.raises(BaseHTTPError, match="RequestLimitExceeded"):
        driver.list_nodes()
    assert proxy.counters.requests == 1
    assert ec2_emulator.requests.total == 0  # the fault never reached moto


def test_stop_leaves_no_process_behind() -> None:
    ec2 = Ec2Emulator()
    group = ec2.process.pid
    assert process_group_members(group)
    ec2.stop()
    assert process_group_members(group) == []
    assert group not in emulator_processes()


def test_running_emulators_of_this_process_are_not_swept(ec2_emulator: Any) -> None:
    sweep_stale_processes()
    time.sleep(0.1)
    assert ec2_emulator.requests.total == 0
