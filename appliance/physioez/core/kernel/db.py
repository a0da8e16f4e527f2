"""The data layer: one SQLite database through peewee over apsw, and its one write path.

SQLite's busy handler is unfair under concurrent writers (p99 of hundreds of ms measured on
this hardware), so every write in the process goes through :func:`write_transaction`: a
process-level lock, then ``BEGIN IMMEDIATE``. Readers never take the lock; WAL lets them run
beside the single writer.

Every thread's connection is opened ``query_only``: a write anywhere but the write path fails
loudly ("attempt to write a readonly database") instead of quietly competing for SQLite's lock
without the audit and outbox rows the write path adds. The write path works on one connection
of its own, the only writable one, lent to the thread that holds the write lock for the length
of its transaction. (Lifting ``query_only`` per transaction instead expires every prepared
statement of the connection, as any flag pragma does: measured, that re-preparing cost ~0.7 ms
a booking, a quarter of its server time.)
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peewee import DatabaseProxy
from playhouse.apsw_ext import APSWDatabase

database = DatabaseProxy()

_write_lock = threading.RLock()


class MigrationError(Exception):
    """A migration cannot be applied, or the history disagrees with the code."""


def open_database(path: Path | str, busy_timeout_ms: int = 5000, cache_mb: int = 32) -> None:
    """Bind the process-wide database proxy to the SQLite file at ``path``."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = APSWDatabase(
        str(path),
        timeout=busy_timeout_ms / 1000,
        pragmas=(
            ("journal_mode", "wal"),
            ("foreign_keys", 1),
            # FULL: a clinic box loses power; a write that got a 2xx must survive that.
            ("synchronous", "full"),
            ("cache_size", -1024 * cache_mb),
            ("temp_store", "memory"),
            # Last: the pragmas above may write (journal_mode on a new file).
            ("query_only", 1),
        ),
    )
    _close_writer()
    database.initialize(db)
    db.connect(reuse_if_open=True)


def close_database() -> None:
    """Close this thread's connection (each thread reads on its own)."""
    if database.obj is not None and not database.is_closed():
        database.close()


# The one writable connection of the open database, made on first write and used only by the
# thread holding _write_lock.
_writer: Any = None


def _writer_connection() -> Any:
    global _writer
    if _writer is None:
        connection = database.obj._connect()  # the same pragmas as every connection
        connection.execute("PRAGMA query_only = 0")
        _writer = connection
    return _writer


def _close_writer() -> None:
    global _writer
    with _write_lock:
        if _writer is not None:
            _writer.close()
            _writer = None


# Work to run once the outermost transaction commits, one list per open (save)point, so that
# a savepoint that rolls back takes its after-commit work with it.
_after_commit = threading.local()


def _pending() -> list[list[Callable[[], None]]]:
    if not hasattr(_after_commit, "stack"):
        _after_commit.stack = []
    return _after_commit.stack


def after_commit(work: Callable[[], None]) -> bool:
    """Run ``work`` after the current write transaction commits; False if none is open."""
    stack = _pending()
    if not stack:
        return False
    stack[-1].append(work)
    return True


@contextmanager
def write_transaction() -> Iterator[None]:
    """The one write path: serialise in-process, then hold SQLite's write lock from BEGIN.

    Nested use becomes a savepoint inside the outer transaction. Work registered with
    :func:`after_commit` runs only if every level up to the outermost one commits.
    """
    stack = _pending()
    with _write_lock:
        outermost = not database.in_transaction()
        if outermost:
            state = database._state
            # This thread's own (read-only) connection, given back when the transaction ends.
            own = (state.conn, state.closed, state.ctx, state.transactions, state.commit_callbacks)
            state.set_connection(_writer_connection())
        stack.append([])
        try:
            with database.atomic(lock_type="IMMEDIATE") if outermost else _savepoint(len(stack)):
                yield
        except BaseException:
            stack.pop()  # Rolled back: its after-commit work is dropped with it.
            raise
        finally:
            if outermost:
                (state.conn, state.closed, state.ctx, state.transactions) = own[:4]
                state.commit_callbacks = own[4]
        done = stack.pop()
        if not outermost:
            stack[-1].extend(done)
            return
    for work in done:
        work()


