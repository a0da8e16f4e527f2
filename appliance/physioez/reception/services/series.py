"""Recurring series: preview every occurrence's clashes, then book them in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import InvalidInput
from physioez.reception.models import Appointment, AppointmentSeries
from physioez.reception.services import appointments, clash, clash_engine, slots
from physioez.reception.services.recurrence import Occurrence, SeriesRule, occurrences
from physioez.reception.services.slots import ClashRefused, Slot


@dataclass(frozen=True)
class PreviewLine:
    occurrence: Occurrence
    clashes: list[clash.Clash]

    @property
    def blocked(self) -> bool:
        return bool(clash_engine.hard_clashes(self.clashes))


def _slot(base: Slot, occurrence: Occurrence) -> Slot:
    return Slot(
        patient_id=base.patient_id,
        practitioner_id=base.practitioner_id,
        type_id=base.type_id,
        start=occurrence.start_utc,
        resource_ids=base.resource_ids,
        notes=base.notes,
    )


def preview(base: Slot, rule: SeriesRule) -> list[PreviewLine]:
    """Each occurrence with what it would clash with, before anything is booked."""
    lines = []
    for occurrence in occurrences(rule):
        _, found = slots.check_slot(
            _slot(base, occurrence), rule.timezone, candidate_id=f"occurrence-{occurrence.index}"
        )
        lines.append(PreviewLine(occurrence, found))
    return lines


def book_series(
    actor: Actor,
    base: Slot,
    rule: SeriesRule,
    *,
    skip: Iterable[int] = (),
    override_reason: str = "",
) -> list[Appointment]:
    """Book every occurrence not skipped, all or nothing.

    Occurrences are booked one after another in one transaction, so each is checked against
    the book *and* the series' earlier occurrences; any refusal rolls the whole series back.
    """
    skipped = set(skip)
    wanted = [o for o in occurrences(rule) if o.index not in skipped]
    if not wanted:
        raise InvalidInput("Every occurrence is skipped: nothing to book.", field="skip")
    # The series row is written first; an unknown patient must be refused before it, not
    # by the database's foreign key under it.
    slots.validate_slot(base)
    with write_transaction():
        series = records.create(
            AppointmentSeries,
            actor,
            patient=base.patient_id,
            practitioner=base.practitioner_id,
            type=base.type_id,
            rrule=rule.to_rrule_string(),
            local_start=rule.local_start.isoformat(),
            timezone=rule.timezone,
        )
        booked = []
        for occurrence in wanted:
            try:
                booked.append(
                    appointments.book(
                        actor,
                        _slot(base, occurrence),
                        rule.timezone,
                        override_reason=override_reason,
                        series_id=series.id,
                        series_index=occurrence.index,
                    )
                )
            except ClashRefused as refused:
                when = occurrence.local_start.strftime("%a %d %b %H:%M")
                refused.message = f"Session {occurrence.index + 1} ({when}): {refused.message}"
                refused.args = (refused.message,)
                raise
    return booked


def cancel_following(
    actor: Actor, appointment: Appointment, reason: str, late_cancel_hours: int
) -> int:
    """'This and following': cancel this occurrence and every later open one of its series."""
    if appointment.series_id is None:
        raise InvalidInput("This appointment is not part of a series.", field="scope")
    later = (
        Appointment.live()
        .where(
            Appointment.series == appointment.series_id,
            Appointment.series_index >= appointment.series_index,
            Appointment.status.in_(("booked", "confirmed")),
        )
        .order_by(Appointment.series_index)
    )
    count = 0
    with write_transaction():
        for item in later:
            appointments.cancel(actor, item, reason, late_cancel_hours)
            count += 1
    return count
