"""Head office's MySQL: every branch's replicated records, and how far each branch is applied.

Each batch is applied in one transaction that locks the branch's cursor row first, so two
ingest instances given batches of the same branch take turns, a batch seen twice changes
nothing, and the cursor can never move past a seq whose rows are not committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pymysql
from pymysql.constants import SERVER_STATUS

from physioez.sync import envelope, state

HQ_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS branch_cursor (
        branch_id VARCHAR(16) NOT NULL PRIMARY KEY,
        applied_seq BIGINT NOT NULL DEFAULT 0,
        updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
            ON UPDATE CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB""",
    """CREATE TABLE IF NOT EXISTS branch_key (
        branch_id VARCHAR(16) NOT NULL PRIMARY KEY,
        verify_key VARCHAR(64) NOT NULL,
        box_key VARCHAR(64) NOT NULL DEFAULT '',
        added_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB""",
    # Head office's own changes for the branches (HQ-owned tables, shared records), in one
    # order; ``target`` is a branch id, or '*' for every branch.
    """CREATE TABLE IF NOT EXISTS hq_outbox (
        seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        target VARCHAR(16) NOT NULL DEFAULT '*',
        table_name VARCHAR(64) NOT NULL,
        row_key VARCHAR(64) NOT NULL,
        operation VARCHAR(8) NOT NULL,
        hlc VARCHAR(64) NOT NULL,
        row_json LONGTEXT NOT NULL,
        created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        KEY hq_outbox_target (target, seq)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    # One row per replicated record: its latest state as the branch wrote it. ``branch_id`` is
    # the branch whose outbox carried it; ``origin_branch`` and ``hlc`` come from the record.
    """CREATE TABLE IF NOT EXISTS replicated_row (
        table_name VARCHAR(64) NOT NULL,
        row_key VARCHAR(64) NOT NULL,
        branch_id VARCHAR(16) NOT NULL,
        hlc VARCHAR(64) NOT NULL,
        deleted TINYINT NOT NULL DEFAULT 0,
        row_json LONGTEXT NOT NULL,
        seq BIGINT NOT NULL,
        applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        PRIMARY KEY (table_name, row_key),
        KEY replicated_row_branch (branch_id, table_name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    # Concurrent edits of one shared record from two branches: the winner by (HLC, origin
    # branch) is applied; both states are kept here for an admin to review and, if need be,
    # reverse.
    """CREATE TABLE IF NOT EXISTS sync_conflict (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        table_name VARCHAR(64) NOT NULL,
        row_key VARCHAR(64) NOT NULL,
        fields TEXT NOT NULL,
        winner_branch VARCHAR(16) NOT NULL,
        loser_branch VARCHAR(16) NOT NULL,
        winner_json LONGTEXT NOT NULL,
        loser_json LONGTEXT NOT NULL,
        status VARCHAR(12) NOT NULL DEFAULT 'open',
        detected_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        KEY sync_conflict_status (status, id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE IF NOT EXISTS rejected_batch (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        topic VARCHAR(200) NOT NULL,
        reason VARCHAR(40) NOT NULL,
        detail VARCHAR(400) NOT NULL DEFAULT '',
        received_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB""",
]

# The newer state of a record wins by its HLC (fixed-width text, so string order is time
# order); a tombstone stays a tombstone whatever arrives later. MySQL applies these left to
# right and later ones see earlier results: ``hlc`` is set before ``deleted`` on purpose.
_UPSERT = """
INSERT INTO replicated_row (table_name, row_key, branch_id, hlc, deleted, row_json, seq)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON DUPLICATE KEY UPDATE
    row_json = IF(deleted = 0 AND VALUES(hlc) >= hlc, VALUES(row_json), row_json),
    seq = IF(deleted = 0 AND VALUES(hlc) >= hlc, VALUES(seq), seq),
    branch_id = IF(deleted = 0 AND VALUES(hlc) >= hlc, VALUES(branch_id), branch_id),
    hlc = IF(deleted = 0 AND VALUES(hlc) >= hlc, VALUES(hlc), hlc),
    deleted = IF(deleted = 0 AND VALUES(hlc) >= hlc, VALUES(deleted), deleted)
"""


def _escape(text: str) -> str:
    """PyMySQL's escaping (the same seven characters, the same output), with ``str.replace``:
    its ``str.translate`` through a 128-entry table took about 33 us for one record's JSON,
    against 5 us here: a quarter of the time to apply a batch (bench/hq_ingest.py)."""
    return (
        text.replace("\\", "\\\\")
        .replace("\0", "\\0")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\032", "\\Z")
        .replace('"', '\\"')
        .replace("'", "\\'")
    )


class _Connection(pymysql.connections.Connection):
    """PyMySQL's connection, escaping text parameters faster (see :func:`_escape`)."""

    def escape(self, obj, mapping=None) -> str:
        if isinstance(obj, str) and not (
            self.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
        ):
            return f"'{_escape(obj)}'"
        return super().escape(obj, mapping)


@dataclass(frozen=True)
class MySqlSettings:
    host: str
    port: int
    user: str
    password: str
    database: str

    def connect(self) -> pymysql.connections.Connection:
        return _Connection(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=5,
            read_timeout=30,
            write_timeout=30,
        )


def create_schema(connection) -> None:
    with connection.cursor() as cursor:
        for ddl in HQ_SCHEMA:
            cursor.execute(ddl)
    connection.commit()


def register_branch(connection, branch: str, verify_key: str, box_key: str = "") -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO branch_key (branch_id, verify_key, box_key) VALUES (%s, %s, %s) "
            "ON DUPLICATE KEY UPDATE verify_key = VALUES(verify_key), box_key = VALUES(box_key)",
            (branch, verify_key, box_key),
        )
    connection.commit()


