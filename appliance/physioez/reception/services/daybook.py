"""The day as the desk sees it: one column per practitioner (or room), 15-minute rows.

The grid is computed here rather than in the template, so the page is a plain table with
row spans (no positioning styles, which the CSP forbids) and the rules for overlapping
bookings live in one tested place. A room's week is a different table: one row per quarter
hour in every day, each saying how much of the room's capacity is in use then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from physioez.reception.models import ACTIVE_STATUSES, Appointment
from physioez.reception.services.book_queries import BookEntry
from physioez.reception.services.clash import Interval

STEP = timedelta(minutes=15)
STEP_MINUTES = 15
DAY_MINUTES = 24 * 60


@dataclass
class Block:
    """One cell spanning ``rows`` rows: a booking, or overlapping bookings shown together."""

    entries: list[BookEntry]
    rows: int


@dataclass
class Column:
    key: str
    title: str
    # Row index -> Block starting there; rows covered by a block are in ``covered``.
    blocks: dict[int, Block] = field(default_factory=dict)
    covered: set[int] = field(default_factory=set)
    working: set[int] = field(default_factory=set)


@dataclass
class DayGrid:
    day: date
    times: list[datetime]  # local start of each row
    columns: list[Column]

    def table(self) -> list[tuple[datetime, str, list[tuple[Column, str, Block | None]]]]:
        """Rows ready to draw: (local time, its label or "", [(column, kind, block)]).

        Covered cells are left out, as a row-spanning table needs; a busy day has thousands
        of cells, so the template gets plain tuples rather than asking per cell.
        """
        rows = []
        for index, moment in enumerate(self.times):
            label = f"{moment:%H:%M}" if moment.minute in (0, 30) else ""
            cells = []
            for column in self.columns:
                kind, block = self.cell(column, index)
                if kind != "covered":
                    cells.append((column, kind, block))
            rows.append((moment, label, cells))
        return rows

    def cell(self, column: Column, row: int) -> tuple[str, Block | None]:
        """What to draw at (column, row): 'block', 'covered', 'free' or 'off'."""
        if row in column.blocks:
            return "block", column.blocks[row]
        if row in column.covered:
            return "covered", None
        return ("free" if row in column.working else "off"), None


def _row_of(moment: datetime, first: datetime) -> int:
    return int((moment - first) / STEP)


def build_grid(
    day: date,
    timezone: str,
    columns: Sequence[tuple[str, str]],
    entries: Sequence[BookEntry],
    column_of: dict[str, str] | None = None,
    availability: dict[str, list[Interval]] | None = None,
    opening: time = time(8, 0),
    closing: time = time(20, 0),
) -> DayGrid:
    """Lay ``entries`` into ``columns`` (key, title).

    ``column_of`` maps an entry's appointment id to its column key (default: its
    practitioner); ``availability`` marks working rows per column key.
    """
    zone = ZoneInfo(timezone)
    first = datetime.combine(day, opening, zone)
    last = datetime.combine(day, closing, zone)
    for entry in entries:  # Widen the day to show early or late bookings.
        first = min(first, entry.appointment.start_at.astimezone(zone).replace(minute=0))
        last = max(last, entry.appointment.end_at.astimezone(zone))
    count = max(1, -(-int((last - first).total_seconds()) // int(STEP.total_seconds())))
    times = [first + STEP * n for n in range(count)]
    grid = DayGrid(day, times, [Column(key, title) for key, title in columns])
    by_key = {column.key: column for column in grid.columns}
    for key, spans in (availability or {}).items():
        column = by_key.get(key)
        if column is None:
            continue
        for span in spans:
            start_row = max(0, _row_of(span.start.astimezone(zone), first))
            end_row = min(count, -(-int((span.end - first) / timedelta(seconds=1)) // 900))
            column.working.update(range(start_row, end_row))
    placed: dict[str, list[tuple[int, int, BookEntry]]] = {}
    for entry in entries:
        placed_in = column_of.get(entry.appointment.id) if column_of else None
        key = placed_in or entry.appointment.practitioner_id
        if key not in by_key:
            continue
        start_row = _row_of(entry.appointment.start_at.astimezone(zone), first)
        end_row = max(
            start_row + 1, -(-int((entry.appointment.end_at - first).total_seconds()) // 900)
        )
        placed.setdefault(key, []).append((start_row, end_row, entry))
    for key, items in placed.items():
        column = by_key[key]
        items.sort(key=lambda item: (item[0], item[1]))
        # Overlapping bookings (a class, or an override) merge into one cell: a table cell
        # cannot share rows, and the desk must see them together anyway.
        group: list[tuple[int, int, BookEntry]] = []
        group_end = -1
        for item in [*items, None]:
            if item is not None and group and item[0] < group_end:
                group.append(item)
                group_end = max(group_end, item[1])
                continue
            if group:
                start_row = group[0][0]
                column.blocks[start_row] = Block([g[2] for g in group], group_end - start_row)
                column.covered.update(range(start_row + 1, group_end))
            if item is not None:
                group, group_end = [item], item[1]
    return grid


def build_week(
    monday: date,
    timezone: str,
    entries: Sequence[BookEntry],
    availability: Sequence[Interval] = (),
) -> DayGrid:
    """One practitioner's week: a column per day, the same 15-minute rows as the day view.

    Each entry is laid into its day's column by moving it onto the grid's first day; only
    the time of day is shown, so nothing else needs to know about the move.
    """
    zone = ZoneInfo(timezone)
    days = [monday + timedelta(days=n) for n in range(7)]
    columns = [(day.isoformat(), day.strftime("%a %d %b")) for day in days]
    moved: list[BookEntry] = []
    column_of: dict[str, str] = {}
    for entry in entries:
        local_day = entry.appointment.start_at.astimezone(zone).date()
        shift = timedelta(days=(local_day - monday).days)
        # The proxy stands in for the appointment: the grid reads its attributes only.
        appointment = cast(Appointment, _Moved(entry.appointment, shift))
        moved.append(BookEntry(appointment, entry.patient, entry.practitioner, entry.type))
        column_of[appointment.id] = local_day.isoformat()
    working: dict[str, list[Interval]] = {}
    for span in availability:
        local_day = span.start.astimezone(zone).date()
        shift = timedelta(days=(local_day - monday).days)
        working.setdefault(local_day.isoformat(), []).append(
            Interval(span.start - shift, span.end - shift)
        )
    return build_grid(monday, timezone, columns, moved, column_of=column_of, availability=working)


class _Moved:
    """An appointment seen through a shift of whole days, for laying out a week."""

    def __init__(self, appointment, shift: timedelta) -> None:
        self._appointment = appointment
        self.start_at = appointment.start_at - shift
        self.end_at = appointment.end_at - shift

    def __getattr__(self, name: str):
        return getattr(self._appointment, name)


@dataclass
class ResourceCell:
    """A quarter hour of one day of a room or machine."""

    # The uses of the resource starting in this quarter hour, each shown as one card: a
    # single appointment, or all seats of a group class (a class fills a room once).
    starting: list[list[BookEntry]] = field(default_factory=list)
    in_use: int = 0  # the most units of the resource in use at any moment of the quarter hour
    full: bool = False  # nothing more can use the resource then


@dataclass
class ResourceWeek:
    days: list[date]
    capacity: int
    times: list[time]  # wall-clock start of each row, the same on every day
    cells: list[list[ResourceCell]]  # [row][day]

    def table(self) -> list[tuple[time, str, list[tuple[date, ResourceCell]]]]:
        """Rows ready to draw: (wall-clock time, its label or "", [(day, cell)])."""
        return [
            (
                clock,
                f"{clock:%H:%M}" if clock.minute in (0, 30) else "",
                list(zip(self.days, row, strict=True)),
            )
            for clock, row in zip(self.times, self.cells, strict=True)
        ]


def _minute_of_day(moment: datetime | time) -> int:
    return moment.hour * 60 + moment.minute


def build_resource_week(
    monday: date,
    timezone: str,
    resource_id: str,
    capacity: int,
    entries: Sequence[BookEntry],
    opening: time = time(8, 0),
    closing: time = time(20, 0),
) -> ResourceWeek:
    """One room's or machine's week: a column per day, a row per quarter hour.

    ``entries`` may hold the whole branch's bookings; only those using ``resource_id`` are
    shown, never cancelled ones. Use is counted as the clash engine counts it, so "full" here
    means what it means when booking: only bookings that hold their slot count (a no-show is
    shown but frees the room), and all seats of a group class are one use. Rows are
    wall-clock quarter hours, so a booking sits at its local time even on a day when the
    clocks change.
    """
    zone = ZoneInfo(timezone)
    days = [monday + timedelta(days=n) for n in range(7)]
    shown: list[tuple[int, int, int, BookEntry]] = []  # (day index, start, end minute, entry)
    for entry in entries:
        appointment = entry.appointment
        if appointment.status == "cancelled" or resource_id not in appointment.resource_ids:
            continue
        start = appointment.start_at.astimezone(zone)
        day_index = (start.date() - monday).days
        if not 0 <= day_index < len(days):
            continue
        end = appointment.end_at.astimezone(zone)
        end_minute = _minute_of_day(end) + DAY_MINUTES * (end.date() - start.date()).days
        shown.append((day_index, _minute_of_day(start), min(end_minute, DAY_MINUTES), entry))

    # Widen the usual opening hours to show early or late bookings, from the hour they start.
    first = min([_minute_of_day(opening), *(start // 60 * 60 for _, start, _, _ in shown)])
    last = max([_minute_of_day(closing), *(end for _, _, end, _ in shown)])
    rows = max(1, -(-(last - first) // STEP_MINUTES))
    times = [time(*divmod(first + STEP_MINUTES * n, 60)) for n in range(rows)]
    cells = [[ResourceCell() for _ in days] for _ in range(rows)]

    # Each use of the resource per day: an appointment, or a group class however many seats.
    # Seats of one class share its start and type, so their span is the class's span.
    uses: list[dict[str, tuple[int, int]]] = [{} for _ in days]
    cards: dict[tuple[int, str], list[BookEntry]] = {}
    for day_index, start, end, entry in shown:
        key = entry.appointment.class_id or entry.appointment.id
        card = cards.get((day_index, key))
        if card is None:
            card = cards[(day_index, key)] = []
            cells[(start - first) // STEP_MINUTES][day_index].starting.append(card)
        card.append(entry)
        if entry.appointment.status not in ACTIVE_STATUSES:
            continue
        known = uses[day_index].get(key)
        uses[day_index][key] = (
            (start, end) if known is None else (min(known[0], start), max(known[1], end))
        )
    for day_index, day_uses in enumerate(uses):
        spans_by_row: dict[int, list[tuple[int, int]]] = {}
        for start, end in day_uses.values():
            for row in range((start - first) // STEP_MINUTES, -(-(end - first) // STEP_MINUTES)):
                spans_by_row.setdefault(row, []).append((start, end))
        for row, spans in spans_by_row.items():
            row_start = first + row * STEP_MINUTES
            cell = cells[row][day_index]
            cell.in_use = _peak_use(spans, row_start, row_start + STEP_MINUTES)
            cell.full = cell.in_use >= capacity
    return ResourceWeek(days, capacity, times, cells)


def _peak_use(spans: Sequence[tuple[int, int]], row_start: int, row_end: int) -> int:
    """The most spans in force at one moment of ``[row_start, row_end)``.

    Not simply how many spans touch the row: 10:00-10:05 and 10:10-10:20 share a row but
    never the room, and the clash engine would let a third booking in beside either.
    """
    changes = []
    for start, end in spans:
        changes += [(max(start, row_start), 1), (min(end, row_end), -1)]
    # At the same minute an end (-1) sorts before a start: back to back is not overlapping.
    changes.sort()
    peak = in_force = 0
    for _, change in changes:
        in_force += change
        peak = max(peak, in_force)
    return peak
