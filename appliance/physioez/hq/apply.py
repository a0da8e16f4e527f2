"""Applying a branch's batch at head office: its own records upserted, shared records merged
field by field, and the conflicts that merging finds, to review and reverse.

Each batch is applied in one transaction that locks the branch's cursor row first, so two
ingest instances given batches of the same branch take turns, a batch seen twice changes
nothing, and the cursor can never move past a seq whose rows are not committed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from physioez.core.kernel.canonical import canonical_json
from physioez.hq import entities, merge
from physioez.hq.outbox import DownChange, insert_down
from physioez.sync.services import envelope

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
                    canonical_json(row["row"], ascii_only=True),
                    row["seq"],
                )
                for row in fresh_owned
            ],
        )
        cursor.execute(
            "UPDATE branch_cursor SET applied_seq = %s WHERE branch_id = %s",
            (batch.last_seq, batch.branch),
        )
        entities.project(cursor, [(row["table"], row["row"], batch.branch) for row in fresh_owned])
        shared = [row for row in fresh if row.get("own") == "shared"]
        if shared:
            _apply_shared(cursor, batch.branch, shared)  # last: it takes the down sequence
        if before_commit is not None:
            before_commit()
    connection.commit()
    return Applied(batch.last_seq, len(fresh))


def _apply_shared(cursor, branch: str, rows: list[dict]) -> None:
    """Shared records (patients seen at several branches): each of ``branch``'s edits merged
    field by field into what head office holds (see :mod:`physioez.hq.merge`), the merged
    states queued down to every branch, clashes into ``sync_conflict`` and told to the two
    branches involved. A batch's records are read and written a statement per table, not
    per row: this is most of head office's work."""
    keys = sorted({(row["table"], row["key"]) for row in rows})
    received, held = _lock_shared(cursor, branch, keys)
    downs: list[DownChange] = []
    last_down: dict[tuple[str, str], int] = {}  # record -> index of its latest state in downs
    states: dict[tuple[str, str], tuple] = {}  # record -> (state, its JSON, hlc, deleted, ...)
    receipts = []
    now_ms = int(time.time() * 1000)
    for row in rows:
        record = (row["table"], row["key"])
        # One canonical text per record, for its receipt's hash and, when the branch's state
        # is what head office keeps, for the stored row and the change sent down.
        incoming_json = canonical_json(row["row"], ascii_only=True)
        receipts.append(
            (branch, *record, row["hlc"], hashlib.sha256(incoming_json.encode()).hexdigest())
        )
        if received.get(record, "") >= row["hlc"]:
            continue  # sent before (a resend, an anti-entropy repair): merged already
        received[record] = row["hlc"]
        current, deleted, stamps = held.get(record, (None, False, {}))
        result = merge.merge(
            current,
            deleted,
            stamps,
            row["row"],
            row["hlc"],
            branch,
            row["op"],
            row.get("base"),
            now_ms=now_ms,
        )
        if result is None:
            continue  # nothing new; a tombstone stays a tombstone
        operation = "delete" if result.deleted else ("insert" if current is None else "update")
        held[record] = (result.state, result.deleted, result.stamps)
        # Kept under the branch's own stamp only when it is the branch's state unchanged.
        state_json = (
            incoming_json
            if result.hlc == row["hlc"]
            else canonical_json(result.state, ascii_only=True)
        )
        states[record] = (
            result.state,
            state_json,
            result.hlc,
            result.deleted,
            result.stamps,
            row["seq"],
        )
        last_down[record] = len(downs)
        downs.append(DownChange(*record, result.state, result.hlc, operation, row_json=state_json))
        for (winner, loser), clashes in _by_pair(result.conflicts).items():
            cursor.execute(
                "INSERT INTO sync_conflict (table_name, row_key, fields, winner_branch, "
                "loser_branch, winner_json, loser_json) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    *record,
                    json.dumps([c.field for c in clashes]),
                    winner,
                    loser,
                    json.dumps({c.field: c.winner_value for c in clashes}, sort_keys=True),
                    json.dumps({c.field: c.loser_value for c in clashes}, sort_keys=True),
                ),
            )
            downs.extend(_conflict_notices(cursor, int(cursor.lastrowid)))
    # row_hash before hlc: MySQL assigns left to right and the second test must see the old hlc.
    cursor.executemany(
        "INSERT INTO shared_received (branch_id, table_name, row_key, hlc, row_hash) "
        "VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
        "row_hash = IF(VALUES(hlc) >= hlc, VALUES(row_hash), row_hash), "
        "hlc = IF(VALUES(hlc) >= hlc, VALUES(hlc), hlc)",
        receipts,
    )
    seqs = insert_down(cursor, downs)
    _store_shared(
        cursor,
        [
            (
                *record,
                record_state,
                record_json,
                hlc,
                deleted,
                merge.settle(stamps, seqs[last_down[record]]),
                seq,
            )
            for record, (record_state, record_json, hlc, deleted, stamps, seq) in states.items()
        ],
    )