def branch_box_key(connection, branch: str):
    with connection.cursor() as cursor:
        cursor.execute("SELECT box_key FROM branch_key WHERE branch_id = %s", (branch,))
        row = cursor.fetchone()
    connection.commit()
    return envelope.public_key(row[0]) if row and row[0] else None


def enqueue_down(
    connection,
    *,
    table: str,
    key: str,
    row: dict,
    hlc: str,
    operation: str = "update",
    target: str = "*",
) -> int:
    """Queue a head-office change for the branches (``target``: one branch, or '*')."""
    with connection.cursor() as cursor:
        seq = _insert_down(cursor, table, key, row, hlc, operation, target)
    connection.commit()
    return seq


def _insert_down(cursor, table, key, row, hlc, operation="update", target="*") -> int:
    cursor.execute(
        "INSERT INTO hq_outbox (target, table_name, row_key, operation, hlc, row_json) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (target, table, key, operation, hlc, json.dumps(row, sort_keys=True)),
    )
    return int(cursor.lastrowid)


def down_rows(connection, branch: str, after: int, limit: int = 200) -> tuple[list[dict], bool]:
    """Head office's changes for ``branch`` after ``after``; True if more are waiting."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, table_name, row_key, operation, hlc, row_json FROM hq_outbox "
            "WHERE seq > %s AND target IN ('*', %s) ORDER BY seq LIMIT %s",
            (after, branch, limit + 1),
        )
        fetched = cursor.fetchall()
    connection.commit()
    rows = [
        {"seq": seq, "table": table, "key": key, "op": op, "hlc": hlc, "row": json.loads(raw)}
        for seq, table, key, op, hlc, raw in fetched[:limit]
    ]
    return rows, len(fetched) > limit


def branch_keys(connection) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT branch_id, verify_key FROM branch_key")
        rows = cursor.fetchall()
    connection.commit()
    return {branch: envelope.verify_key(key) for branch, key in rows}


@dataclass(frozen=True)
class Applied:
    """The batch is committed (or was already): ack ``applied_seq``."""

    applied_seq: int
    rows_written: int


@dataclass(frozen=True)
class Gap:
    """Rows before this batch are missing: ask the branch to resend from ``expected``."""

    expected: int


def apply_batch(
    connection, batch: envelope.Batch, before_commit: Callable[[], None] | None = None
) -> Applied | Gap:
    """Apply ``batch`` exactly once; ``before_commit`` is a test seam for crashes."""
    with connection.cursor() as cursor:
        # The cursor row, made if new and locked: a no-op upsert takes the row's exclusive lock
        # at once. INSERT IGNORE took a shared lock on it, and two instances holding one each
        # for the same branch deadlocked upgrading to FOR UPDATE's exclusive lock.
        cursor.execute(
            "INSERT INTO branch_cursor (branch_id, applied_seq) VALUES (%s, 0) "
            "ON DUPLICATE KEY UPDATE applied_seq = applied_seq",
            (batch.branch,),
        )
        cursor.execute(
            "SELECT applied_seq FROM branch_cursor WHERE branch_id = %s FOR UPDATE",
            (batch.branch,),
        )
        applied = int(cursor.fetchone()[0])
        if batch.last_seq <= applied:
            connection.commit()
            return Applied(applied, 0)
        if batch.first_seq > applied + 1:
            connection.rollback()
            return Gap(applied + 1)
        fresh = [row for row in batch.rows if row["seq"] > applied]
        for row in fresh:
            if row.get("own") == "shared":
                _apply_shared(cursor, batch.branch, row)
        fresh_owned = [row for row in fresh if row.get("own") != "shared"]
        cursor.executemany(
            _UPSERT,
            [
                (
                    row["table"],
                    row["key"],
                    batch.branch,
                    row["hlc"],
                    1 if row["op"] == "delete" else 0,
                    json.dumps(row["row"], sort_keys=True, separators=(",", ":")),
                    row["seq"],
                )
                for row in fresh_owned
            ],
        )
        cursor.execute(
            "UPDATE branch_cursor SET applied_seq = %s WHERE branch_id = %s",
            (batch.last_seq, batch.branch),
        )
        if before_commit is not None:
            before_commit()
    connection.commit()
    return Applied(batch.last_seq, len(fresh))


# Fields that change with every write and say nothing about the record itself.
_META_FIELDS = frozenset({"hlc", "version", "updated_at", "origin_branch", "created_at"})


def _rank(hlc: str, branch: str) -> tuple[str, str]:
    """Which of two edits wins: the later HLC, then the editing branch's id (a tie-break every
    instance computes the same way, whatever order the edits arrive in)."""
    return (hlc, branch)


def _apply_shared(cursor, branch: str, row: dict) -> None:
    """A shared record (a patient seen at several branches): the newer state wins; an edit
    made without knowing another branch's edit of the same version is a conflict, resolved by
    (HLC, origin branch) — the same winner whatever order the two arrive in — and queued for
    review. The winning state goes down to every branch."""
    cursor.execute(
        "SELECT row_json, hlc, branch_id, deleted FROM replicated_row "
        "WHERE table_name = %s AND row_key = %s FOR UPDATE",
        (row["table"], row["key"]),
    )
    current = cursor.fetchone()
    incoming = row["row"]
    if current is not None and current[3]:
        return  # a tombstone stays a tombstone
    winner, loser = incoming, None
    if current is not None:
        held = json.loads(current[0])
        # The same stamp from the same branch is the same edit sent again (a resend, or an
        # anti-entropy repair): it is applied, so a damaged copy here is made whole.
        newer = _rank(row["hlc"], branch) >= _rank(current[1], current[2])
        concurrent = current[2] != branch and int(incoming.get("version", 0)) <= int(
            held.get("version", 0)
        )
        differing = sorted(
            name
            for name in set(held) | set(incoming)
            if name not in _META_FIELDS and held.get(name) != incoming.get(name)
        )
        # A conflict: both edited without knowing of the other, or an edit arrives that loses
        # to what is held (its clock was behind): never dropped without a trace.
        if differing and (concurrent or not newer):
            winner, loser = (incoming, held) if newer else (held, incoming)
            cursor.execute(
                "INSERT INTO sync_conflict (table_name, row_key, fields, winner_branch, "
                "loser_branch, winner_json, loser_json) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    row["table"],
                    row["key"],
                    json.dumps(differing),
                    branch if newer else current[2],
                    current[2] if newer else branch,
                    json.dumps(winner, sort_keys=True),
                    json.dumps(loser, sort_keys=True),
                ),
            )
        if not newer:
            return
    canonical = json.dumps(incoming, sort_keys=True, separators=(",", ":"))
    cursor.execute(
        "INSERT INTO replicated_row (table_name, row_key, branch_id, hlc, deleted, row_json, seq) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE branch_id = VALUES(branch_id),"
        " hlc = VALUES(hlc), deleted = VALUES(deleted), row_json = VALUES(row_json), "
        "seq = VALUES(seq)",
        (
            row["table"],
            row["key"],
            branch,
            row["hlc"],
            1 if row["op"] == "delete" else 0,
            canonical,
            row["seq"],
        ),
    )
    _insert_down(cursor, row["table"], row["key"], incoming, row["hlc"], row["op"])


def open_conflicts(connection) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, table_name, row_key, fields, winner_branch, loser_branch, detected_at "
            "FROM sync_conflict WHERE status = 'open' ORDER BY id"
        )
        rows = cursor.fetchall()
    connection.commit()
    return [
        {
            "id": cid,
            "table": table,
            "key": key,
            "fields": json.loads(fields),
            "winner": winner,
            "loser": loser,
            "detected_at": detected,
        }
        for cid, table, key, fields, winner, loser, detected in rows
    ]


def reverse_conflict(connection, conflict_id: int, hlc: str) -> None:
    """An admin chose the losing state: it becomes the record's state at head office (stamped
    with head office's ``hlc``, newer than both) and goes down to every branch."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, row_key, loser_json FROM sync_conflict "
            "WHERE id = %s AND status = 'open' FOR UPDATE",
            (conflict_id,),
        )
        found = cursor.fetchone()
        if found is None:
            connection.rollback()
            raise LookupError(f"no open conflict {conflict_id}")
        table, key, loser_json = found
        chosen = dict(json.loads(loser_json), hlc=hlc)
        cursor.execute(
            "UPDATE replicated_row SET row_json = %s, hlc = %s WHERE table_name = %s "
            "AND row_key = %s",
            (json.dumps(chosen, sort_keys=True, separators=(",", ":")), hlc, table, key),
        )
        _insert_down(cursor, table, key, chosen, hlc)
        cursor.execute("UPDATE sync_conflict SET status = 'reversed' WHERE id = %s", (conflict_id,))
    connection.commit()


