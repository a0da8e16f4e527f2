"""Tests for recurring series: exact dates, wall-clock time across DST, RRULE text, editing."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from physioez.reception.services import recurrence
from physioez.reception.services.recurrence import (
    MAX_SESSIONS,
    WEEKDAYS,
    Occurrence,
    SeriesRule,
    occurrences,
    remaining_from,
    split_at,
)

KOLKATA = "Asia/Kolkata"
LONDON = "Europe/London"


def rule(**overrides) -> SeriesRule:
    """Mon/Wed/Fri 10:00 x12 from Monday 2 March 2026 in the branch default zone."""
    fields = {
        "freq": "WEEKLY",
        "interval": 1,
        "weekdays": ("MO", "WE", "FR"),
        "count": 12,
        "local_start": datetime(2026, 3, 2, 10, 0),
        "duration_minutes": 45,
        "timezone": KOLKATA,
    }
    fields.update(overrides)
    return SeriesRule(**fields)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local_dates(series: SeriesRule) -> list[date]:
    return [o.local_start.date() for o in occurrences(series)]


# --- expansion -----------------------------------------------------------------------------------


def test_weekly_mon_wed_fri_for_twelve_sessions_gives_exact_dates_and_times() -> None:
    sessions = occurrences(rule())
    days = [2, 4, 6, 9, 11, 13, 16, 18, 20, 23, 25, 27]
    assert sessions == [
        Occurrence(
            index=i,
            local_start=datetime(2026, 3, day, 10, 0),
            start_utc=utc(2026, 3, day, 4, 30),
            end_utc=utc(2026, 3, day, 5, 15),
        )
        for i, day in enumerate(days)
    ]


def test_every_two_weeks_skips_the_weeks_in_between() -> None:
    series = rule(interval=2, weekdays=("TU", "TH"), count=6, local_start=datetime(2026, 1, 6, 9))
    assert local_dates(series) == [
        date(2026, 1, 6),
        date(2026, 1, 8),
        date(2026, 1, 20),
        date(2026, 1, 22),
        date(2026, 2, 3),
        date(2026, 2, 5),
    ]


def test_every_two_weeks_counts_weeks_from_monday_whatever_the_calendar_module_says() -> None:
    # Sunday and the following Monday are in different RFC weeks (WKST=MO), so both fall in
    # "on" weeks two weeks apart. dateutil's own default follows calendar.firstweekday().
    import calendar

    series = rule(interval=2, weekdays=("MO", "SU"), count=4, local_start=datetime(2026, 3, 2, 9))
    previous = calendar.firstweekday()
    try:
        calendar.setfirstweekday(calendar.SUNDAY)
        assert local_dates(series) == [
            date(2026, 3, 2),
            date(2026, 3, 8),
            date(2026, 3, 16),
            date(2026, 3, 22),
        ]
    finally:
        calendar.setfirstweekday(previous)


def test_until_date_is_inclusive_and_need_not_be_a_session_day() -> None:
    through_friday = rule(count=None, until=date(2026, 3, 13))
    assert local_dates(through_friday)[-1] == date(2026, 3, 13)
    assert len(occurrences(through_friday)) == 6
    through_thursday = rule(count=None, until=date(2026, 3, 12))
    assert local_dates(through_thursday)[-1] == date(2026, 3, 11)
    assert len(occurrences(rule(count=None, until=date(2026, 3, 2)))) == 1


def test_daily_with_weekdays_skips_the_weekend() -> None:
    series = rule(
        freq="DAILY",
        weekdays=("MO", "TU", "WE", "TH", "FR"),
        count=6,
        local_start=datetime(2026, 3, 5, 8, 15),
    )
    assert [d.day for d in local_dates(series)] == [5, 6, 9, 10, 11, 12]


def test_daily_every_third_day() -> None:
    series = rule(freq="DAILY", interval=3, weekdays=(), count=4)
    assert [d.day for d in local_dates(series)] == [2, 5, 8, 11]


def test_kolkata_has_no_dst_so_utc_never_moves() -> None:
    series = rule(freq="WEEKLY", weekdays=("MO",), count=52, local_start=datetime(2026, 1, 5, 10))
    assert {(o.start_utc.hour, o.start_utc.minute) for o in occurrences(series)} == {(4, 30)}


def test_cap_of_104_sessions() -> None:
    assert len(occurrences(rule(freq="DAILY", weekdays=(), count=104))) == MAX_SESSIONS


# --- daylight saving -----------------------------------------------------------------------------


def test_london_spring_forward_keeps_ten_oclock_local() -> None:
    # UK clocks go forward on Sunday 29 March 2026.
    series = rule(weekdays=("MO",), count=4, local_start=datetime(2026, 3, 16, 10), timezone=LONDON)
    sessions = occurrences(series)
    assert [o.local_start.time().hour for o in sessions] == [10, 10, 10, 10]
    assert [o.start_utc for o in sessions] == [
        utc(2026, 3, 16, 10),
        utc(2026, 3, 23, 10),
        utc(2026, 3, 30, 9),
        utc(2026, 4, 6, 9),
    ]
    assert all(o.end_utc - o.start_utc == timedelta(minutes=45) for o in sessions)


def test_london_fall_back_keeps_ten_oclock_local() -> None:
    # UK clocks go back on Sunday 25 October 2026.
    series = rule(
        weekdays=("MO",), count=2, local_start=datetime(2026, 10, 19, 10), timezone=LONDON
    )
    sessions = occurrences(series)
    assert [o.local_start for o in sessions] == [
        datetime(2026, 10, 19, 10),
        datetime(2026, 10, 26, 10),
    ]
    assert [o.start_utc for o in sessions] == [utc(2026, 10, 19, 9), utc(2026, 10, 26, 10)]


def test_time_in_spring_forward_gap_moves_to_first_valid_time_for_that_day_only() -> None:
    # 01:00-02:00 GMT does not exist on 29 March 2026; the clocks jump to 02:00 BST (01:00Z).
    series = rule(
        freq="DAILY",
        weekdays=(),
        count=3,
        local_start=datetime(2026, 3, 28, 1, 30),
        timezone=LONDON,
    )
    sessions = occurrences(series)
    assert [o.local_start for o in sessions] == [
        datetime(2026, 3, 28, 1, 30),
        datetime(2026, 3, 29, 2, 0),
        datetime(2026, 3, 30, 1, 30),
    ]
    assert [o.start_utc for o in sessions] == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 30, 0, 30),
    ]
    assert sessions[1].end_utc == utc(2026, 3, 29, 1, 45)


def test_half_hour_gap_moves_to_the_end_of_the_gap() -> None:
    # Lord Howe Island moves clocks forward by 30 minutes, 02:00 -> 02:30, on 4 October 2026.
    series = rule(
        freq="DAILY",
        weekdays=(),
        count=2,
        local_start=datetime(2026, 10, 4, 2, 15),
        timezone="Australia/Lord_Howe",
    )
    first, second = occurrences(series)
    assert first.local_start == datetime(2026, 10, 4, 2, 30)
    assert first.start_utc == utc(2026, 10, 3, 15, 30)
    assert second.local_start == datetime(2026, 10, 5, 2, 15)


def test_ambiguous_fall_back_time_takes_the_first_occurrence() -> None:
    # 01:30 happens twice on 25 October 2026: first in BST (00:30Z), then in GMT (01:30Z).
    series = rule(
        freq="DAILY",
        weekdays=(),
        count=3,
        local_start=datetime(2026, 10, 24, 1, 30),
        timezone=LONDON,
    )
    sessions = occurrences(series)
    assert [o.local_start.hour for o in sessions] == [1, 1, 1]
    assert [o.start_utc for o in sessions] == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"freq": "MONTHLY"}, "Choose how often the series repeats: daily or weekly."),
        ({"interval": 0}, "Repeat every 1 to 4 weeks."),
        ({"interval": 5}, "Repeat every 1 to 4 weeks."),
        ({"freq": "DAILY", "interval": 5}, "Repeat every 1 to 4 days."),
        ({"interval": True}, "Repeat every 1 to 4 weeks."),
        ({"weekdays": ()}, "Choose at least one weekday."),
        ({"weekdays": ("MO", "XX")}, "Unknown weekday 'XX'; use MO, TU, WE, TH, FR, SA or SU."),
        ({"weekdays": "MO"}, "Give the weekdays as a list, for example MO, WE, FR."),
        (
            {"until": date(2026, 4, 1)},
            "Choose either a number of sessions or an end date, not both.",
        ),
        ({"count": None}, "Choose a number of sessions or an end date."),
        ({"count": 0}, "A series has at least one session."),
        ({"count": 105}, "A series has at most 104 sessions."),
        ({"local_start": date(2026, 3, 2)}, "Choose the date and time of the first session."),
        (
            {"local_start": datetime(2026, 3, 2, 10, tzinfo=UTC)},
            "Give the first session's start as clinic wall-clock time, without a time zone.",
        ),
        (
            {"local_start": datetime(2026, 3, 2, 10, 0, 30)},
            "Session start times are whole minutes.",
        ),
        ({"duration_minutes": 4}, "A session lasts between 5 and 480 minutes (8 hours)."),
        ({"duration_minutes": 481}, "A session lasts between 5 and 480 minutes (8 hours)."),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'."),
        ({"timezone": ""}, "Choose the branch time zone, for example Asia/Kolkata."),
        (
            {"count": None, "until": datetime(2026, 4, 1, 12)},
            "Give the end date as a date, without a time.",
        ),
        (
            {"count": None, "until": date(2026, 3, 1)},
            "The end date is before the first session.",
        ),
        (
            {"local_start": datetime(2026, 3, 3, 10)},
            "The first session is on a Tuesday, which is not one of the chosen weekdays.",
        ),
        (
            {"count": None, "until": date(2026, 12, 31)},
            "A series has at most 104 sessions; this end date gives more.",
        ),
    ],
)
def test_validation_messages_tell_the_desk_what_to_fix(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        rule(**overrides)


def test_weekdays_are_normalised_so_equal_rules_compare_equal() -> None:
    assert rule(weekdays=["fr", "MO", "WE", "MO"]) == rule()
    assert rule(freq="weekly").freq == "WEEKLY"


# --- RRULE text ----------------------------------------------------------------------------------


def test_to_rrule_string_count() -> None:
    assert rule().to_rrule_string() == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE,FR;COUNT=12"
    daily = rule(freq="DAILY", interval=2, weekdays=(), count=5)
    assert daily.to_rrule_string() == "FREQ=DAILY;INTERVAL=2;COUNT=5"


def test_to_rrule_string_until_is_utc_end_of_local_day() -> None:
    # RFC 5545: UNTIL must be UTC when DTSTART has a TZID. 23:59:59 IST is 18:29:59Z.
    series = rule(count=None, until=date(2026, 3, 13))
    assert (
        series.to_rrule_string() == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE,FR;UNTIL=20260313T182959Z"
    )
    summer = rule(count=None, until=date(2026, 7, 1), local_start=datetime(2026, 6, 1, 10))
    assert summer.to_rrule_string().endswith("UNTIL=20260701T182959Z")
    london = replace(summer, timezone=LONDON)
    assert london.to_rrule_string().endswith("UNTIL=20260701T225959Z")


def test_dateutil_reads_our_rrule_string_the_same_way() -> None:
    """Another RFC 5545 reader (dateutil's own parser) must agree with our string."""
    counted = rule(interval=2, count=9)
    parsed = rrulestr(counted.to_rrule_string(), dtstart=counted.local_start)
    assert list(parsed) == [o.local_start for o in occurrences(counted)]

    ended = rule(count=None, until=date(2026, 4, 29), timezone=LONDON)
    zone = ZoneInfo(LONDON)
    parsed = rrulestr(ended.to_rrule_string(), dtstart=ended.local_start.replace(tzinfo=zone))
    assert [d.replace(tzinfo=None) for d in parsed] == [o.local_start for o in occurrences(ended)]


ZONES = [KOLKATA, LONDON, "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"]


@st.composite
def series_rules(draw: st.DrawFn) -> SeriesRule:
    """Any valid rule, including start times inside DST gaps and overlaps."""
    day = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
    start = datetime(
        day.year, day.month, day.day, draw(st.integers(0, 23)), draw(st.integers(0, 59))
    )
    freq = draw(st.sampled_from(["DAILY", "WEEKLY"]))
    extra = draw(st.sets(st.sampled_from(WEEKDAYS)))
    own = WEEKDAYS[day.weekday()]
    # DAILY may or may not filter by weekday; WEEKLY always does.
    weekdays = tuple(extra | {own}) if freq == "WEEKLY" or draw(st.booleans()) else ()
    common = {
        "freq": freq,
        "interval": draw(st.integers(1, 4)),
        "weekdays": weekdays,
        "local_start": start,
        "duration_minutes": draw(st.integers(5, 480)),
        "timezone": draw(st.sampled_from(ZONES)),
    }
    count = draw(st.integers(1, MAX_SESSIONS))
    if draw(st.booleans()):
        return SeriesRule(count=count, **common)
    last = occurrences(SeriesRule(count=count, **common))[-1]
    until = last.local_start.date() + timedelta(days=draw(st.integers(0, 6)))
    try:
        return SeriesRule(until=until, **common)
    except ValueError:
        assume(False)  # the extra days pushed it past 104 sessions
        raise


@settings(max_examples=300, deadline=None)
@given(series_rules())
def test_dateutil_reads_the_same_days_from_any_rules_rrule_string(series: SeriesRule) -> None:
    """The RRULE stored with a series means, to another RFC 5545 reader, the same days."""
    zone = ZoneInfo(series.timezone)
    parsed = rrulestr(series.to_rrule_string(), dtstart=series.local_start.replace(tzinfo=zone))
    assert [d.date() for d in parsed] == [o.local_start.date() for o in occurrences(series)]


@settings(max_examples=300, deadline=None)
@given(series_rules())
def test_occurrences_are_ordered_indexed_and_keep_the_wall_clock_time(series: SeriesRule) -> None:
    sessions = occurrences(series)
    assert 1 <= len(sessions) <= MAX_SESSIONS
    assert [o.index for o in sessions] == list(range(len(sessions)))
    assert all(a.start_utc < b.start_utc for a, b in pairwise(sessions))
    zone = ZoneInfo(series.timezone)
    for o in sessions:
        assert o.start_utc.utcoffset() == timedelta(0)
        assert o.start_utc.astimezone(zone).replace(tzinfo=None) == o.local_start
        assert o.end_utc - o.start_utc == timedelta(minutes=series.duration_minutes)
        if o.local_start.time() != series.local_start.time():
            # Only a DST gap may move a session, and only forward, by less than a day.
            assert (
                timedelta(0)
                < o.local_start - datetime.combine(o.local_start.date(), series.local_start.time())
                < timedelta(hours=3)
            )


# --- editing -------------------------------------------------------------------------------------


def test_split_this_and_following_with_count() -> None:
    before, after = split_at(rule(), 5)
    assert before == rule(count=5)
    assert after == rule(count=7, local_start=datetime(2026, 3, 13, 10))
    assert after.to_rrule_string() == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,WE,FR;COUNT=7"


def test_split_this_and_following_with_until() -> None:
    series = rule(count=None, until=date(2026, 3, 27))
    before, after = split_at(series, 5)
    assert before is not None
    assert before.until == date(2026, 3, 11)
    assert after.until == date(2026, 3, 27)
    assert after.local_start == datetime(2026, 3, 13, 10)
    assert len(occurrences(before)) == 5
    assert len(occurrences(after)) == 7


def test_split_at_first_session_leaves_nothing_behind() -> None:
    before, after = split_at(rule(), 0)
    assert before is None
    assert after == rule()


@pytest.mark.parametrize("index", [-1, 12, True])
def test_split_at_a_session_outside_the_series_is_refused(index: int) -> None:
    with pytest.raises(ValueError, match="in this series; it has 12 sessions"):
        split_at(rule(), index)


def test_split_keeps_the_rule_wall_time_for_a_session_in_a_dst_gap() -> None:
    series = rule(
        freq="DAILY",
        weekdays=(),
        count=3,
        local_start=datetime(2026, 3, 28, 1, 30),
        timezone=LONDON,
    )
    _, after = split_at(series, 1)
    assert after.local_start == datetime(2026, 3, 29, 1, 30)
    assert occurrences(after)[0].local_start == datetime(2026, 3, 29, 2, 0)


@settings(max_examples=300, deadline=None)
@given(series_rules(), st.data())
def test_split_parts_partition_the_original_sessions(
    series: SeriesRule, data: st.DataObject
) -> None:
    original = occurrences(series)
    index = data.draw(st.integers(0, len(original) - 1))
    before, after = split_at(series, index)
    first = occurrences(before) if before is not None else []
    second = occurrences(after)
    assert len(first) + len(second) == len(original)
    assert len(first) == index
    key = [(o.local_start, o.start_utc, o.end_utc) for o in original]
    assert [(o.local_start, o.start_utc, o.end_utc) for o in first + second] == key


def test_remaining_from() -> None:
    series = rule()  # sessions at 04:30Z on 2, 4, 6, ... 27 March 2026
    assert remaining_from(series, utc(2026, 1, 1)) == 0
    assert remaining_from(series, utc(2026, 3, 2, 4, 30)) == 0  # starting now is not yet past
    assert remaining_from(series, utc(2026, 3, 2, 4, 31)) == 1
    assert remaining_from(series, utc(2026, 3, 10)) == 4
    assert remaining_from(series, utc(2026, 3, 27, 4, 30)) == 11
    assert remaining_from(series, utc(2026, 3, 28)) == 12
    kolkata_now = datetime(2026, 3, 4, 10, 0, tzinfo=ZoneInfo(KOLKATA))
    assert remaining_from(series, kolkata_now) == 1


def test_remaining_from_then_split_is_how_to_edit_all_future_sessions() -> None:
    series = rule()
    k = remaining_from(series, utc(2026, 3, 10))
    past, future = split_at(series, k)
    edited_future = replace(future, duration_minutes=60)
    assert past is not None
    assert len(occurrences(past)) + len(occurrences(edited_future)) == 12


def test_remaining_from_refuses_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        remaining_from(rule(), datetime(2026, 3, 10))


def test_module_is_pure() -> None:
    """Callers load and persist; this module imports neither Flask nor the database."""
    tree = ast.parse(Path(recurrence.__file__).read_text())
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported <= {
        "__future__",
        "dataclasses",
        "datetime",
        "itertools",
        "typing",
        "zoneinfo",
        "dateutil",
    }
