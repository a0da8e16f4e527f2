"""Reading the audit log for the admin pages and API: filtered, newest first, decoded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from physioez.core.kernel.errors import InvalidInput
from physioez.core.kernel.models import AuditEvent, Staff, format_utc


@dataclass(frozen=True)
class AuditFilter:
    actor_id: str = ""
    action: str = ""
    entity_type: str = ""
    entity_id: str = ""
    kind: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise InvalidInput("'From' must be before 'to'.", field="since")


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_before: int | None


def search_audit(filters: AuditFilter, before_seq: int | None = None, limit: int = 50) -> AuditPage:
    """Newest first, paged by sequence number so pages stay stable while events arrive."""
    query = AuditEvent.select().order_by(AuditEvent.seq.desc())
    if filters.actor_id:
        query = query.where(AuditEvent.actor_id == filters.actor_id)
    if filters.action:
        query = query.where(AuditEvent.action.startswith(filters.action))
    if filters.entity_type:
        query = query.where(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id:
        query = query.where(AuditEvent.entity_id == filters.entity_id)
    if filters.kind:
        query = query.where(AuditEvent.kind == filters.kind)
    if filters.since:
        query = query.where(AuditEvent.at >= format_utc(filters.since))
    if filters.until:
        query = query.where(AuditEvent.at <= format_utc(filters.until))
    if before_seq:
        query = query.where(AuditEvent.seq < before_seq)
    events = list(query.limit(limit + 1))
    more = len(events) > limit
    events = events[:limit]
    return AuditPage(events, events[-1].seq if more and events else None)


def decoded(event: AuditEvent) -> dict[str, Any]:
    """The event's JSON columns as values, for display and the API."""
    return {
        "before": json.loads(event.before) if event.before else None,
        "after": json.loads(event.after) if event.after else None,
        "detail": json.loads(event.detail) if event.detail else None,
    }


def changed_fields(event: AuditEvent) -> list[tuple[str, Any, Any]]:
    values = decoded(event)
    before = values["before"] or {}
    after = values["after"] or {}
    names = sorted(set(before) | set(after))
    return [
        (name, before.get(name), after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    ]


def staff_names() -> dict[str, str]:
    return {staff_id: name for staff_id, name in Staff.select(Staff.id, Staff.full_name).tuples()}
