"""The waitlist: who wants an earlier or a particular slot, and offering freed slots to them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.reception.models import AppointmentType, Patient, Practitioner, WaitlistEntry
from physioez.reception.services.schedule_setup import parse_clock

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PRIORITIES = {1: "Urgent", 2: "Normal", 3: "Whenever"}


def add(
    actor: Actor,
    *,
    patient_id: str,
    type_id: str,
    practitioner_id: str | None,
    priority: int = 2,
    weekdays: Iterable[str] = (),
    earliest: str | None = None,
    latest: str | None = None,
    note: str = "",
) -> WaitlistEntry:
    if priority not in PRIORITIES:
        raise InvalidInput("Choose urgent, normal or whenever.", field="priority")
    days = [d for d in dict.fromkeys(weekdays)]
    if set(days) - set(WEEKDAY_CODES):
        raise InvalidInput("Unknown weekday.", field="weekdays")
    if earliest:
        parse_clock(earliest, "earliest_time")
    if latest:
        parse_clock(latest, "latest_time")
    if earliest and latest and latest <= earliest:
        raise InvalidInput("'Latest' must be after 'earliest'.", field="latest_time")
    _refuse_unknown(patient_id, type_id, practitioner_id)
    return records.create(
        WaitlistEntry,
        actor,
        patient=patient_id,
        type=type_id,
        practitioner=practitioner_id or None,
        priority=priority,
        preferred_weekdays=days,
        earliest_time=earliest or None,
        latest_time=latest or None,
        note=note.strip()[:500],
    )


def _refuse_unknown(patient_id: str, type_id: str, practitioner_id: str | None) -> None:
    """A 422 naming what the desk chose that is gone (removed since the page was opened)
    rather than the database's refusal of a dangling key."""
    if not Patient.live().where(Patient.id == patient_id).exists():
        raise InvalidInput("That patient is not on file (or was removed).", field="patient_id")
    if not AppointmentType.live().where(AppointmentType.id == type_id).exists():
        raise InvalidInput("Choose an appointment type from the list.", field="type_id")
    if (
        practitioner_id
        and not Practitioner.live().where(Practitioner.id == practitioner_id).exists()
    ):
        raise InvalidInput(
            "Choose a practitioner from the list, or Anyone.", field="practitioner_id"
        )


def open_entries() -> list[WaitlistEntry]:
    return list(
        WaitlistEntry.live()
        .where(WaitlistEntry.status.in_(("waiting", "offered")))
        .order_by(WaitlistEntry.priority, WaitlistEntry.created_at)
    )


def matches(
    start: datetime, practitioner_id: str, type_id: str, timezone: str, limit: int = 3
) -> list[WaitlistEntry]:
    """Waiting entries that would take this slot, most urgent and longest-waiting first."""
    local = start.astimezone(ZoneInfo(timezone))
    weekday = WEEKDAY_CODES[local.weekday()]
    clock = local.strftime("%H:%M")
    found = []
    for entry in open_entries():
        if entry.status != "waiting" or entry.type_id != type_id:
            continue
        if entry.practitioner_id and entry.practitioner_id != practitioner_id:
            continue
        if entry.preferred_weekdays and weekday not in entry.preferred_weekdays:
            continue
        if (entry.earliest_time and clock < entry.earliest_time) or (
            entry.latest_time and clock > entry.latest_time
        ):
            continue
        found.append(entry)
        if len(found) == limit:
            break
    return found


def offer(actor: Actor, entries: Iterable[WaitlistEntry], start: datetime) -> int:
    count = 0
    for entry in entries:
        records.update(
            entry,
            actor,
            action="waitlist_entry.offered",
            status="offered",
            offered_appointment_start=start.isoformat(),
        )
        count += 1
    return count


def close(actor: Actor, entry: WaitlistEntry, status: str) -> WaitlistEntry:
    if status not in ("booked", "removed", "waiting"):
        raise InvalidInput("Unknown waitlist state.", field="status")
    if entry.status in ("booked", "removed"):
        raise Conflict("This waitlist entry is already closed.")
    return records.update(
        entry,
        actor,
        action=f"waitlist_entry.{status}",
        status=status,
        offered_appointment_start=None if status == "waiting" else entry.offered_appointment_start,
    )
