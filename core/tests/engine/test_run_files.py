"""A run killed with kill -9 leaves its decrypted operator key (``nodes ssh``, the one command
that writes it to a file) and SSH session files behind; the next run sweeps them, and destroy
leaves nothing of the cluster on this machine. Other commands hold the key in memory only."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sloth_kubernetes.engine.operator import operator_key
from sloth_kubernetes.runfiles import run_directory
from sloth_kubernetes.state import open_store
from sloth_kubernetes.testing.plugin import DUMMY_CLUSTER

#: A run that gets as far as a decrypted key and an SSH session directory, then is killed.
KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sloth_kubernetes.engine.operator import operator_key
    from sloth_kubernetes.runfiles import run_directory
    from sloth_kubernetes.state import open_store

    store = open_store(sys.argv[1])
    with operator_key(store, "test", as_file=True) as key:  # as `nodes ssh` does
        session = run_directory(Path(sys.argv[2]), "remote-")
        (session / "known_hosts").write_text("pinned\\n")
        print(key.private_key_path, session, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def killed_run(state_url: str, data_dir: Path) -> tuple[Path, Path]:
    """Run KILLED_RUN; return the key file and session directory it left."""
    remote = data_dir / "clusters" / "test" / "remote"
    done = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, state_url, str(remote)],
        capture_output=True,
        text=True,
        env={**os.environ, "SLOTH_DATA_DIR": str(data_dir)},
        check=False,
        timeout=60,
    )
    assert done.returncode == -9, done.stderr
    key_text, session_text = done.stdout.split()
    key, session = Path(key_text), Path(session_text)
    assert key.is_file(), "the killed run could not remove its key"
    assert "OPENSSH PRIVATE KEY" in key.read_text()
    assert (session / "known_hosts").is_file()
    return key, session


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


def test_the_next_run_sweeps_a_killed_runs_key_and_session(sloth_manager, state_url, tmp_path):
    data_dir = Path(os.environ["SLOTH_DATA_DIR"])
    key, session = killed_run(state_url, data_dir)
    with open_store(state_url) as store, operator_key(store, "test") as current:
        assert current.private_key is not None
        assert "OPENSSH PRIVATE KEY" in current.private_key.reveal()
        assert not current.private_key_path.exists(), "in memory only, unless a file is asked for"
        assert [p.name for p in current.run_dir.iterdir()] == [".owner"]
        assert not key.exists()
        assert not key.parent.exists()
        assert session.exists(), "only a new SSH session sweeps session directories"
        fresh = run_directory(session.parent, "remote-")
        assert not session.exists()
        assert fresh.is_dir()
    assert not current.run_dir.exists(), "a finished run removes its own"


def test_a_live_runs_files_are_never_swept(sloth_manager, state_url):
    live = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN.replace("os.kill(os.getpid(), signal.SIGKILL)",
                                                  "sys.stdin.read()"),
         state_url, os.environ["SLOTH_DATA_DIR"] + "/clusters/test/remote"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert live.stdout is not None
        key_text, session_text = live.stdout.readline().split()
        with open_store(state_url) as store, operator_key(store, "test"):
            run_directory(Path(session_text).parent, "remote-")
            assert Path(key_text).is_file()
            assert Path(session_text, "known_hosts").is_file()
    finally:
        live.communicate("", timeout=60)
    assert not Path(key_text).exists(), "it removes its own when it ends"


def test_destroy_leaves_no_key_session_or_empty_folder(
    sloth_cli, config_factory, dummy_provider, dummy_cluster, state_url
):
    data_dir = Path(os.environ["SLOTH_DATA_DIR"])
    path = config_factory(DUMMY_CLUSTER)
    assert sloth_cli("--state", state_url, "up", "-f", str(path), "--yes").exit_code == 0
    key, session = killed_run(state_url, data_dir)
    other = data_dir / "clusters" / "other" / "remote"
    other.mkdir(parents=True)
    result = sloth_cli("--state", state_url, "destroy", "test", "--yes")
    assert result.exit_code == 0, result.stderr
    assert not key.exists()
    assert not session.exists()
    assert not (data_dir / "clusters" / "test").exists()
    assert other.is_dir(), "another cluster's files stay"
    assert list((data_dir / "run").iterdir()) == []