@contextmanager
def _savepoint(depth: int) -> Iterator[None]:
    """A nested level, named by its depth: every mutation opens one inside its caller's
    transaction, and peewee's random names made SQLite compile both statements each time."""
    name = f'"wt{depth}"'
    database.execute_sql(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        database.execute_sql(f"ROLLBACK TO SAVEPOINT {name}")
        database.execute_sql(f"RELEASE SAVEPOINT {name}")
        raise
    database.execute_sql(f"RELEASE SAVEPOINT {name}")


def require_transaction(what: str) -> None:
    """Fail loudly when a side record would be written outside its mutation's transaction."""
    if not database.in_transaction():
        raise RuntimeError(f"{what} must be written inside write_transaction()")


def checkpoint() -> tuple[int, int]:
    """Run a passive WAL checkpoint off the request path; returns (wal frames, checkpointed)."""
    row = database.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[1]), int(row[2])


# --- migrations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    """One numbered schema step. ``id`` is ``<module>.<NNNN>_<name>``, applied in list order."""

    id: str
    sql: str
    # A step that rebuilds a table (SQLite's "make a new table, copy, drop, rename") needs
    # foreign-key enforcement off, which SQLite ignores inside a transaction: for such a step
    # it is switched off before the step's transaction and on again after it, and the step is
    # refused, nothing of it kept, if it leaves a row whose foreign key points nowhere.
    rebuilds_tables: bool = False

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


_HISTORY_DDL = """
CREATE TABLE IF NOT EXISTS schema_migration (
    id TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


def migration_status(migrations: Sequence[Migration]) -> tuple[list[str], list[str]]:
    """Return (applied ids, pending ids), refusing when an applied migration was edited."""
    with write_transaction():
        database.execute_sql(_HISTORY_DDL)
    applied = dict(database.execute_sql("SELECT id, checksum FROM schema_migration").fetchall())
    known = {m.id for m in migrations}
    for migration in migrations:
        if migration.id in applied and applied[migration.id] != migration.checksum:
            raise MigrationError(
                f"Migration {migration.id} was changed after it was applied; "
                "add a new migration instead of editing an old one."
            )
    unknown = sorted(set(applied) - known)
    if unknown:
        raise MigrationError(
            f"The database has migrations this version does not know ({', '.join(unknown)}); "
            "it was written by a newer PhysioEZ. Install that version or restore a backup."
        )
    return [m.id for m in migrations if m.id in applied], [
        m.id for m in migrations if m.id not in applied
    ]


def migrate(
    migrations: Sequence[Migration], progress: Callable[[str], None] | None = None
) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the ids applied."""
    ids = [m.id for m in migrations]
    if len(ids) != len(set(ids)):
        raise MigrationError("Two migrations share an id.")
    _, pending = migration_status(migrations)
    done = []
    for migration in migrations:
        if migration.id not in pending:
            continue
        if progress:
            progress(migration.id)
        with _without_foreign_keys() if migration.rebuilds_tables else nullcontext():
            _apply(migration)
        done.append(migration.id)
    return done


def _apply(migration: Migration) -> None:
    with write_transaction():
        # apsw runs every statement of a script in one call.
        database.execute_sql(migration.sql)
        if migration.rebuilds_tables:
            dangling = database.execute_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise MigrationError(
                    f"Migration {migration.id} would leave rows whose foreign keys point "
                    f"nowhere (table, rowid, parent): {dangling[:5]}; nothing was changed."
                )
        database.execute_sql(
            "INSERT INTO schema_migration (id, checksum, applied_at) VALUES (?, ?, ?)",
            (migration.id, migration.checksum, datetime.now(UTC).isoformat()),
        )


@contextmanager
def _without_foreign_keys() -> Iterator[None]:
    """Foreign keys off on the writable connection while a table-rebuilding step runs, under
    the write lock so nothing else writes meanwhile; readers keep enforcing them."""
    with _write_lock:
        writer = _writer_connection()
        writer.execute("PRAGMA foreign_keys = 0")
        try:
            yield
        finally:
            writer.execute("PRAGMA foreign_keys = 1")
