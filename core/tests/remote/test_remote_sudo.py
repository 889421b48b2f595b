"""A node reached as a non-root user: every operation runs through sudo."""

from __future__ import annotations

import shutil

import pytest
from conftest import add_sudo_user, record_for
from pyinfra.operations import files

pytestmark = pytest.mark.hosts


@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed (make debs)")
def test_a_non_root_user_gets_sudo_for_operations_and_shell(local_hosts, open_session):
    (host,) = local_hosts(1)
    add_sudo_user(host, local_hosts.public_key)
    session = open_session([record_for(host, ssh_user="deploy")], local_hosts.private_key)
    assert session.connect() == {}
    whoami = session.shell("id -un")[host.name]
    assert (whoami.exit_status, whoami.stdout.strip()) == (0, "root")
    as_user = session.shell("id -un", sudo=False)[host.name]
    assert as_user.stdout.strip() == "deploy"

    def deploy(_node):
        files.line(name="root-owned file", path="/etc/sloth-sudo-test", line="written via sudo")

    result = session.apply("sudo", deploy)
    assert result.ok, result.failed
    assert result.changed_nodes == [host.name]
    assert host.run("stat -c %U /etc/sloth-sudo-test").stdout.strip() == "root"
