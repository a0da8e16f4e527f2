"""The audit chain: who did what to which record, hash-chained so edits are detectable.

Each event's hash covers its own content and the previous event's hash. The writer holds
the one write lock (see ``core.db``), so the chain has a single tip and needs no retries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from physioez.core.kernel.canonical import canonical_json
from physioez.core.kernel.db import database, require_transaction, write_transaction
from physioez.core.kernel.ids import uuid7_str
from physioez.core.kernel.models import AuditEvent, format_utc, insert_row, utcnow

GENESIS_HASH = "0" * 64

# The fields a hash covers, in order; changing this list breaks every existing chain.
_HASHED_FIELDS = (
    "id",
    "at",
    "kind",
    "actor_id",
    "actor_roles",
    "ip",
    "device",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "detail",
)


@dataclass(frozen=True)
class Actor:
    """Who is acting, from where: every service call that writes takes one."""

    staff_id: str | None
    roles: tuple[str, ...]
    ip: str = "local"
    device: str = "unknown"
    # What this actor may do right now, when narrower than its roles (an API token's scopes).
    permissions: frozenset[str] | None = None

    @classmethod
    def system(cls, device: str) -> Actor:
        """The appliance itself (CLI, scheduled jobs, first start)."""
        return cls(staff_id=None, roles=("system",), ip="local", device=device)

    @property
    def label(self) -> str:
        return self.staff_id or "system"


def _event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = canonical_json([fields[name] for name in _HASHED_FIELDS])
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _tip_hash() -> str:
    row = database.execute_sql("SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchone()
    return row[0] if row else GENESIS_HASH


def _dump(value: Any) -> str | None:
    return None if value is None else canonical_json(value)


def _append(
    kind: str,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    before: Any = None,
    after: Any = None,
    detail: Any = None,
) -> AuditEvent:
    require_transaction("An audit event")
    fields = {
        "id": uuid7_str(),
        "at": format_utc(utcnow()),
        "kind": kind,
        "actor_id": actor.staff_id,
        "actor_roles": ",".join(actor.roles),
        "ip": actor.ip[:64],
        "device": actor.device[:256],
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "before": _dump(before),
        "after": _dump(after),
        "detail": _dump(detail),
    }
    prev_hash = _tip_hash()
    event = AuditEvent(**fields, prev_hash=prev_hash, hash=_event_hash(prev_hash, fields))
    insert_row(event)
    return event


def record_mutation(
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    detail: Any = None,
) -> AuditEvent:
    """Log a change; must run inside the change's own write transaction."""
    return _append("mutation", actor, action, entity_type, entity_id, before, after, detail)


def record_read(actor: Actor, entity_type: str, entity_id: str, purpose: str) -> None:
    """Log that ``actor`` opened a sensitive record (clinical notes, documents)."""
    with write_transaction():
        _append(
            "read",
            actor,
            f"{entity_type}.read",
            entity_type,
            entity_id,
            detail={"purpose": purpose},
        )


def record_security(
    actor: Actor, action: str, entity_type: str, entity_id: str, detail: Any = None
) -> None:
    """Log a security-relevant happening (failed sign-in, lockout, rate limit)."""
    with write_transaction():
        _append("security", actor, action, entity_type, entity_id, detail=detail)


# --- verification and history ---------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: str
    reason: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _iter_events(batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(
            AuditEvent.select().where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain() -> VerifyResult:
    """Walk the chain from the start; report the first event whose hash or link is wrong."""
    expected_prev = GENESIS_HASH
    checked = 0
    with database.connection_context():
        for event in _iter_events():
            if event.prev_hash != expected_prev:
                return VerifyResult(
                    checked,
                    ChainBreak(
                        event.seq,
                        event.id,
                        "its link to the previous event is broken "
                        "(an event before it was removed or altered)",
                    ),
                )
            fields = {name: getattr(event, name) for name in _HASHED_FIELDS}
            if _event_hash(event.prev_hash, fields) != event.hash:
                return VerifyResult(
                    checked, ChainBreak(event.seq, event.id, "its content was altered")
                )
            expected_prev = event.hash
            checked += 1
    return VerifyResult(checked, None)


@dataclass(frozen=True)
class HistoricalState:
    entity_type: str
    entity_id: str
    at: datetime
    exists: bool
    state: dict[str, Any] | None
    as_of_event: str | None


def state_at(entity_type: str, entity_id: str, at: datetime) -> HistoricalState:
    """Rebuild a record as it was at ``at`` from the mutations logged for it."""
    last = (
        AuditEvent.select()
        .where(
            (AuditEvent.entity_type == entity_type)
            & (AuditEvent.entity_id == str(entity_id))
            & (AuditEvent.kind == "mutation")
            & (AuditEvent.at <= format_utc(at))
        )
        .order_by(AuditEvent.seq.desc())
        .first()
    )
    if last is None:
        return HistoricalState(entity_type, str(entity_id), at, False, None, None)
    state = json.loads(last.after) if last.after else None
    exists = state is not None and not state.get("deleted_at")
    return HistoricalState(entity_type, str(entity_id), at, exists, state, last.id)