def record_rejection(connection, topic: str, reason: str, detail: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO rejected_batch (topic, reason, detail) VALUES (%s, %s, %s)",
            (topic[:200], reason[:40], detail[:400]),
        )
    connection.commit()


def applied_seq(connection, branch: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT applied_seq FROM branch_cursor WHERE branch_id = %s", (branch,))
        row = cursor.fetchone()
    connection.commit()
    return int(row[0]) if row else 0


def hq_digests(connection, branch: str) -> dict[str, state.TableDigest]:
    """The same per-table digests as the branch computes, over what head office holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, row_key, row_json FROM replicated_row WHERE branch_id = %s",
            (branch,),
        )
        by_table: dict[str, list[tuple[str, str]]] = {}
        for table, key, row_json in cursor.fetchall():
            by_table.setdefault(table, []).append((key, state.record_hash(row_json)))
    connection.commit()
    digests = {}
    for table, pairs in by_table.items():
        count, digest = state.fold(pairs)
        digests[table] = state.TableDigest(table, count, digest)
    return digests


def hq_buckets(connection, branch: str) -> state.Buckets:
    """Head office's per-table, per-month digests of one branch's records."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, row_key, row_json FROM replicated_row WHERE branch_id = %s",
            (branch,),
        )
        records = [(table, key, state.record_hash(row_json)) for table, key, row_json in cursor]
    connection.commit()
    return state.fold_buckets(records)
