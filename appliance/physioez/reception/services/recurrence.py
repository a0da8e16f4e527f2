"""Recurring appointment series ("Mon/Wed/Fri 10:00 for 12 sessions") with RRULE semantics.

A physiotherapy plan is booked as a series, so the desk needs one place that turns a rule into
concrete sessions and that answers "what happens if I edit this?". This module is pure: it never
touches Flask or the database. Callers load a series, call these functions and persist the result.

The rule is a small subset of RFC 5545 RRULE: ``FREQ`` (DAILY or WEEKLY), ``INTERVAL`` (1-4),
``BYDAY`` (plain weekdays) and exactly one of ``COUNT`` or ``UNTIL``. Expansion is done by
``dateutil.rrule`` over *naive local wall-clock times*, then each wall time is placed in the
branch's IANA time zone. That is why a 10:00 session stays at 10:00 on the clinic clock when the
clocks change: patients and therapists think in wall-clock time, not in UTC.

Wall times the clock skips or repeats (daylight-saving changes) are resolved like this:

* A time in a spring-forward gap (e.g. 01:30 in Europe/London on the last Sunday of March) does
  not exist. The session moves forward to the first valid time after the gap, i.e. the moment
  the clocks jumped to (02:00 BST). Only that one session moves; later sessions keep 01:30.
  Note that RFC 5545 (section 3.3.5) would instead shift by the gap's length (02:30); we prefer
  the earliest real time so the session moves as little as possible.
* A time in a fall-back overlap (01:30 in London on the last Sunday of October) happens twice.
  The session takes the first one (``fold=0``, still on summer time), as RFC 5545 specifies.

A session's end is its start plus ``duration_minutes`` of elapsed time, so a 45-minute session
lasts 45 real minutes even if the clocks change during it.

Editing a series. A series is identified by its occurrences' indexes (0, 1, 2, ...), which stay
stable as long as the rule does. The desk's three edit choices map onto these functions:

* "This session only" (change or cancel one occurrence) never alters the rule. The caller
  stores an exception for that occurrence index (a moved time, or a cancellation) and applies
  it on top of :func:`occurrences`.
* "This and following sessions" is :func:`split_at`: the old series ends just before the chosen
  occurrence and a new series, which the caller may then edit, starts at it.
* "All sessions" replaces the rule for the sessions that are not yet past; sessions that already
  happened are history and must not change. ``k = remaining_from(rule, now_utc)`` finds the first
  session not yet started; if ``k == 0`` the whole rule is replaced, otherwise the caller keeps
  ``split_at(rule, k)[0]`` for the past and replaces the second part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as du

WEEKDAYS: tuple[str, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FREQUENCIES: tuple[str, ...] = ("DAILY", "WEEKLY")
MAX_SESSIONS = 104
MAX_INTERVAL = 4
MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DU_FREQ: dict[str, Any] = {"DAILY": du.DAILY, "WEEKLY": du.WEEKLY}
_DU_WEEKDAY = dict(zip(WEEKDAYS, (du.MO, du.TU, du.WE, du.TH, du.FR, du.SA, du.SU), strict=True))


def _is_int(value: object) -> bool:
    # bool is an int subclass; True sessions or an interval of False is always a caller bug.
    return isinstance(value, int) and not isinstance(value, bool)


def _zone(name: str) -> ZoneInfo:
    """The IANA zone, or a ValueError the desk can act on (never a KeyError from zoneinfo)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("Choose the branch time zone, for example Asia/Kolkata.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown time zone '{name}'. Use an IANA name such as Asia/Kolkata."
        ) from None


