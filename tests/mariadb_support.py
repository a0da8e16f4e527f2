"""Private MariaDB servers for the head-office tests.

Not a test module. Each server is ``mariadbd --no-defaults`` in the foreground on a free
127.0.0.1 port, with its data directory, socket and log in a temporary folder, so a machine's
own MySQL or MariaDB (port 3306, /etc/mysql) is never used or needed. The server has the
database ``physioez_hq`` and the user ``physioez`` (password ``PASSWORD``), as head office's.

``mariadb-install-db`` runs once per test session into a template data directory (about a
second); every server starts from a copy of it, and with a 32 MB buffer pool, an 8 MB redo log
and no performance schema it accepts connections in well under a second.

Fixtures:

- ``mariadb``: a server of the test's own, which it may ``stop()``, ``kill()`` and
  ``start()`` again (same port and data);
- ``mariadb_module``, ``mariadb_session``: one server shared by a module's tests, or by the
  whole session; do not stop them;
- ``mariadb_shared``: the session's server with ``physioez_hq`` dropped and created afresh
  before the test; it fails the test that leaves the server stopped.

Each stops its server when its scope ends and asserts that no ``mariadbd`` it started is
still running. Without mariadbd, mariadb-install-db or my_print_defaults (Debian's
mariadb-server-core and mariadb-client-core) the tests are skipped, except when ``CI=true``,
where they fail. As root, both run with ``--user=root`` (mariadbd refuses root
otherwise).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.cups_support import free_port
from tests.server_process import ServerProcess, find_program, skip_or_fail

DATABASE = "physioez_hq"
USER = "physioez"
PASSWORD = "physioez-hq-test"
HOST = "127.0.0.1"

# Small and quick: head office's real server has its own tuning; these only make start-up and
# crash recovery fast on a CI machine. Durability stays the default (a commit is on disk).
SHRUNK_FOR_TESTS = ("--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M")
SERVER_OPTIONS = (
    *SHRUNK_FOR_TESTS,
    "--performance-schema=OFF",
    "--skip-innodb-buffer-pool-dump-at-shutdown",
    "--skip-innodb-buffer-pool-load-at-startup",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--skip-name-resolve",
)


def missing_requirement() -> str | None:
    for program, package in (
        ("mariadbd", "mariadb-server-core"),
        ("mariadb-install-db", "mariadb-server-core"),
        ("my_print_defaults", "mariadb-client-core"),  # mariadb-install-db runs it
    ):
        if find_program(program) is None:
            return f"{program} is not installed (apt-get install {package})"
    return None


def user_option() -> list[str]:
    """mariadbd will not run as root unless told to; as anyone else it needs no --user."""
    return [f"--user={getpass.getuser()}"] if os.geteuid() == 0 else []


class MariaDBServer:
    """One private MariaDB; ``start`` again after ``stop``/``kill`` reuses port and data."""

    def __init__(
        self, root: Path, template: Path | None = None, options: tuple[str, ...] = SERVER_OPTIONS
    ) -> None:
        self.root = root
        self.options = options
        self.data_dir = root / "data"
        self.socket = root / "mariadbd.sock"
        self.port = free_port()
        self.server = ServerProcess("mariadbd", root / "mariadbd.log")
        (root / "tmp").mkdir(exist_ok=True)
        if template is not None:
            shutil.copytree(template, self.data_dir)
        else:
            self._install()

    def _install(self) -> None:
        result = subprocess.run(
            [
                find_program("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={self.data_dir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *user_option(),
                *self.options,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"mariadb-install-db failed:\n{result.stdout}{result.stderr}"

    @property
    def pid(self) -> int:
        return self.server.pid

    @property
    def params(self) -> dict[str, object]:
        """Keyword arguments for ``pymysql.connect`` as the ``physioez`` user."""
        return {
            "host": HOST,
            "port": self.port,
            "user": USER,
            "password": PASSWORD,
            "database": DATABASE,
            "charset": "utf8mb4",
        }

    @property
    def url(self) -> str:
        return f"mysql://{USER}:{PASSWORD}@{HOST}:{self.port}/{DATABASE}"

    def connect(self, **overrides) -> pymysql.connections.Connection:
        """A PyMySQL connection as ``physioez`` to ``physioez_hq``: utf8mb4, autocommit off."""
        params = {**self.params, "autocommit": False, "connect_timeout": 5, **overrides}
        return pymysql.connect(**params)

    def connect_root(self) -> pymysql.connections.Connection:
        """The server's root, over its Unix socket (no password: a test server only)."""
        return pymysql.connect(
            unix_socket=str(self.socket), user="root", charset="utf8mb4", autocommit=True
        )

    def _accepts_connections(self) -> bool:
        try:
            self.connect_root().close()
        except pymysql.err.OperationalError:
            return False
        return True

    def start(self) -> None:
        self.server.launch(
            [
                find_program("mariadbd"),
                "--no-defaults",
                f"--datadir={self.data_dir}",
                f"--socket={self.socket}",
                f"--pid-file={self.root / 'mariadbd.pid'}",
                f"--tmpdir={self.root / 'tmp'}",
                f"--port={self.port}",
                f"--bind-address={HOST}",
                "--skip-networking=0",
                *user_option(),
                *self.options,
            ],
            ready=self._accepts_connections,
            timeout=60,
        )

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): InnoDB flushes and closes its files."""
        self.server.terminate(timeout=60)

    def kill(self) -> None:
        """``kill -9``: InnoDB recovers from its redo log at the next start."""
        self.server.kill()

    def create_database_and_user(self) -> None:
        with contextlib.closing(self.connect_root()) as conn, conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {DATABASE} "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            cur.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT ALL PRIVILEGES ON {DATABASE}.* TO '{USER}'@'%'")

    def reset_database(self) -> None:
        """``physioez_hq`` dropped and created empty."""
        with contextlib.closing(self.connect_root()) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        self.create_database_and_user()

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)

    def close(self) -> None:
        self.server.terminate(timeout=60)
        self.server.assert_all_gone()


@pytest.fixture(scope="session")
def mariadb_template() -> Iterator[Path]:
    """A data directory made once by mariadb-install-db, with physioez_hq and its user."""
    reason = missing_requirement()
    if reason:
        skip_or_fail("MariaDB", reason)
    root = Path(tempfile.mkdtemp(prefix="physioez-mariadb-template-"))
    server = MariaDBServer(root)
    try:
        server.start()
        server.create_database_and_user()
        server.stop()
        yield server.data_dir
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_server(template: Path) -> Iterator[MariaDBServer]:
    root = Path(tempfile.mkdtemp(prefix="physioez-mariadb-"))
    server = MariaDBServer(root, template=template)
    try:
        server.start()
        yield server
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mariadb(mariadb_template) -> Iterator[MariaDBServer]:
    """A server of this test's own: it may stop, kill and start it again."""
    with running_server(mariadb_template) as server:
        yield server


@pytest.fixture(scope="module")
def mariadb_module(mariadb_template) -> Iterator[MariaDBServer]:
    """One server for the tests of a module; they must leave it running."""
    with running_server(mariadb_template) as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_session(mariadb_template) -> Iterator[MariaDBServer]:
    """One server for the whole session; tests must leave it running."""
    with running_server(mariadb_template) as server:
        yield server


@pytest.fixture
def mariadb_shared(mariadb_session) -> Iterator[MariaDBServer]:
    """The session's server with an empty ``physioez_hq``."""
    mariadb_session.reset_database()
    yield mariadb_session
    if not mariadb_session.server.running:
        mariadb_session.start()  # for the tests that come after
        pytest.fail("this test stopped the shared MariaDB; stop or kill a `mariadb` of its own")
