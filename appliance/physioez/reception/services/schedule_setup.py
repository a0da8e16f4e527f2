"""What the appointment book is made of: practitioners and their hours, rooms, equipment,
appointment types, and the clinic's clash rules. Changes are rare; reads are on every booking.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor, record_mutation
from physioez.core.kernel.bounds import checked_ids
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.models import Staff, fetch_by_id, format_utc, utcnow
from physioez.reception.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Practitioner,
    Resource,
)
from physioez.reception.services.clash import ClashPolicy, Interval, Rule, Severity

TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def parse_clock(text: str, field: str) -> time:
    if not TIME_RE.match(text or ""):
        raise InvalidInput("Enter a time like 09:30 (24-hour clock).", field=field)
    return time.fromisoformat(text)


def _check_span(start: str, end: str) -> None:
    if parse_clock(end, "end_time") <= parse_clock(start, "start_time"):
        raise InvalidInput("The end must be after the start.", field="end_time")


# --- practitioners and hours -------------------------------------------------------------------


def make_practitioner(actor: Actor, staff: Staff, colour: str = "#0f766e") -> Practitioner:
    if Practitioner.select().where(Practitioner.staff_id == staff.id).exists():
        raise Conflict(f"{staff.full_name} is already in the appointment book.")
    return records.create(
        Practitioner, actor, staff_id=staff.id, display_name=staff.full_name, colour=colour
    )


def get_practitioner(practitioner_id: str) -> Practitioner:
    found = fetch_by_id(Practitioner, practitioner_id)
    if found is None or found.deleted_at is not None:
        raise NotFound("No such practitioner.")
    return found


def active_practitioners() -> list[Practitioner]:
    return list(
        Practitioner.live()
        .where(Practitioner.active == True)  # noqa: E712
        .order_by(Practitioner.display_name)
    )


def add_weekly_hours(
    actor: Actor,
    practitioner: Practitioner,
    weekday: int,
    start_time: str,
    end_time: str,
    valid_from: date | None = None,
) -> AvailabilityRule:
    if not 0 <= weekday <= 6:
        raise InvalidInput("Choose a weekday.", field="weekday")
    _check_span(start_time, end_time)
    return records.create(
        AvailabilityRule,
        actor,
        practitioner=practitioner.id,
        weekday=weekday,
        start_time=start_time,
        end_time=end_time,
        valid_from=valid_from,
    )


def add_exception(
    actor: Actor,
    practitioner: Practitioner,
    *,
    day: date,
    kind: str,
    start_time: str | None = None,
    end_time: str | None = None,
    reason: str = "",
) -> AvailabilityException:
    if kind not in ("leave", "extra"):
        raise InvalidInput("Choose leave or an extra shift.", field="kind")
    if (start_time is None) != (end_time is None):
        raise InvalidInput(
            "Give both a start and an end time, or neither (whole day).", field="start_time"
        )
    if start_time is not None and end_time is not None:
        _check_span(start_time, end_time)
    elif kind == "extra":
        raise InvalidInput("An extra shift needs its hours.", field="start_time")
    return records.create(
        AvailabilityException,
        actor,
        practitioner=practitioner.id,
        day=day,
        kind=kind,
        start_time=start_time,
        end_time=end_time,
        reason=reason.strip()[:200],
    )


@dataclass(frozen=True)
class Hours:
    """Working hours and leave of practitioners over some days, as UTC intervals."""

    availability: dict[str, list[Interval]]
    leave: dict[str, list[Interval]]


def _local_span(day: date, start: str, end: str, zone: ZoneInfo) -> Interval:
    begin = datetime.combine(day, time.fromisoformat(start), zone)
    finish = datetime.combine(day, time.fromisoformat(end), zone)
    return Interval(begin, finish)


def hours_between(
    practitioner_ids: Iterable[str], first_day: date, last_day: date, timezone: str
) -> Hours:
    """Expand weekly hours, extra shifts and leave into intervals for each day asked."""
    ids = list(dict.fromkeys(practitioner_ids))
    zone = ZoneInfo(timezone)
    availability: dict[str, list[Interval]] = {pid: [] for pid in ids}
    leave: dict[str, list[Interval]] = defaultdict(list)
    if not ids:
        return Hours(availability, {})
    marks = ",".join("?" * len(ids))
    rules = defaultdict(list)
    for pid, weekday, start, end, valid_from, valid_until in database.execute_sql(
        "SELECT practitioner_id, weekday, start_time, end_time, valid_from, valid_until "  # noqa: S608
        f"FROM availability_rule WHERE deleted_at IS NULL AND practitioner_id IN ({marks})",
        ids,
    ).fetchall():
        rules[(pid, weekday)].append((start, end, valid_from, valid_until))
    day = first_day
    while day <= last_day:
        stamp = day.isoformat()
        for pid in ids:
            for start, end, valid_from, valid_until in rules.get((pid, day.weekday()), ()):
                if (valid_from and stamp < valid_from) or (valid_until and stamp > valid_until):
                    continue
                availability[pid].append(_local_span(day, start, end, zone))
        day += timedelta(days=1)
    for pid, day_text, kind, start, end in database.execute_sql(
        "SELECT practitioner_id, day, kind, start_time, end_time FROM availability_exception "  # noqa: S608
        f"WHERE deleted_at IS NULL AND practitioner_id IN ({marks}) AND day BETWEEN ? AND ?",
        [*ids, first_day.isoformat(), last_day.isoformat()],
    ).fetchall():
        day = date.fromisoformat(day_text)
        span = (
            _local_span(day, start, end, zone)
            if start
            else _local_span(day, "00:00", "23:59", zone)
        )
        if kind == "extra":
            availability[pid].append(span)
        else:
            if not start:  # Whole day: to midnight, not 23:59.
                span = Interval(span.start, datetime.combine(day + timedelta(days=1), time(), zone))
            leave[pid].append(span)
    return Hours(availability, dict(leave))


# --- rooms, equipment, appointment types ------------------------------------------------------


def create_resource(actor: Actor, *, kind: str, name: str, capacity: int = 1) -> Resource:
    if kind not in ("room", "equipment"):
        raise InvalidInput("Choose room or equipment.", field="kind")
    if not name.strip():
        raise InvalidInput("Give it a name the desk will recognise.", field="name")
    if not 1 <= capacity <= 100:
        raise InvalidInput("Capacity is between 1 and 100.", field="capacity")
    return records.create(Resource, actor, kind=kind, name=name.strip(), capacity=capacity)


def create_appointment_type(
    actor: Actor,
    *,
    name: str,
    duration_minutes: int,
    service_code: str = "",
    group_capacity: int = 1,
    resource_ids: Iterable[str] = (),
    colour: str = "#2563eb",
) -> AppointmentType:
    if not name.strip():
        raise InvalidInput("Name the appointment type.", field="name")
    if not 5 <= duration_minutes <= 480 or duration_minutes % 5:
        raise InvalidInput("Duration is 5 to 480 minutes, in steps of 5.", field="duration_minutes")
    if not 1 <= group_capacity <= 50:
        raise InvalidInput("A class has 1 to 50 places.", field="group_capacity")
    wanted = known_resources(resource_ids)
    return records.create(
        AppointmentType,
        actor,
        name=name.strip(),
        duration_minutes=duration_minutes,
        service_code=service_code.strip(),
        group_capacity=group_capacity,
        resource_ids=wanted,
        colour=colour,
    )


def known_resources(resource_ids: Iterable[str]) -> list[str]:
    """``resource_ids`` without repeats, each an existing room or equipment; an unknown one
    is named in the refusal."""
    wanted = list(dict.fromkeys(resource_ids))
    known = {r.id for r in Resource.live().where(Resource.id.in_(wanted))} if wanted else set()
    return checked_ids(wanted, known, "Room or equipment", "resource_ids")


def get_type(type_id: str) -> AppointmentType:
    found = fetch_by_id(AppointmentType, type_id)
    if found is None or found.deleted_at is not None or not found.active:
        raise NotFound("No such appointment type.")
    return found


# --- clash rules -------------------------------------------------------------------------------

RULE_LABELS = {
    Rule.PRACTITIONER_BUSY: "Practitioner already booked",
    Rule.RESOURCE_FULL: "Room or equipment full",
    Rule.PATIENT_BUSY: "Patient booked elsewhere at the same time",
    Rule.OUTSIDE_AVAILABILITY: "Outside the practitioner's hours",
    Rule.ON_LEAVE: "Practitioner on leave",
    Rule.CLASS_FULL: "Group class full",
}


def clash_policy() -> ClashPolicy:
    chosen = dict(database.execute_sql("SELECT rule, severity FROM clash_rule_setting").fetchall())
    return ClashPolicy(
        **{rule: severity for rule, severity in chosen.items() if rule in Rule.__members__.values()}
    )


def set_clash_rule(actor: Actor, rule: str, severity: str) -> ClashPolicy:
    if rule not in {r.value for r in Rule}:
        raise InvalidInput("Unknown clash rule.", field="rule")
    if severity not in {s.value for s in Severity}:
        raise InvalidInput("Choose block or warn.", field="severity")
    with write_transaction():
        before = clash_policy().severity(Rule(rule)).value
        if before == severity:  # Already so: nothing to write or audit.
            return clash_policy()
        database.execute_sql(
            "INSERT INTO clash_rule_setting (rule, severity, updated_at, updated_by) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (rule) DO UPDATE SET severity = excluded.severity, "
            "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (rule, severity, format_utc(utcnow()), actor.staff_id),
        )
        record_mutation(
            actor,
            "clash_rule.changed",
            "clash_rule",
            rule,
            {"severity": before},
            {"severity": severity},
        )
    return clash_policy()


def remove_record(actor: Actor, row) -> None:
    """Take hours, leave, a room or a type out of use; history stays in the audit log."""
    if row.deleted_at is not None:
        raise Conflict("Already removed.")
    if isinstance(row, Resource):
        users = [t.name for t in AppointmentType.live() if row.id in t.resource_ids]
        if users:
            raise Conflict(
                f"{row.name} is still needed by: {', '.join(users)}. "
                "Change or remove those types first."
            )
    records.soft_delete(row, actor)


def staff_who_could_practise() -> list[Staff]:
    """Active clinicians not yet in the book: the choices for 'add practitioner'."""
    taken = {p.staff_id for p in Practitioner.select(Practitioner.staff_id)}
    clinicians = ("therapist", "junior_therapist")
    return [
        s
        for s in Staff.live().where(Staff.active == True).order_by(Staff.full_name)  # noqa: E712
        if s.id not in taken and set(s.role_codes) & set(clinicians)
    ]


def hours_of(practitioner: Practitioner) -> list[AvailabilityRule]:
    return list(
        AvailabilityRule.live()
        .where(AvailabilityRule.practitioner == practitioner.id)
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time)
    )


def upcoming_exceptions(practitioner: Practitioner, from_day: date) -> list[AvailabilityException]:
    return list(
        AvailabilityException.live()
        .where(
            AvailabilityException.practitioner == practitioner.id,
            AvailabilityException.day >= from_day,
        )
        .order_by(AvailabilityException.day)
    )