@dataclass(frozen=True, kw_only=True)
class SeriesRule:
    """How a series repeats, in the clinic's wall-clock time.

    Keyword-only, because a positional ``SeriesRule("WEEKLY", 2, ...)`` is too easy to misread at
    the desk's call sites. ``weekdays`` is normalised to Monday-first order without duplicates,
    so two rules that mean the same thing compare equal (and round-trip through RRULE text).
    """

    freq: str
    interval: int = 1
    weekdays: tuple[str, ...] = ()
    count: int | None = None
    until: date | None = None
    local_start: datetime
    duration_minutes: int
    timezone: str

    def __post_init__(self) -> None:
        # Validation order follows the booking form, so the first message names the first field
        # the receptionist has to fix.
        freq = self.freq.strip().upper() if isinstance(self.freq, str) else self.freq
        if freq not in FREQUENCIES:
            raise ValueError("Choose how often the series repeats: daily or weekly.")
        object.__setattr__(self, "freq", freq)

        unit = "days" if freq == "DAILY" else "weeks"
        if not _is_int(self.interval) or not 1 <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"Repeat every 1 to {MAX_INTERVAL} {unit}.")

        object.__setattr__(self, "weekdays", _normalise_weekdays(self.weekdays))
        if freq == "WEEKLY" and not self.weekdays:
            raise ValueError("Choose at least one weekday.")

        if self.count is not None and self.until is not None:
            raise ValueError("Choose either a number of sessions or an end date, not both.")
        if self.count is None and self.until is None:
            raise ValueError("Choose a number of sessions or an end date.")
        if self.count is not None:
            if not _is_int(self.count):
                raise ValueError("The number of sessions must be a whole number.")
            if self.count < 1:
                raise ValueError("A series has at least one session.")
            if self.count > MAX_SESSIONS:
                raise ValueError(f"A series has at most {MAX_SESSIONS} sessions.")

        start = self.local_start
        if not isinstance(start, datetime):
            raise ValueError("Choose the date and time of the first session.")
        if start.tzinfo is not None:
            raise ValueError(
                "Give the first session's start as clinic wall-clock time, without a time zone."
            )
        if start.second or start.microsecond:
            raise ValueError("Session start times are whole minutes.")
        # fold only matters for aware datetimes; drop it so equal rules compare equal.
        object.__setattr__(self, "local_start", start.replace(fold=0))

        if not _is_int(self.duration_minutes) or not (
            MIN_DURATION_MINUTES <= self.duration_minutes <= MAX_DURATION_MINUTES
        ):
            raise ValueError(
                f"A session lasts between {MIN_DURATION_MINUTES} and {MAX_DURATION_MINUTES} "
                "minutes (8 hours)."
            )

        _zone(self.timezone)

        if self.until is not None:
            # datetime is a date subclass; a time of day on the end date would be silently
            # ignored, so refuse it rather than guess.
            if not isinstance(self.until, date) or isinstance(self.until, datetime):
                raise ValueError("Give the end date as a date, without a time.")
            if self.until < start.date():
                raise ValueError("The end date is before the first session.")

        if self.weekdays and WEEKDAYS[start.weekday()] not in self.weekdays:
            # RFC 5545 leaves an out-of-pattern DTSTART undefined and dateutil silently drops it;
            # the desk means "this is the first session", so ask for a consistent choice instead.
            raise ValueError(
                f"The first session is on a {_WEEKDAY_NAMES[start.weekday()]}, "
                "which is not one of the chosen weekdays."
            )

        if self.until is not None and len(_nominal_starts(self, MAX_SESSIONS + 1)) > MAX_SESSIONS:
            raise ValueError(
                f"A series has at most {MAX_SESSIONS} sessions; this end date gives more. "
                "Choose an earlier end date."
            )

    def to_rrule_string(self) -> str:
        """The RFC 5545 RRULE value, e.g. ``FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE,FR;COUNT=12``.

        ``UNTIL`` is written as the UTC instant of the last second of the end date in the branch
        zone (e.g. ``UNTIL=20260331T182959Z`` for Asia/Kolkata), because RFC 5545 requires a UTC
        ``UNTIL`` when DTSTART carries a time zone. ``WKST`` is omitted: Monday is the default.
        """
        parts = [f"FREQ={self.freq}", f"INTERVAL={self.interval}"]
        if self.weekdays:
            parts.append("BYDAY=" + ",".join(self.weekdays))
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        else:
            assert self.until is not None
            instant = _end_of_local_day_utc(self.until, _zone(self.timezone))
            parts.append("UNTIL=" + instant.strftime("%Y%m%dT%H%M%SZ"))
        return ";".join(parts)


@dataclass(frozen=True)
class Occurrence:
    """One session of a series: its index, its clinic wall time and its real instants.

    ``local_start`` is the wall time the session really starts at, so it differs from the
    rule's time only when that time fell in a daylight-saving gap (see the module docstring).
    """

    index: int
    local_start: datetime
    start_utc: datetime
    end_utc: datetime


def occurrences(rule: SeriesRule) -> list[Occurrence]:
    """Every session of the series, in order, never more than ``MAX_SESSIONS``."""
    zone = _zone(rule.timezone)
    duration = timedelta(minutes=rule.duration_minutes)
    result = []
    for index, wall in enumerate(_nominal_starts(rule, MAX_SESSIONS)):
        local, start = _resolve_wall_time(wall, zone)
        result.append(Occurrence(index, local, start, start + duration))
    return result


