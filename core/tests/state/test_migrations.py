"""Schema migrations: applied on open, atomic, and a newer schema is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sloth_kubernetes.errors import StateError
from sloth_kubernetes.state import StateStore
from sloth_kubernetes.state.migrations import (
    MIGRATIONS,
    Migration,
    apply_migrations,
    latest_version,
)


def test_a_fresh_store_is_at_the_latest_schema(store: StateStore) -> None:
    assert store.schema_version == latest_version()
    with store.read() as tx:
        assert tx.get_meta("schema_version") == str(latest_version())
        for table in ("clusters", "nodes", "allocations", "secrets", "journal", "operations",
                      "manifests", "audit", "locks"):  # fmt: skip
            assert tx.scalar(f"SELECT COUNT(*) FROM {table}") == 0


def test_a_new_migration_is_applied_on_the_next_open(store: StateStore) -> None:
    v2 = Migration(
        latest_version() + 1,
        "add a column",
        ("ALTER TABLE clusters ADD COLUMN note TEXT",),
        ("ALTER TABLE clusters ADD COLUMN note TEXT",),
    )
    assert apply_migrations(store._db, (*MIGRATIONS, v2)) == v2.version
    with store.read() as tx:
        assert tx.get_meta("schema_version") == str(v2.version)
        assert tx.query("SELECT note FROM clusters") == []


def test_a_failing_migration_leaves_the_schema_untouched(store: StateStore) -> None:
    broken = Migration(
        latest_version() + 1,
        "half-broken",
        ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"),
        ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"),
    )
    with pytest.raises(StateError):
        apply_migrations(store._db, (*MIGRATIONS, broken))
    with store.read() as tx:
        assert tx.get_meta("schema_version") == str(latest_version())
    # the table of the first statement was rolled back with the rest
    fixed = Migration(broken.version, "fixed", ("CREATE TABLE extra (x INTEGER)",),
                      ("CREATE TABLE extra (x INTEGER)",))  # fmt: skip
    assert apply_migrations(store._db, (*MIGRATIONS, fixed)) == broken.version


def test_a_newer_schema_is_refused_with_an_upgrade_hint(
    store: StateStore, open_state: Callable[..., StateStore]
) -> None:
    newer = latest_version() + 5
    with store.write() as tx:
        tx.set_meta("schema_version", str(newer))
    with pytest.raises(StateError) as caught:
        open_state()
    assert (
        f"state schema v{newer} is newer than this sloth-kubernetes (knows up to "
        f"v{latest_version()})" in str(caught.value)
    )
    assert "upgrade" in (caught.value.hint or "")
