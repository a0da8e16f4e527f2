"""Practitioners' read-only calendar feeds: made, listed, revoked, and rendered."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.errors import Conflict, NotFound
from physioez.core.kernel.models import utcnow
from physioez.reception.models import Appointment, AppointmentType, CalendarFeed, Patient
from physioez.reception.services.icalfeed import FeedEvent, build_feed

# What a subscribed phone shows: a month back for context, three months ahead to plan.
PAST = timedelta(days=30)
AHEAD = timedelta(days=90)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(actor: Actor, practitioner_id: str) -> tuple[CalendarFeed, str]:
    """Return the feed and its secret token, which is shown once (it is the whole URL)."""
    token = secrets.token_urlsafe(32)
    feed = records.create(
        CalendarFeed,
        actor,
        practitioner=practitioner_id,
        token_hash=_digest(token),
        created_by=actor.staff_id,
    )
    return feed, token


def revoke_feed(actor: Actor, feed: CalendarFeed) -> CalendarFeed:
    if feed.revoked_at is not None:
        raise Conflict("This feed was already revoked.")
    return records.update(feed, actor, action="calendar_feed.revoked", revoked_at=utcnow())


def feeds_of(practitioner_id: str) -> list[CalendarFeed]:
    return list(
        CalendarFeed.select()
        .where(CalendarFeed.practitioner == practitioner_id, CalendarFeed.revoked_at.is_null())
        .order_by(CalendarFeed.created_at)
    )


def feed_for_token(token: str) -> CalendarFeed:
    feed = CalendarFeed.get_or_none(CalendarFeed.token_hash == _digest(token))
    if feed is None or feed.revoked_at is not None:
        raise NotFound("This calendar link is not valid any more. Ask for a new one.")
    return feed


def _initials(patient: Patient) -> str:
    # A phone's calendar is not a place for patient names: initials are enough to plan by.
    parts = [patient.first_name, patient.last_name]
    return "".join(f"{p[0].upper()}." for p in parts if p)


STATUS_MAP = {"cancelled": "CANCELLED", "no_show": "CANCELLED", "booked": "TENTATIVE"}


def render(feed: CalendarFeed, branch_name: str, timezone: str) -> bytes:
    now = utcnow()
    rows = (
        Appointment.select(Appointment, Patient, AppointmentType)
        .join(Patient, on=(Appointment.patient == Patient.id))
        .switch(Appointment)
        .join(AppointmentType, on=(Appointment.type == AppointmentType.id))
        .where(
            Appointment.practitioner == feed.practitioner_id,
            Appointment.deleted_at.is_null(),
            Appointment.start_at >= now - PAST,
            Appointment.start_at < now + AHEAD,
        )
    )
    events = [
        FeedEvent(
            uid=a.id,
            start_utc=a.start_at,
            end_utc=a.end_at,
            summary=f"{_initials(a.patient)} {a.type.name}",
            location=branch_name,
            status=STATUS_MAP.get(a.status, "CONFIRMED"),
            updated_utc=a.updated_at,
            sequence=a.version,
        )
        for a in rows
    ]
    name = f"{feed.practitioner.display_name} · {branch_name}"
    return build_feed(name, timezone, events)
