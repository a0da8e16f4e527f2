"""A read-only iCalendar (RFC 5545) feed of one practitioner's appointments.

Therapists subscribe to this feed from their phone calendar, so it must be boring and exact:
valid RFC 5545 (CRLF line endings, content lines folded at 75 octets, both done by the
``icalendar`` package), stable UIDs so a client updates an event instead of duplicating it, and
byte-identical output for the same input so HTTP caches and ETags work. This module is pure:
the caller loads appointments, turns them into :class:`FeedEvent` values and serves the bytes.

Privacy: a phone calendar is visible on a lock screen and may sync to third-party clouds, so
the feed carries only what the caller puts in ``summary`` and ``location`` (the caller passes
patient initials, never a full name). This module adds no description, attendees, organiser,
contact details or URLs.

Times are written in UTC (``...Z``). The feed therefore needs no VTIMEZONE; ``X-WR-TIMEZONE``
only tells clients which zone to display the calendar in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import Calendar, Event, vText

DEFAULT_PRODUCT_ID = "-//PhysioEZ//Appointment feed//EN"
UID_SUFFIX = "@physioez"
STATUSES: tuple[str, ...] = ("CONFIRMED", "TENTATIVE", "CANCELLED")


class _Text(vText):
    r"""TEXT escaped exactly as RFC 5545 section 3.3.11 says, every backslash kept literal.

    icalendar's ``vText`` first turns a literal ``\N`` into a line break (a documented
    convenience), which would corrupt a name such as ``Room\North``. :func:`_clean` has already
    turned carriage returns into line feeds, so only four characters need escaping.
    """

    def to_ical(self) -> bytes:
        escaped = str(self).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        return escaped.replace("\n", "\\n").encode("utf-8")


@dataclass(frozen=True)
class FeedEvent:
    """One appointment as the feed shows it.

    ``uid`` must be stable for the appointment's lifetime (its id), and ``sequence`` its row
    version, so that a subscribed client replaces its copy when the appointment changes.
    ``updated_utc`` becomes DTSTAMP: using the row's update time rather than "now" is what
    keeps the feed deterministic.
    """

    uid: str
    start_utc: datetime
    end_utc: datetime
    summary: str
    location: str
    status: str
    updated_utc: datetime
    sequence: int


def build_feed(
    calendar_name: str,
    branch_timezone: str,
    events: Iterable[FeedEvent],
    product_id: str = DEFAULT_PRODUCT_ID,
) -> bytes:
    """The feed as RFC 5545 bytes, events ordered by start time, then uid.

    Raises ``ValueError`` for input a calendar client would misread (naive times, an end before
    the start, an unknown status, a repeated uid) instead of publishing a subtly wrong feed.
    """
    _check_text("calendar_name", calendar_name)
    _check_text("product_id", product_id)
    calendar_name = _clean(calendar_name)
    _check_zone(branch_timezone)

    checked = [_checked(event) for event in events]
    seen: set[str] = set()
    for event in checked:
        if event.uid in seen:
            # Two VEVENTs with one UID (and no RECURRENCE-ID) are one event to a client.
            raise ValueError(f"Event uid {event.uid!r} appears more than once in the feed.")
        seen.add(event.uid)
    checked.sort(key=lambda event: (event.start_utc, event.uid))

    calendar = Calendar()
    calendar.add("prodid", product_id)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # icalendar 7 stores unknown X- properties as raw vUnknown: no escaping of commas or
    # semicolons, and a newline trips an assert. Wrap them as TEXT so they are escaped.
    calendar.add("x-wr-calname", _Text(calendar_name))
    calendar.add("x-wr-timezone", _Text(branch_timezone))
    for event in checked:
        calendar.add_component(_vevent(event))
    return calendar.to_ical()


def _vevent(event: FeedEvent) -> Event:
    vevent = Event()
    vevent.add("uid", _Text(event.uid + UID_SUFFIX))
    vevent.add("dtstamp", event.updated_utc)
    vevent.add("dtstart", event.start_utc)
    vevent.add("dtend", event.end_utc)
    vevent.add("summary", _Text(event.summary))
    vevent.add("location", _Text(event.location))
    vevent.add("status", event.status)
    vevent.add("sequence", event.sequence)
    # OPAQUE: the practitioner is busy during a session, so free/busy lookups see it.
    vevent.add("transp", "OPAQUE")
    return vevent


def _checked(event: FeedEvent) -> FeedEvent:
    """The event with its times in UTC, or a ValueError naming what is wrong."""
    if not isinstance(event, FeedEvent):
        raise ValueError(f"Expected a FeedEvent, got {type(event).__name__}.")
    _check_text("uid", event.uid)
    if not event.uid or any(char.isspace() or _is_control(char) for char in event.uid):
        raise ValueError(f"Event uid {event.uid!r} must be non-empty and contain no spaces.")
    _check_text("summary", event.summary)
    _check_text("location", event.location)
    if event.status not in STATUSES:
        raise ValueError(
            f"Event status must be one of {', '.join(STATUSES)}, not {event.status!r}."
        )
    if not isinstance(event.sequence, int) or isinstance(event.sequence, bool):
        raise ValueError("Event sequence must be a whole number (the row version).")
    if event.sequence < 0:
        raise ValueError("Event sequence cannot be negative.")
    start = _utc("start_utc", event.start_utc)
    end = _utc("end_utc", event.end_utc)
    if end <= start:
        raise ValueError(f"Event {event.uid!r} ends at or before its start.")
    return FeedEvent(
        uid=event.uid,
        start_utc=start,
        end_utc=end,
        summary=_clean(event.summary),
        location=_clean(event.location),
        status=event.status,
        updated_utc=_utc("updated_utc", event.updated_utc),
        sequence=event.sequence,
    )


def _utc(name: str, value: datetime) -> datetime:
    # A naive time would be written as floating local time, which every phone shows in its
    # own zone; refuse it rather than guess the branch zone.
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"Event {name} must be a timezone-aware datetime.")
    # Whole seconds: iCalendar has no sub-second precision, and dropping it here keeps the
    # sort order identical to what a client sees.
    return value.astimezone(UTC).replace(microsecond=0)


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text.")


def _clean(text: str) -> str:
    """Text without control characters, which RFC 5545 TEXT forbids.

    icalendar escapes line breaks (a bare CR becomes one too) but passes other control
    characters through raw; they only ever come from bad data and can break strict parsers.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(char for char in text if char in "\t\n" or not _is_control(char))


def _is_control(char: str) -> bool:
    return ord(char) < 0x20 or ord(char) == 0x7F


def _check_zone(name: str) -> None:
    _check_text("branch_timezone", name)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone '{name}'. Use an IANA name such as Asia/Kolkata."
        ) from None