def _lock_shared(cursor, branch: str, keys: list[tuple[str, str]]) -> tuple[dict, dict]:
    """What ``branch`` last sent of these records, and what head office holds of them; both
    locked until commit (in key order, so two instances lock in the same order)."""
    received: dict[tuple[str, str], str] = {}
    held: dict[tuple[str, str], tuple] = {}
    for table in sorted({table for table, _ in keys}):
        names = [key for name, key in keys if name == table]
        marks = ", ".join(["%s"] * len(names))
        cursor.execute(
            "SELECT row_key, hlc FROM shared_received WHERE branch_id = %s AND "  # noqa: S608
            f"table_name = %s AND row_key IN ({marks}) ORDER BY row_key FOR UPDATE",
            (branch, table, *names),
        )
        received.update({(table, key): hlc for key, hlc in cursor.fetchall()})
        cursor.execute(
            "SELECT row_key, row_json, deleted, field_stamps FROM replicated_row "  # noqa: S608
            f"WHERE table_name = %s AND row_key IN ({marks}) ORDER BY row_key FOR UPDATE",
            (table, *names),
        )
        for key, row_json, deleted, stamps in cursor.fetchall():
            held[(table, key)] = (json.loads(row_json), bool(deleted), _stamps(stamps))
    return received, held


def _stamps(raw: str | None) -> dict[str, merge.Stamp]:
    return {name: merge.Stamp.from_json(value) for name, value in json.loads(raw or "{}").items()}


def _store_shared(cursor, records: list[tuple]) -> None:
    """(table, key, state, its canonical JSON or None, hlc, deleted, stamps, seq) of shared
    records, as merged."""
    cursor.executemany(
        "INSERT INTO replicated_row (table_name, row_key, branch_id, hlc, deleted, row_json, "
        "seq, field_stamps) VALUES (%s, %s, '*', %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
        "hlc = VALUES(hlc), deleted = VALUES(deleted), row_json = VALUES(row_json), "
        "seq = VALUES(seq), field_stamps = VALUES(field_stamps)",
        [
            (
                table,
                key,
                hlc,
                1 if deleted else 0,
                record_json or canonical_json(record, ascii_only=True),
                seq,
                json.dumps({name: stamp.to_json() for name, stamp in sorted(stamps.items())}),
            )
            for table, key, record, record_json, hlc, deleted, stamps, seq in records
        ],
    )
    entities.project(
        cursor,
        [(table, record, record.get("origin_branch") or "*") for table, _, record, *_ in records],
    )


def _by_pair(conflicts: list[merge.FieldConflict]) -> dict[tuple[str, str], list]:
    grouped: dict[tuple[str, str], list] = {}
    for conflict in conflicts:
        grouped.setdefault((conflict.winner.branch, conflict.loser.branch), []).append(conflict)
    return grouped


def _conflict_notices(cursor, conflict_id: int) -> list[DownChange]:
    """The down changes telling the two branches of a conflict (or of its reversal)."""
    cursor.execute(
        "SELECT id, table_name, row_key, fields, winner_branch, loser_branch, winner_json, "
        "loser_json, status, detected_at FROM sync_conflict WHERE id = %s",
        (conflict_id,),
    )
    notice = envelope.conflict_from_row(cursor.fetchone())
    notice["detected_at"] = notice["detected_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    hlc = merge.head_office_now()
    return [
        DownChange(envelope.CONFLICT_NOTICE_TABLE, str(conflict_id), notice, hlc, "update", target)
        for target in sorted({notice["winner"], notice["loser"]} - {merge.HEAD_OFFICE_NODE})
    ]


def open_conflicts(connection) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, table_name, row_key, fields, winner_branch, loser_branch, winner_json, "
            "loser_json, status, detected_at FROM sync_conflict WHERE status = 'open' ORDER BY id"
        )
        rows = cursor.fetchall()
    connection.commit()
    return [envelope.conflict_from_row(found) for found in rows]


def reverse_conflict(connection, conflict_id: int, hlc: str) -> None:
    """An admin chose the losing values: they become the record's at head office, stamped
    later than anything held (and not before ``hlc``, head office's clock), and go down to
    every branch."""
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
        cursor.execute(
            "SELECT row_json, field_stamps, seq FROM replicated_row "
            "WHERE table_name = %s AND row_key = %s FOR UPDATE",
            (table, key),
        )
        row_json, stamps_json, seq = cursor.fetchone()
        held = json.loads(row_json)
        stamp = max(hlc, merge.after(held["hlc"]))
        record, stamps = merge.with_values(
            held, _stamps(stamps_json), json.loads(loser_json), stamp
        )
        cursor.execute("UPDATE sync_conflict SET status = 'reversed' WHERE id = %s", (conflict_id,))
        seqs = insert_down(
            cursor,
            [DownChange(table, key, record, stamp), *_conflict_notices(cursor, conflict_id)],
        )
        _store_shared(
            cursor, [(table, key, record, None, stamp, False, merge.settle(stamps, seqs[0]), seq)]
        )
    connection.commit()
