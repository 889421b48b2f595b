"""Opening a store: accepted URL forms, defaults, file permissions, unreachable servers."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state import open_store
from sloth_kubernetes.state.location import mask_url


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_url_creates_private_directory_and_file(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "state.db"
    with open_store(f"sqlite://{db}") as store:
        assert store.backend == "sqlite"
        assert store.describe() == f"sqlite://{db}"
        store.put_secret("demo", "token", "value-1")
    assert _mode(db.parent) == 0o700
    assert _mode(db) == 0o600
    assert _mode(db.parent / "state.key") == 0o600


def test_plain_path_is_sqlite_and_relative_paths_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("relative.db") as store:
        assert store.describe() == f"sqlite://{tmp_path / 'relative.db'}"
    assert (tmp_path / "relative.db").exists()


def test_env_state_is_used_when_no_url_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTH_STATE", str(tmp_path / "from-env.db"))
    with open_store() as store:
        assert store.describe().endswith("from-env.db")


def test_default_location_is_in_the_user_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLOTH_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with open_store() as store:
        assert store.describe() == f"sqlite://{tmp_path / 'data' / 'sloth-kubernetes' / 'state.db'}"


def test_sloth_data_dir_moves_the_default_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTH_DATA_DIR", str(tmp_path / "sloth-data"))
    with open_store() as store:
        assert store.describe() == f"sqlite://{tmp_path / 'sloth-data' / 'state.db'}"


def test_sqlalchemy_style_four_slashes_work_too(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'four.db'}") as store:
        assert store.describe() == f"sqlite://{tmp_path / 'four.db'}"


@pytest.mark.parametrize(
    "url", ["mysql://u:p@h/db", "s3://bucket/state", "", "sqlite://relative/state.db"]
)
def test_unsupported_locations_are_refused_with_the_accepted_forms(url: str) -> None:
    with pytest.raises(StateError) as caught:
        open_store(url)
    assert caught.value.hint
    assert "p@" not in str(caught.value)
    if url != "sqlite://relative/state.db":
        assert "postgresql://" in caught.value.hint
        assert "sqlite:///" in caught.value.hint


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is no sqlite file at all" * 100)
    with pytest.raises(StateError, match="not a sloth-kubernetes state database"):
        open_store(str(junk))


def test_unreachable_postgresql_names_host_and_database_but_not_password() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://alice:hunter2secret@127.0.0.1:{port}/teamstate"
    with pytest.raises(StateError) as caught:
        open_store(url)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "teamstate" in message
    assert "hunter2secret" not in message
    assert "hunter2secret" not in (caught.value.hint or "")
    assert caught.value.hint


def test_describe_masks_the_postgresql_password(postgres_database_url: str) -> None:
    with open_store(postgres_database_url) as store:
        described = store.describe()
    password = postgres_database_url.split(":")[2].split("@", maxsplit=1)[0]
    assert password not in described
    assert described == mask_url(postgres_database_url)
    assert ":***@127.0.0.1" in described


def test_postgres_scheme_alias_is_accepted(postgres_database_url: str) -> None:
    alias = "postgres://" + postgres_database_url.split("://", 1)[1]
    with open_store(alias) as store:
        assert store.backend == "postgresql"


def test_existing_store_is_reopened_with_its_data(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'state.db'}"
    with open_store(url) as store:
        store.audit_append(command="up", cluster="demo", outcome="ok")
    with open_store(url) as store:
        assert [e.command for e in store.audit_entries()] == ["up"]
    assert os.listdir(tmp_path) == ["state.db"]
