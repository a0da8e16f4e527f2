"""Head office's changes applied on the branch, with capture off.

Rows come down for tables head office owns (staff, roles, the price list) or shares
(patients). Each is written straight to its table — not through the outbox, so nothing echoes
back up — when it is newer (by HLC) than what the branch holds; each write is still audited,
under head office's name. A row for a table the branch owns is refused: head office cannot
overwrite a branch's invoices.
"""

from __future__ import annotations

import logging
from datetime import date

from peewee import Field

from physioez.core.kernel import policies
from physioez.core.kernel.audit import Actor, record_mutation
from physioez.core.kernel.canonical import canonical_json
from physioez.core.kernel.clock import ClockDriftError, HlcTimestamp
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.events import RolesChanged, StaffChanged, bus
from physioez.core.kernel.models import (
    REPLICATED_MODELS,
    ChainPolicy,
    IsoDateField,
    ReplicatedModel,
    Role,
    Staff,
    UtcDateTimeField,
    format_utc,
    parse_utc,
    utcnow,
)
from physioez.core.kernel.node import current_node
from physioez.sync.services import envelope

log = logging.getLogger(__name__)
HEAD_OFFICE = Actor.system("head-office")


_known: tuple[int, dict[str, type[ReplicatedModel]]] = (-1, {})


def replicated_models() -> dict[str, type[ReplicatedModel]]:
    """Every replicated table of the modules imported so far, by table name; rebuilt only
    when a model was added (the publisher asks for every batch, and a process that asked
    before its last module was imported must not keep a short list)."""
    global _known
    count, found = _known
    if count != len(REPLICATED_MODELS):
        count = len(REPLICATED_MODELS)
        found = {model._meta.table_name: model for model in REPLICATED_MODELS}
        _known = (count, found)
    return found


def hq_applied_seq() -> int:
    row = database.execute_sql(
        "SELECT value FROM sync_state WHERE name = 'hq_applied_seq'"
    ).fetchone()
    return int(row[0]) if row else 0


def _db_value(field: Field, value):
    if value is None:
        return None
    if isinstance(field, UtcDateTimeField):
        value = parse_utc(value)
    elif isinstance(field, IsoDateField):
        value = date.fromisoformat(value)
    elif isinstance(value, str) and field.field_type == "BLOB":
        value = bytes.fromhex(value)
    return field.db_value(value)


def apply_down(rows: list[dict], last_hq_seq: int) -> tuple[int, int]:
    """Apply head office's rows in one transaction; returns (applied, skipped)."""
    models = replicated_models()
    applied = skipped = 0
    with write_transaction():
        applied_before = hq_applied_seq()
        if last_hq_seq <= applied_before:
            return 0, len(rows)  # a batch seen before
        for row in rows:
            if row["seq"] <= applied_before:
                skipped += 1
                continue
            if row["table"] == envelope.CONFLICT_NOTICE_TABLE:
                _note_conflict(row["row"])
                applied += 1
                continue
            model = models.get(row["table"])
            if model is None or model.ownership not in ("hq", "shared"):
                log.warning(
                    "refused head office's row for %s: not a table it may write", row["table"]
                )
                skipped += 1
                continue
            if _upsert(model, row):
                applied += 1
                _observe(row["hlc"])
                _announce(model, row["row"])
            else:
                skipped += 1
        database.execute_sql(
            "INSERT INTO sync_state (name, value) VALUES ('hq_applied_seq', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)",
            (last_hq_seq,),
        )
    return applied, skipped


def _announce(model: type[ReplicatedModel], data: dict) -> None:
    """What the rest of the branch must hear about head office's change (after the commit):
    new policies rebuild the settings; a person's account or a role changing drops their
    live connections so they reconnect through the sign-in checks."""
    branch = current_node().branch_id
    if model is ChainPolicy:
        policies.changed(branch)
    elif model is Role:
        bus.publish(RolesChanged(branch=branch, payload={"role": data.get("code")}))
    elif model is Staff:
        change = "roles_changed" if data.get("active", True) else "deactivated"
        bus.publish(
            StaffChanged(
                branch=branch,
                payload={"staff_id": data.get("id"), "change": change},
                audience_roles=("owner", "branch_manager", "clinic_admin", "it_admin"),
            )
        )