def split_at(rule: SeriesRule, index: int) -> tuple[SeriesRule | None, SeriesRule]:
    """Split for "this and following": ``(before, from_index)``.

    ``before`` keeps occurrences ``0 .. index-1`` (``COUNT=index``, or ``UNTIL`` = the date of
    occurrence ``index-1``); it is ``None`` when ``index == 0`` because nothing stays behind.
    ``from_index`` starts at occurrence ``index`` with the remaining count (or the same end
    date). Together they produce exactly the original sessions. The new part starts at the
    rule's wall time, not at a gap-shifted time, so it resolves daylight saving the same way.
    """
    starts = _nominal_starts(rule, MAX_SESSIONS)
    if not _is_int(index) or not 0 <= index < len(starts):
        shown = index + 1 if _is_int(index) else index
        raise ValueError(
            f"There is no session {shown} in this series; it has {len(starts)} sessions."
        )
    after = replace(
        rule,
        local_start=starts[index],
        count=None if rule.count is None else rule.count - index,
    )
    if index == 0:
        return None, after
    if rule.count is not None:
        before = replace(rule, count=index)
    else:
        # At most one session per day, so ending on the last kept session's date is exact.
        before = replace(rule, until=starts[index - 1].date())
    return before, after


def remaining_from(rule: SeriesRule, now_utc: datetime) -> int:
    """Index of the first occurrence starting at or after ``now_utc``.

    Equals the number of sessions already started; it is ``len(occurrences(rule))`` when the
    whole series is past, so ``occurrences(rule)[k:]`` is always "the sessions still to come".
    """
    if not isinstance(now_utc, datetime) or now_utc.utcoffset() is None:
        raise ValueError("now_utc must be a timezone-aware datetime.")
    sessions = occurrences(rule)
    for occurrence in sessions:
        if occurrence.start_utc >= now_utc:
            return occurrence.index
    return len(sessions)


def _normalise_weekdays(weekdays: object) -> tuple[str, ...]:
    if weekdays is None:
        return ()
    if isinstance(weekdays, str) or not hasattr(weekdays, "__iter__"):
        raise ValueError("Give the weekdays as a list, for example MO, WE, FR.")
    chosen = set()
    for day in weekdays:
        code = day.strip().upper() if isinstance(day, str) else day
        if code not in WEEKDAYS:
            raise ValueError(f"Unknown weekday '{day}'; use MO, TU, WE, TH, FR, SA or SU.")
        chosen.add(code)
    return tuple(code for code in WEEKDAYS if code in chosen)


def _nominal_starts(rule: SeriesRule, limit: int) -> list[datetime]:
    """The rule's naive wall times from dateutil, before daylight-saving resolution."""
    kwargs: dict[str, Any] = {
        "dtstart": rule.local_start,
        "interval": rule.interval,
        # Explicit, because dateutil defaults to calendar.firstweekday(), which is global
        # state; RFC 5545's default is Monday, and it matters for INTERVAL > 1.
        "wkst": du.MO,
    }
    if rule.weekdays:
        kwargs["byweekday"] = [_DU_WEEKDAY[code] for code in rule.weekdays]
    if rule.count is not None:
        kwargs["count"] = rule.count
    else:
        assert rule.until is not None
        kwargs["until"] = datetime.combine(rule.until, time(23, 59, 59))
    return list(islice(du.rrule(_DU_FREQ[rule.freq], **kwargs), limit))


def _resolve_wall_time(wall: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``(actual local wall time, UTC instant)`` for a naive wall time in ``zone``.

    Ambiguous times take ``fold=0`` (the first). Non-existent times move to the first valid
    instant after the gap, found by bisection between the two PEP 495 readings of the gap time
    (``fold=1`` reads it with the offset after the change, landing before the transition;
    ``fold=0`` with the offset before, landing after it).
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return wall, first
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    offset_before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + timedelta(seconds=int((high - low).total_seconds()) // 2)
        if mid.astimezone(zone).utcoffset() == offset_before:
            low = mid
        else:
            high = mid
    return high.astimezone(zone).replace(tzinfo=None), high


def _end_of_local_day_utc(day: date, zone: ZoneInfo) -> datetime:
    """The last UTC second that is still ``day`` on the branch clock (robust to DST at 00:00)."""
    _, next_midnight = _resolve_wall_time(datetime.combine(day + timedelta(days=1), time()), zone)
    return next_midnight - timedelta(seconds=1)
