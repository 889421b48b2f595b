"""pytest fixtures: a real, throwaway PostgreSQL server for tests of the state store.

``postgres_url`` (session) is ``$SLOTH_TEST_POSTGRES_URL`` when set (its role needs CREATEDB for
``postgres_database_url``); otherwise a private server is created in a temp dir from the Debian
``postgresql`` binaries (as the ``postgres`` user when we are root: initdb refuses root), listening
on 127.0.0.1 on a free port, with a generated password, and deleted at session end. Without the
binaries every test that uses it is skipped with the reason below. Directories left by a crashed
session (``sloth-pg-*`` whose owning process is gone) are stopped and removed at the next start.
``postgres_database_url`` gives each test its own empty database.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import attrs
import pytest

ENV_URL = "SLOTH_TEST_POSTGRES_URL"
SKIP_REASON = "PostgreSQL server not installed (make test installs it: apt-get install postgresql)"
DIR_PREFIX = "sloth-pg-"
DATABASE_PREFIX = "sloth_t_"
_OWNER_FILE = "owner.pid"


def server_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl, or None."""
    candidates = []
    for bin_dir in Path("/usr/lib/postgresql").glob("*/bin"):
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            version = re.sub(r"\D", "", bin_dir.parent.name) or "0"
            candidates.append((int(version), bin_dir))
    return max(candidates)[1] if candidates else None


def server_binary(name: str) -> Path | None:
    """A client/server program (``pg_dump``, ``psql``…) matching the server's version."""
    bin_dir = server_bin_dir()
    if bin_dir is not None and (bin_dir / name).exists():
        return bin_dir / name
    found = shutil.which(name)
    return Path(found) if found else None


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], *, stdin: str | None = None, timeout: float = 60) -> None:
    result = subprocess.run(
        _as_server_user(argv), input=stdin, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@attrs.frozen
class PostgresServer:
    """A running throwaway server; ``url`` connects as its test role to its test database."""

    bin_dir: Path
    base: Path
    port: int
    url: str
    options: str = ""  # the server's command-line options (pg_ctl -o), kept for resume()

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def pause(self) -> None:
        """Stop the server at once (as a crash would), keeping its files: see resume()."""
        _run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
              "stop"])  # fmt: skip

    def resume(self) -> None:
        """Start the paused server again on the same port."""
        _run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l",
             str(self.base / "server.log"), "-w", "-t", "60", "-o", self.options, "start"]
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (immediately: nothing in it is worth keeping) and delete its files."""
        _stop_and_remove(self.bin_dir, self.base)


def _stop_and_remove(bin_dir: Path, base: Path) -> None:
    if (base / "data" / "postmaster.pid").exists():
        subprocess.run(
            _as_server_user(
                [str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w",
                 "stop"]
            ),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
    shutil.rmtree(base, ignore_errors=True)


def sweep_stale(bin_dir: Path) -> None:
    """Remove servers left by crashed sessions (their owner process is gone)."""
    for base in Path(tempfile.gettempdir()).glob(DIR_PREFIX + "*"):
        try:
            owner = int((base / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            owner = 0
        if owner and _pid_alive(owner):
            continue
        _stop_and_remove(bin_dir, base)


def start_server(bin_dir: Path) -> PostgresServer:
    """initdb + start on 127.0.0.1:<free port>, then create a role (CREATEDB) and a database."""
    sweep_stale(bin_dir)
    base = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
    try:
        (base / _OWNER_FILE).write_text(str(os.getpid()))
        (base / "sock").mkdir()
        if os.geteuid() == 0:
            for path in (base, base / "sock"):
                shutil.chown(path, "postgres", "postgres")
        _run(
            [str(bin_dir / "initdb"), "-D", str(base / "data"), "--auth-local=peer",
             "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync"]
        )  # fmt: skip
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base / 'sock'} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "server.log"),
             "-w", "-t", "60", "-o", options, "start"]
        )  # fmt: skip
        password = secrets.token_urlsafe(24)
        role = f"sloth_test_{secrets.token_hex(4)}"
        # The password travels on stdin, never in a process's argument list.
        _run(
            [str(bin_dir / "psql"), "-h", str(base / "sock"), "-p", str(port), "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-q"],
            stdin=f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{password}';\n"
            f"CREATE DATABASE {role} OWNER {role};\n",
        )  # fmt: skip
    except BaseException:
        _stop_and_remove(bin_dir, base)
        raise
    url = f"postgresql://{role}:{password}@127.0.0.1:{port}/{role}"
    return PostgresServer(bin_dir, base, port, url, options)


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database for this test session (see the module docstring)."""
    external = os.environ.get(ENV_URL)
    if external:
        yield external
        return
    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip(SKIP_REASON)
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root needs runuser (util-linux) to start PostgreSQL")
    server = start_server(bin_dir)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """URL of a fresh, empty database, dropped after the test."""
    import psycopg
    from psycopg import sql

    name = f"{DATABASE_PREFIX}{secrets.token_hex(6)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(postgres_url, name)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
