"""The branch's outbox as replication reads it, and how far head office has acknowledged."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from physioez.core.kernel.audit import Actor, record_mutation
from physioez.core.kernel.canonical import canonical_json
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.ids import uuid7_time_ms
from physioez.core.kernel.models import format_utc, parse_utc, utcnow


def acked_seq() -> int:
    row = database.execute_sql("SELECT value FROM sync_state WHERE name = 'acked_seq'").fetchone()
    return int(row[0]) if row else 0


def record_ack(seq: int) -> int:
    """Remember head office's ack; it only moves forward. Returns the acked seq now."""
    with write_transaction():
        database.execute_sql(
            "UPDATE sync_state SET value = MAX(value, ?) WHERE name = 'acked_seq'", (seq,)
        )
        return acked_seq()


def last_seq() -> int:
    row = database.execute_sql("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()
    return int(row[0])


def oldest_waiting_at(acked: int) -> datetime | None:
    """When the oldest change head office has not acknowledged was made: the lag."""
    row = database.execute_sql(
        "SELECT created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1", (acked,)
    ).fetchone()
    return parse_utc(row[0]) if row else None


def pending_rows(after_seq: int, limit: int, max_bytes: int) -> list[dict]:
    """Outbox rows after ``after_seq`` in order, at most ``limit`` rows or ``max_bytes`` of JSON
    (always at least one row, however large, so one big row cannot stall replication)."""
    from physioez.sync.services.downstream import replicated_models

    ownership = {table: model.ownership for table, model in replicated_models().items()}
    rows: list[dict] = []
    size = 0
    for seq, table, operation, key, row_json, hlc, version, base_json in database.execute_sql(
        "SELECT seq, table_name, operation, row_key, row_json, hlc, schema_version, base_json "
        "FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ):
        size += len(row_json) + len(base_json or "") + 120
        if rows and size > max_bytes:
            break
        row = {
            "seq": seq,
            "table": table,
            "op": operation,
            "key": key,
            "row": json.loads(row_json),
            "hlc": hlc,
            "schema_version": version,
            # Head office merges shared records (patients) and keeps the rest per branch.
            "own": ownership.get(table, "branch"),
        }
        if base_json is not None:
            row["base"] = json.loads(base_json)  # what the edit's fields held before it
        rows.append(row)
    return rows


@dataclass(frozen=True)
class TableDigest:
    table: str
    count: int
    digest: str


def record_hash(row_json: str) -> str:
    """One record's fingerprint: the same canonical JSON on both sides hashes the same."""
    return hashlib.sha256(
        canonical_json(json.loads(row_json), ascii_only=True).encode()
    ).hexdigest()


def fold(pairs) -> tuple[int, str]:
    """Count and combined hash of (key, record hash) pairs, in key order."""
    total = hashlib.sha256()
    count = 0
    for key, hashed in sorted(pairs):
        total.update(f"{key}:{hashed}\n".encode())
        count += 1
    return count, total.hexdigest()


def bucket_of(key: str) -> str:
    """The month (UTC) a record was created in, read from its UUIDv7 key: ``2026-11``.

    Records never change bucket, so a mismatch found in one month is re-sent alone."""
    try:
        millis = uuid7_time_ms(key)
    except ValueError:
        return "other"
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m")


Buckets = dict[str, dict[str, tuple[int, str]]]  # table -> bucket -> (count, digest)


def fold_buckets(records: Iterable[tuple[str, str, str]]) -> Buckets:
    """(table, key, record hash) triples to per-table, per-month counts and digests."""
    grouped: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for table, key, hashed in records:
        grouped.setdefault(table, {}).setdefault(bucket_of(key), []).append((key, hashed))
    return {
        table: {bucket: fold(pairs) for bucket, pairs in buckets.items()}
        for table, buckets in grouped.items()
    }


def _latest_records(up_to_seq: int | None = None) -> Iterable[tuple[str, str, str]]:
    bound = "" if up_to_seq is None else " AND i.seq <= ?"
    params = () if up_to_seq is None else (up_to_seq,)
    sql = (
        "SELECT o.table_name, o.row_key, o.row_json FROM outbox o "  # noqa: S608
        "WHERE o.seq = (SELECT MAX(i.seq) FROM outbox i "
        f"WHERE i.table_name = o.table_name AND i.row_key = o.row_key{bound})"
    )
    for table, key, row_json in database.execute_sql(sql, params):
        yield table, key, record_hash(row_json)


def branch_buckets(up_to_seq: int | None = None) -> Buckets:
    return fold_buckets(_latest_records(up_to_seq))


def differing(ours: Buckets, theirs: Buckets) -> list[tuple[str, str]]:
    """(table, month) buckets whose count or digest differ, in order."""
    found = []
    for table in sorted(set(ours) | set(theirs)):
        mine, hq = ours.get(table, {}), theirs.get(table, {})
        for bucket in sorted(set(mine) | set(hq)):
            if tuple(mine.get(bucket, ())) != tuple(hq.get(bucket, ())):
                found.append((table, bucket))
    return found


_LATEST_OF_TABLE = (
    "SELECT o.row_key, o.operation, o.row_json, o.hlc, o.schema_version FROM outbox o "
    "WHERE o.table_name = ? AND o.row_key > ? AND o.seq = (SELECT MAX(i.seq) FROM outbox i "
    "WHERE i.table_name = o.table_name AND i.row_key = o.row_key) ORDER BY o.row_key"
)


def _queue_again(table: str, rows) -> int:
    """Queue these records' latest states again as new outbox rows; head office upserts them
    (same HLC: same state), repairing whatever it lost."""
    now = format_utc(utcnow())
    count = 0
    for key, operation, row_json, hlc, version in rows:
        database.execute_sql(
            "INSERT INTO outbox (table_name, operation, row_key, row_json, hlc, "
            "schema_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (table, operation, key, row_json, hlc, version, now),
        )
        count += 1
    return count


def resend_buckets(buckets: Iterable[tuple[str, str]]) -> int:
    """Queue the latest state of every record in these (table, month) buckets again."""
    wanted = set(buckets)
    count = 0
    with write_transaction():
        for table in sorted({table for table, _ in wanted}):
            rows = database.execute_sql(_LATEST_OF_TABLE, (table, "")).fetchall()
            count += _queue_again(
                table, [row for row in rows if (table, bucket_of(row[0])) in wanted]
            )
    return count


@dataclass(frozen=True)
class Resend:
    table: str
    done: int
    total: int
    requested_by: str


def request_table_resend(table: str, actor: Actor, requested_by: str) -> Resend:
    """Send every record of ``table`` to head office again, a chunk at a time (see
    :func:`resend_step`); asking again while one runs starts it over."""
    with write_transaction():
        total = database.execute_sql(
            "SELECT COUNT(DISTINCT row_key) FROM outbox WHERE table_name = ?", (table,)
        ).fetchone()[0]
        database.execute_sql(
            "INSERT INTO sync_resend (table_name, after_key, done, total, requested_by, "
            "requested_at) VALUES (?, '', 0, ?, ?, ?) ON CONFLICT (table_name) DO UPDATE SET "
            "after_key = '', done = 0, total = excluded.total, "
            "requested_by = excluded.requested_by, requested_at = excluded.requested_at",
            (table, total, requested_by, format_utc(utcnow())),
        )
        record_mutation(
            actor, "sync.resend_requested", "sync_resend", table, None, {"records": total}
        )
    return Resend(table, 0, total, requested_by)


def resends() -> list[Resend]:
    return [
        Resend(*row)
        for row in database.execute_sql(
            "SELECT table_name, done, total, requested_by FROM sync_resend ORDER BY table_name"
        )
    ]


# One chunk per publisher tick: each is one short write transaction, so the front desk's
# bookings interleave with a re-send of 300,000 appointments.
RESEND_CHUNK = 500


def resend_step(chunk: int | None = None) -> int:
    """Queue the next chunk of a requested table re-send; returns the records queued."""
    chunk = chunk or RESEND_CHUNK
    pending = database.execute_sql(
        "SELECT table_name, after_key FROM sync_resend ORDER BY requested_at LIMIT 1"
    ).fetchone()
    if pending is None:
        return 0
    table, after_key = pending
    with write_transaction():
        rows = database.execute_sql(
            _LATEST_OF_TABLE + " LIMIT ?", (table, after_key, chunk)
        ).fetchall()
        count = _queue_again(table, rows)
        if len(rows) < chunk:
            database.execute_sql("DELETE FROM sync_resend WHERE table_name = ?", (table,))
        else:
            database.execute_sql(
                "UPDATE sync_resend SET after_key = ?, done = done + ? WHERE table_name = ?",
                (rows[-1][0], count, table),
            )
    return count


def branch_digests() -> dict[str, TableDigest]:
    """Per replicated table: the latest state of every record this branch has written."""
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, key, row_json in database.execute_sql(
        "SELECT o.table_name, o.row_key, o.row_json FROM outbox o "
        "WHERE o.seq = (SELECT MAX(i.seq) FROM outbox i "
        "WHERE i.table_name = o.table_name AND i.row_key = o.row_key)"
    ):
        by_table.setdefault(table, []).append((key, record_hash(row_json)))
    digests = {}
    for table, pairs in by_table.items():
        count, digest = fold(pairs)
        digests[table] = TableDigest(table, count, digest)
    return digests
