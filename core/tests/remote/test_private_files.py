"""``put_private``: a secret file on a real node is 0600 from the moment it exists — as root and
through sudo — its content never in an argv or an SFTP upload, and a re-run changes nothing."""

from __future__ import annotations

import secrets
import shutil

import pytest
from conftest import add_sudo_user, record_for
from pyinfra.operations import files
from sloth_kubernetes.remote.private_files import put_private
from sloth_kubernetes.testing import sweep

pytestmark = pytest.mark.hosts

TARGET = "/etc/sloth-private/config.yaml"


@pytest.mark.skipif(shutil.which("sudo") is None, reason="sudo is not installed (make debs)")
def test_a_secret_file_is_never_readable_by_others_and_never_in_argv(local_hosts, open_session):
    (host,) = local_hosts(1)
    add_sudo_user(host, local_hosts.public_key)
    for user in ("root", "deploy"):
        token = f"token-{user}-" + secrets.token_hex(24)
        content = f"token: {token}\nno-newline-at-the-end: true"  # written byte for byte
        session = open_session([record_for(host, ssh_user=user)], local_hosts.private_key)
        assert session.connect() == {}
        changed: list[bool] = []

        def deploy(_node, content=content, changed=changed):
            files.directory(name="directory", path=TARGET.rsplit("/", 1)[0], present=True)
            changed.append(put_private("secret file", content, TARGET) is not None)

        with sweep.SftpUploads() as uploads, sweep.RemoteCommands() as sent:
            result = session.apply("private file", deploy)
            assert result.ok, result.failed
            again = session.apply("private file", deploy)
            assert again.ok, again.failed
        assert changed == [True, False], user  # the re-run found the file as wanted
        assert host.run(f"cat {TARGET}").stdout == content
        assert host.run(f"stat -c '%a %U %G' {TARGET}").stdout.split() == ["600", "root", "root"]
        leaks = sweep.exposures(
            {"token": token},
            [
                *sent.artefacts(),
                *(sweep.Artefact(u.path, u.content) for u in uploads.uploads),
            ],
        )
        assert leaks == {}, (user, leaks)
        assert host.run("grep -rl token- /tmp /var/tmp || true").stdout == ""  # no temp copy
        assert any("base64 -d" in c for c in sent.commands)  # it did go through the node's shell
        assert host.run(f"ls -a {TARGET.rsplit('/', 1)[0]}").stdout.split() == [
            ".", "..", "config.yaml",
        ]  # no temporary file left  # fmt: skip
        session.close()


def test_a_mode_giving_others_access_is_refused():
    with pytest.raises(ValueError, match="gives others access"):
        put_private("x", "y", "/etc/x", mode=0o644)
