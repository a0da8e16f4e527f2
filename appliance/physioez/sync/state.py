"""The branch's outbox as replication reads it, and how far head office has acknowledged."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from physioez.core.db import database, write_transaction


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


def pending_rows(after_seq: int, limit: int, max_bytes: int) -> list[dict]:
    """Outbox rows after ``after_seq`` in order, at most ``limit`` rows or ``max_bytes`` of JSON
    (always at least one row, however large, so one big row cannot stall replication)."""
    rows = []
    size = 0
    for seq, table, operation, key, row_json, hlc, version in database.execute_sql(
        "SELECT seq, table_name, operation, row_key, row_json, hlc, schema_version FROM outbox "
        "WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ):
        size += len(row_json) + 120
        if rows and size > max_bytes:
            break
        rows.append(
            {
                "seq": seq,
                "table": table,
                "op": operation,
                "key": key,
                "row": json.loads(row_json),
                "hlc": hlc,
                "schema_version": version,
            }
        )
    return rows


@dataclass(frozen=True)
class TableDigest:
    table: str
    count: int
    digest: str


def record_hash(row_json: str) -> str:
    """One record's fingerprint: the same canonical JSON on both sides hashes the same."""
    return hashlib.sha256(
        json.dumps(json.loads(row_json), sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def fold(pairs) -> tuple[int, str]:
    """Count and combined hash of (key, record hash) pairs, in key order."""
    total = hashlib.sha256()
    count = 0
    for key, hashed in sorted(pairs):
        total.update(f"{key}:{hashed}\n".encode())
        count += 1
    return count, total.hexdigest()


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
