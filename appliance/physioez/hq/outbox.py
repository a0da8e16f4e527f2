"""What goes down from head office to the branches: its changes queued in ``hq_outbox`` under
one sequence, in commit order, and read back a page at a time for one branch."""

from __future__ import annotations

import json
from dataclasses import dataclass

from physioez.core.kernel.canonical import canonical_json
from physioez.hq import entities


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
        entities.project(cursor, [(table, row, row.get("origin_branch") or "HQ")])
        [seq] = insert_down(cursor, [DownChange(table, key, row, hlc, operation, target)])
    connection.commit()
    return seq


@dataclass(frozen=True)
class DownChange:
    table: str
    key: str
    row: dict
    hlc: str
    operation: str = "update"
    target: str = "*"
    row_json: str | None = None  # ``row`` as canonical JSON, when the caller has it already


def insert_down(cursor, changes: list[DownChange]) -> list[int]:
    """Queue ``changes`` for the branches; returns their seqs. Call it last before COMMIT:
    the sequence row stays locked until then, so seqs are taken in commit order and every
    seq a branch can see has all smaller ones visible too (the lock is held for the commit
    alone)."""
    if not changes:
        return []
    cursor.execute(
        "UPDATE hq_sequence SET value = LAST_INSERT_ID(value + %s) WHERE name = 'hq_outbox'",
        (len(changes),),
    )
    cursor.execute("SELECT LAST_INSERT_ID()")
    first = int(cursor.fetchone()[0]) - len(changes) + 1
    seqs = list(range(first, first + len(changes)))
    cursor.executemany(
        "INSERT INTO hq_outbox (seq, target, table_name, row_key, operation, hlc, row_json) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            (
                seq,
                change.target,
                change.table,
                change.key,
                change.operation,
                change.hlc,
                change.row_json or canonical_json(change.row, ascii_only=True),
            )
            for seq, change in zip(seqs, changes, strict=True)
        ],
    )
    return seqs


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