def _note_conflict(notice: dict) -> None:
    """Head office tells of a conflict this branch took part in, or of its reversal."""
    before = database.execute_sql(
        "SELECT status FROM sync_conflict_notice WHERE id = ?", (notice["id"],)
    ).fetchone()
    database.execute_sql(
        "INSERT INTO sync_conflict_notice (id, table_name, row_key, fields, winner_branch, "
        "loser_branch, winner_values, loser_values, status, detected_at, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "status = excluded.status, received_at = excluded.received_at",
        (
            notice["id"],
            notice["table"],
            notice["key"],
            canonical_json(notice["fields"]),
            notice["winner"],
            notice["loser"],
            canonical_json(notice["winner_values"]),
            canonical_json(notice["loser_values"]),
            notice["status"],
            notice["detected_at"],
            format_utc(utcnow()),
        ),
    )
    record_mutation(
        HEAD_OFFICE,
        "sync_conflict.noticed",
        "sync_conflict",
        str(notice["id"]),
        None if before is None else {"status": before[0]},
        {
            "status": notice["status"],
            "table": notice["table"],
            "key": notice["key"],
            "fields": notice["fields"],
            "winner": notice["winner"],
            "loser": notice["loser"],
        },
    )


def open_conflict_notices(limit: int = 50) -> list[dict]:
    """The open conflicts this branch took part in, newest first."""
    rows = database.execute_sql(
        "SELECT id, table_name, row_key, fields, winner_branch, loser_branch, winner_values, "
        "loser_values, status, detected_at FROM sync_conflict_notice WHERE status = 'open' "
        "ORDER BY id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    notices = [envelope.conflict_from_row(row) for row in rows]
    for notice in notices:
        notice["detected_at"] = parse_utc(notice["detected_at"])
    return notices


def _observe(hlc: str) -> None:
    """Move this branch's clock past what it just received, so an edit made here afterwards
    orders after it. A remote clock further ahead than the drift limit is not followed (it
    would drag this branch into the future); such an edit can lose to the received one."""
    try:
        current_node().clock.update(HlcTimestamp.parse(hlc))
    except (ClockDriftError, ValueError) as exc:
        log.warning("head office's change carries a clock this branch does not follow: %s", exc)


_UPSERT_SQL: dict[tuple[type, frozenset[str]], tuple[list[Field], str]] = {}


def _upsert_sql(model: type[ReplicatedModel], names: frozenset[str]) -> tuple[list[Field], str]:
    """The INSERT … ON CONFLICT for ``model``'s fields named in a row, built once per shape:
    every shared patient of the chain comes down through here."""
    key = (model, names)
    cached = _UPSERT_SQL.get(key)
    if cached is None:
        fields = [field for field in model._meta.sorted_fields if field.name in names]
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        marks = ", ".join("?" for _ in fields)
        updates = ", ".join(
            f'"{field.column_name}" = excluded."{field.column_name}"'
            for field in fields
            if not field.primary_key
        )
        sql = (
            f'INSERT INTO "{model._meta.table_name}" ({columns}) '  # noqa: S608 - model columns
            f"VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}"
        )
        cached = _UPSERT_SQL[key] = (fields, sql)
    return cached


def _upsert(model: type[ReplicatedModel], row: dict) -> bool:
    """Write the row if it is newer than the branch's copy; audited, never outboxed."""
    data = row["row"]
    table = model._meta.table_name
    current = database.execute_sql(
        f'SELECT hlc FROM "{table}" WHERE id = ?',  # noqa: S608 - a model's own table name
        (row["key"],),
    ).fetchone()
    if current is not None and current[0] >= row["hlc"]:
        return False  # the branch already has this state, or a newer one
    fields, sql = _upsert_sql(model, frozenset(data))
    database.execute_sql(sql, [_db_value(field, data.get(field.name)) for field in fields])
    record_mutation(
        HEAD_OFFICE,
        f"{model.audit_entity or table}.replicated",
        model.audit_entity or table,
        row["key"],
        None,
        model.redacted(data),
        detail={"hq_seq": row["seq"], "hlc": row["hlc"]},
    )
    return True
