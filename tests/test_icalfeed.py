"""Tests for the practitioner iCalendar feed: valid RFC 5545, exact properties, deterministic."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from physioez.reception.services import icalfeed
from physioez.reception.services.icalfeed import DEFAULT_PRODUCT_ID, FeedEvent, build_feed


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def event(uid: str = "A0001", **overrides) -> FeedEvent:
    fields = {
        "uid": uid,
        "start_utc": utc(2026, 3, 2, 4, 30),
        "end_utc": utc(2026, 3, 2, 5, 15),
        "summary": "Physio: R.K.",
        "location": "Koramangala branch, Room 2",
        "status": "CONFIRMED",
        "updated_utc": utc(2026, 2, 20, 9, 15, 7),
        "sequence": 3,
    }
    fields.update(overrides)
    return FeedEvent(**fields)


def feed(events=(), name: str = "Dr. Asha Rao", zone: str = "Asia/Kolkata", **kwargs) -> bytes:
    return build_feed(name, zone, events, **kwargs)


def lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def unescape(text: str) -> str:
    """RFC 5545 TEXT unescaping, for X- properties (icalendar 7 leaves those raw on parsing)."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], text)


def unfolded(data: bytes) -> list[str]:
    """Content lines with RFC 5545 folding undone (CRLF followed by one space or tab)."""
    return re.sub(rb"\r\n[ \t]", b"", data).decode("utf-8").split("\r\n")


# --- structure and properties --------------------------------------------------------------------


def test_calendar_properties() -> None:
    calendar = Calendar.from_ical(feed([event()]))
    assert calendar.name == "VCALENDAR"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == DEFAULT_PRODUCT_ID
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert "X-WR-CALNAME:Dr. Asha Rao" in unfolded(feed([event()]))
    assert "X-WR-TIMEZONE:Asia/Kolkata" in unfolded(feed([event()]))


def test_event_properties() -> None:
    calendar = Calendar.from_ical(feed([event()]))
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["UID"]) == "A0001@physioez"
    assert vevent.decoded("DTSTAMP") == utc(2026, 2, 20, 9, 15, 7)
    assert vevent.decoded("DTSTART") == utc(2026, 3, 2, 4, 30)
    assert vevent.decoded("DTEND") == utc(2026, 3, 2, 5, 15)
    assert vevent.decoded("SUMMARY") == "Physio: R.K."
    assert vevent.decoded("LOCATION") == "Koramangala branch, Room 2"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert vevent.decoded("SEQUENCE") == 3
    assert str(vevent["TRANSP"]) == "OPAQUE"


def test_times_are_written_in_utc_without_tzid() -> None:
    text = unfolded(feed([event()]))
    assert "DTSTART:20260302T043000Z" in text
    assert "DTEND:20260302T051500Z" in text
    assert "DTSTAMP:20260220T091507Z" in text
    assert not any("TZID" in line for line in text)


def test_aware_non_utc_times_are_converted_to_utc() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    local = event(
        start_utc=datetime(2026, 3, 2, 10, 0, tzinfo=kolkata),
        end_utc=datetime(2026, 3, 2, 10, 45, tzinfo=kolkata),
        updated_utc=datetime(2026, 2, 20, 14, 45, 7, tzinfo=kolkata),
    )
    assert feed([local]) == feed([event()])


def test_only_the_documented_properties_are_published() -> None:
    """Privacy: nothing beyond what the caller passed (no description, attendee, organizer)."""
    calendar = Calendar.from_ical(feed([event()]))
    assert set(calendar.keys()) == {
        "VERSION",
        "PRODID",
        "CALSCALE",
        "METHOD",
        "X-WR-CALNAME",
        "X-WR-TIMEZONE",
    }
    (vevent,) = calendar.walk("VEVENT")
    assert set(vevent.keys()) == {
        "UID",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "SUMMARY",
        "LOCATION",
        "STATUS",
        "SEQUENCE",
        "TRANSP",
    }
    assert [c.name for c in calendar.subcomponents] == ["VEVENT"]


def test_empty_feed_is_a_valid_calendar() -> None:
    data = feed([])
    calendar = Calendar.from_ical(data)
    assert calendar.name == "VCALENDAR"
    assert calendar.walk("VEVENT") == []
    assert lines(data)[0] == b"BEGIN:VCALENDAR"
    assert lines(data)[-1] == b"END:VCALENDAR"


def test_custom_product_id() -> None:
    calendar = Calendar.from_ical(feed([], product_id="-//Clinic//Test//EN"))
    assert str(calendar["PRODID"]) == "-//Clinic//Test//EN"


@pytest.mark.parametrize("status", ["CONFIRMED", "TENTATIVE", "CANCELLED"])
def test_statuses(status: str) -> None:
    (vevent,) = Calendar.from_ical(feed([event(status=status)])).walk("VEVENT")
    assert str(vevent["STATUS"]) == status


def test_cancelled_event_stays_in_the_feed_so_clients_remove_it() -> None:
    data = feed([event("A1"), event("A2", status="CANCELLED", sequence=7)])
    cancelled = [v for v in Calendar.from_ical(data).walk("VEVENT") if v["STATUS"] == "CANCELLED"]
    assert [str(v["UID"]) for v in cancelled] == ["A2@physioez"]
    assert cancelled[0].decoded("SEQUENCE") == 7


# --- RFC 5545 encoding ---------------------------------------------------------------------------


def test_crlf_line_endings_only() -> None:
    data = feed([event(summary="Line one\nline two\r\nline three")])
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")


