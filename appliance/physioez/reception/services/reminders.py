"""Next-day reminders: queued per channel, only where the patient said yes to that channel."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.reception.models import Appointment, Patient, Reminder
from physioez.reception.services.patients import current_consents

CHANNEL_CONSENT = {
    "sms": "reminders_sms",
    "whatsapp": "reminders_whatsapp",
    "email": "reminders_email",
}
# Reminders go out the evening before, never at night.
SEND_AT = time(18, 0)


def queue_for_day(actor: Actor, day: date, timezone: str) -> dict[str, int]:
    """Queue reminders for every open appointment on ``day``; safe to run again."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    end = start + timedelta(days=1)
    send_after = datetime.combine(day - timedelta(days=1), SEND_AT, zone)
    counts = {"queued": 0, "no_consent": 0, "already": 0}
    due = Appointment.live().where(
        Appointment.status.in_(("booked", "confirmed")),
        Appointment.start_at >= start,
        Appointment.start_at < end,
    )
    with write_transaction():
        for appointment in due:
            patient = Patient.get_by_id(appointment.patient_id)
            consents = current_consents(patient)
            existing = {
                r.channel: r
                for r in Reminder.select().where(Reminder.appointment == appointment.id)
            }
            for channel, consent_kind in CHANNEL_CONSENT.items():
                consent = consents.get(consent_kind)
                if consent is None or not consent.given:
                    counts["no_consent"] += 1
                    continue
                destination = patient.email if channel == "email" else patient.phone
                if not destination:
                    counts["no_consent"] += 1
                    continue
                previous = existing.get(channel)
                if previous is not None and previous.status != "cancelled":
                    counts["already"] += 1
                    continue
                if previous is not None:  # Moved back onto this day: queue it afresh.
                    records.update(
                        previous,
                        actor,
                        action="reminder.requeued",
                        status="queued",
                        destination=destination,
                        send_after=send_after,
                    )
                    counts["queued"] += 1
                    continue
                records.create(
                    Reminder,
                    actor,
                    appointment=appointment.id,
                    channel=channel,
                    status="queued",
                    destination=destination,
                    send_after=send_after,
                )
                counts["queued"] += 1
    return counts


def cancel_for(actor: Actor, appointment: Appointment) -> int:
    """An appointment that moved or was cancelled must not be reminded of."""
    count = 0
    for reminder in Reminder.select().where(
        Reminder.appointment == appointment.id, Reminder.status == "queued"
    ):
        records.update(reminder, actor, action="reminder.cancelled", status="cancelled")
        count += 1
    return count


def queue_for(day: date, timezone: str) -> list[Reminder]:
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    end = start + timedelta(days=1)
    return list(
        Reminder.select(Reminder, Appointment)
        .join(Appointment, on=(Reminder.appointment == Appointment.id))
        .where(Appointment.start_at >= start, Appointment.start_at < end)
        .order_by(Appointment.start_at, Reminder.channel)
    )
