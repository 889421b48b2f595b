"""A node reached as a non-root user: every operation runs through sudo."""

from __future__ import annotations

import shutil

import pytest
from conftest import record_for
from pyinfra.operations import files

pytestmark = pytest.mark.hosts


@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed (make debs)")
def test_a_non_root_user_gets_sudo_for_operations_and_shell(local_hosts, open_session):
    (host,) = local_hosts(1)
    # -p "*": no password, but not a locked account (sshd without PAM refuses locked ones)
    public_key = local_hosts.public_key.strip()
    host.run(
        "useradd -m -p '*' -s /bin/sh deploy"
        " && install -d -m 700 -o deploy -g deploy /home/deploy/.ssh"
        f" && echo '{public_key}' > /home/deploy/.ssh/authorized_keys"
        " && chown deploy:deploy /home/deploy/.ssh/authorized_keys"
        " && echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy"
        " && chmod 440 /etc/sudoers.d/deploy"
    )
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