def test_long_summaries_fold_at_75_octets_and_unfold_intact() -> None:
    summary = "Post-operative knee rehabilitation, session with hydrotherapy " * 4
    data = feed([event(summary=summary)])
    assert max(len(line) for line in lines(data)) <= 75
    assert any(line.startswith(b" ") for line in lines(data))
    (vevent,) = Calendar.from_ical(data).walk("VEVENT")
    assert vevent.decoded("SUMMARY") == summary


def test_unicode_names_fold_by_octets_without_splitting_characters() -> None:
    name = "डॉ. आशा राव — Physiotherapie Müller, Øresund 理学療法 🦵" * 2
    summary = "रोगी: आ.रा. " * 10
    data = feed([event(summary=summary, location="Zürich, Raum Ö")], name=name)
    assert max(len(line) for line in lines(data)) <= 75
    for line in lines(data):
        line.decode("utf-8")  # each physical line is valid UTF-8 on its own
    calendar = Calendar.from_ical(data)
    (vevent,) = calendar.walk("VEVENT")
    assert vevent.decoded("SUMMARY") == summary
    assert vevent.decoded("LOCATION") == "Zürich, Raum Ö"
    assert "X-WR-CALNAME:" + name.replace(",", "\\,") in unfolded(data)
    assert unescape(str(calendar["X-WR-CALNAME"])) == name


def test_calendar_name_is_escaped_as_text() -> None:
    # icalendar 7 would write an X- property raw (and assert on a newline) unless given TEXT.
    name = "Dr. Rao; Ortho, Sports\\Night\nshift"
    data = feed([], name=name)
    assert r"X-WR-CALNAME:Dr. Rao\; Ortho\, Sports\\Night\nshift" in unfolded(data)
    assert unescape(str(Calendar.from_ical(data)["X-WR-CALNAME"])) == name


def test_special_characters_are_escaped_and_round_trip() -> None:
    summary = "A; B, C \\ D\nE"
    (vevent,) = Calendar.from_ical(feed([event(summary=summary)])).walk("VEVENT")
    assert vevent.decoded("SUMMARY") == summary
    assert "SUMMARY:A\\; B\\, C \\\\ D\\nE" in unfolded(feed([event(summary=summary)]))


def test_a_literal_backslash_n_stays_literal() -> None:
    # icalendar's vText would turn "\\N" into a line break; RFC 5545 keeps the backslash.
    data = feed([event(summary="Room\\North, C:\\new")])
    assert r"SUMMARY:Room\\North\, C:\\new" in unfolded(data)


def test_control_characters_are_dropped() -> None:
    (vevent,) = Calendar.from_ical(feed([event(summary="R.K.\x00\x07\x1b\x7f ok\tfine")])).walk(
        "VEVENT"
    )
    assert vevent.decoded("SUMMARY") == "R.K. ok\tfine"


# --- determinism ---------------------------------------------------------------------------------


def test_events_are_ordered_by_start_then_uid() -> None:
    later = event("A0003", start_utc=utc(2026, 3, 3, 4, 30), end_utc=utc(2026, 3, 3, 5))
    same_start_b = event("B0002")
    same_start_a = event("A0002")
    data = feed([later, same_start_b, same_start_a])
    uids = [str(v["UID"]) for v in Calendar.from_ical(data).walk("VEVENT")]
    assert uids == ["A0002@physioez", "B0002@physioez", "A0003@physioez"]


@settings(max_examples=50, deadline=None)
@given(st.permutations(list(range(6))))
def test_same_input_gives_byte_identical_output(order: list[int]) -> None:
    base = [
        event(
            f"A{i:04d}",
            start_utc=utc(2026, 3, 2, 4, 30) + timedelta(days=i // 2),
            end_utc=utc(2026, 3, 2, 5, 15) + timedelta(days=i // 2),
            sequence=i,
        )
        for i in range(6)
    ]
    expected = feed(base)
    assert feed(base) == expected
    assert feed(iter([base[i] for i in order])) == expected


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start_utc": datetime(2026, 3, 2, 4, 30)}, "start_utc must be a timezone-aware"),
        ({"end_utc": datetime(2026, 3, 2, 5, 15)}, "end_utc must be a timezone-aware"),
        ({"updated_utc": datetime(2026, 2, 20)}, "updated_utc must be a timezone-aware"),
        ({"end_utc": utc(2026, 3, 2, 4, 30)}, "ends at or before its start"),
        ({"status": "BUSY"}, "status must be one of CONFIRMED, TENTATIVE, CANCELLED"),
        ({"sequence": -1}, "sequence cannot be negative"),
        ({"sequence": "3"}, "sequence must be a whole number"),
        ({"uid": ""}, "must be non-empty and contain no spaces"),
        ({"uid": "A 1"}, "must be non-empty and contain no spaces"),
        ({"summary": None}, "summary must be text"),
    ],
)
def test_invalid_events_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        feed([event(**overrides)])


def test_duplicate_uids_are_refused() -> None:
    with pytest.raises(ValueError, match="appears more than once"):
        feed(
            [event("A1"), event("A1", start_utc=utc(2026, 3, 9, 4, 30), end_utc=utc(2026, 3, 9, 5))]
        )


def test_unknown_branch_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown time zone 'Mars/Olympus'"):
        feed([], zone="Mars/Olympus")


def test_module_is_pure() -> None:
    """Callers load and serve; this module imports neither Flask nor the database."""
    tree = ast.parse(Path(icalfeed.__file__).read_text())
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
        "collections",
        "dataclasses",
        "datetime",
        "zoneinfo",
        "icalendar",
    }
