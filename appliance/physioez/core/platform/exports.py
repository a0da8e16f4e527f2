"""Files for people outside the box: CSV and XLSX tables, and zip packs of several files.

Columns are typed once (:class:`Column`) and every writer turns a row's values into the
right cell from that type, so an amount is always written from integer minor units, a time
always in the branch's zone, and a name never becomes a formula in a spreadsheet.

Rows are any iterable, and are read one at a time: a generator over a query writes 100,000
rows without holding them. The XLSX writer runs XlsxWriter in constant-memory mode (one row in
memory, the rest streamed to a temporary file) for the same reason.

No Flask here: exports run in background jobs (``core.background``) and the CLI.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Literal, NamedTuple
from zoneinfo import ZoneInfo

import xlsxwriter

from physioez.core.kernel.models import parse_utc
from physioez.core.kernel.money import format_plain, minor_digits, to_decimal

Kind = Literal["text", "integer", "money", "date", "datetime"]
KINDS: tuple[str, ...] = ("text", "integer", "money", "date", "datetime")

# OWASP "CSV injection": a cell starting with one of these is run as a formula by Excel,
# LibreOffice and Sheets. A leading apostrophe makes them show it as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_DATETIME = "%Y-%m-%d %H:%M"
XLSX_DATE_FORMAT = "yyyy-mm-dd"
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per worksheet, the header row included.

# Column widths in characters: wide enough for a date or an amount, never a screen wide.
_MIN_WIDTH = 8
_MAX_WIDTH = 60
_KIND_WIDTH = {"text": 12, "integer": 8, "money": 14, "date": 11, "datetime": 17}

# Rows handed to the output at a time by the CSV writer: small writes to a zip member or an
# HTTP response cost more than the formatting.
_CSV_BATCH = 500


def currency_digits(currency: str) -> int:
    """Decimals of ``currency``'s minor unit (INR 2, JPY 0, KWD 3); refuses a non-ISO code."""
    if len(currency) != 3 or not currency.isascii() or not currency.isupper():
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
    return minor_digits(currency)


class Money(NamedTuple):
    """An amount in its own currency, for columns whose rows are not all in one currency."""

    minor: int
    currency: str


@dataclass(frozen=True)
class Column:
    """One column: its header and what its values are.

    ``text`` any value, shown as ``str(value)``; ``integer`` an ``int``; ``money`` integer minor
    units (with ``currency`` on the column) or a :class:`Money`; ``date`` a ``date``;
    ``datetime`` an aware datetime or the stored UTC text, written in the zone the caller
    names. ``None`` is an empty cell in every kind. ``width`` overrides the XLSX width.
    """

    title: str
    kind: Kind = "text"
    currency: str | None = None
    width: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.title!r}: unknown kind {self.kind!r}")
        if self.currency is not None:
            currency_digits(self.currency)  # Refuses a code that is not one.


@dataclass(frozen=True)
class Sheet:
    """One worksheet of an XLSX file. ``name``: at most 31 characters, none of ``[]:*?/\\``."""

    name: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]


# --- turning values into cells ------------------------------------------------------------


def _zone(zone: str | tzinfo | None, columns: Sequence[Column]) -> tzinfo | None:
    if isinstance(zone, str):
        return ZoneInfo(zone)
    if zone is None and any(c.kind == "datetime" for c in columns):
        # A time without a zone would be read as the reader's own; refuse rather than guess.
        raise ValueError("a datetime column needs the branch's time zone (zone=...)")
    return zone


def _money(value: Any, column: Column) -> Money:
    currency: str | None
    if isinstance(value, Money):
        minor, currency = value
    else:
        minor, currency = value, column.currency
    if currency is None:
        raise ValueError(f"column {column.title!r}: give the column a currency or use Money")
    if type(minor) is not int:
        # A float here means the amount already lost its exactness somewhere upstream.
        raise TypeError(f"column {column.title!r}: money is integer minor units, not {minor!r}")
    currency_digits(currency)
    return Money(minor, currency)


def _local(value: Any, column: Column, zone: tzinfo) -> datetime:
    if isinstance(value, str):
        value = parse_utc(value)
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeError(f"column {column.title!r}: expected an aware datetime, got {value!r}")
    return value.astimezone(zone)


def _check_integer(value: Any, column: Column) -> int:
    if type(value) is not int:
        raise TypeError(f"column {column.title!r}: expected an integer, got {value!r}")
    return value


def _check_date(value: Any, column: Column) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"column {column.title!r}: expected a date, got {value!r}")
    return value


def guard_formula(text: str) -> str:
    """Text that a spreadsheet shows as typed, never runs (OWASP CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_cell(value: Any, column: Column, zone: tzinfo | None) -> str:
    if value is None:
        return ""
    kind = column.kind
    if kind == "text":
        return guard_formula(str(value))
    if kind == "integer":
        return str(_check_integer(value, column))
    if kind == "money":
        return format_plain(*_money(value, column))
    if kind == "date":
        return _check_date(value, column).isoformat()
    return _local(value, column, zone).strftime(CSV_DATETIME)  # type: ignore[arg-type]


def _check_row(values: Sequence[Any], columns: Sequence[Column]) -> None:
    if len(values) != len(columns):
        raise ValueError(f"a row has {len(values)} values for {len(columns)} columns")


# --- CSV --------------------------------------------------------------------------------------


def csv_chunks(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, zone: str | tzinfo | None = None
) -> Iterator[bytes]:
    """The CSV file as UTF-8 byte chunks, starting with the BOM; for streamed HTTP answers.

    The BOM makes Excel read the file as UTF-8 (names in Devanagari or with accents stay
    intact); without it Excel assumes the Windows code page.
    """
    local_zone = _zone(zone, columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow([guard_formula(c.title) for c in columns])
    pending = 0
    for values in rows:
        _check_row(values, columns)
        writer.writerow([_csv_cell(v, c, local_zone) for v, c in zip(values, columns, strict=True)])
        pending += 1
        if pending == _CSV_BATCH:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def write_csv(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    stream: BinaryIO,
    *,
    zone: str | tzinfo | None = None,
) -> int:
    """Write a UTF-8 CSV (with BOM) to the binary ``stream``; returns the rows written."""
    count = 0

    def counted() -> Iterator[Sequence[Any]]:
        nonlocal count
        for values in rows:
            count += 1
            yield values

    for chunk in csv_chunks(columns, counted(), zone=zone):
        stream.write(chunk)
    return count


# --- XLSX -------------------------------------------------------------------------------------


class _Formats:
    """XlsxWriter formats, made once per workbook and per currency."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self._workbook = workbook
        self.header = workbook.add_format({"bold": True, "bottom": 1})
        self.date = workbook.add_format({"num_format": XLSX_DATE_FORMAT})
        self.datetime = workbook.add_format({"num_format": XLSX_DATETIME_FORMAT})
        self._money: dict[str, Any] = {}

    def money(self, currency: str) -> Any:
        if currency not in self._money:
            digits = minor_digits(currency)
            decimals = "." + "0" * digits if digits else ""
            # [$INR] is Excel's own notation for a currency shown by its ISO code; the
            # reader's locale still decides digit grouping.
            self._money[currency] = self._workbook.add_format(
                {"num_format": f"[${currency}] #,##0{decimals}"}
            )
        return self._money[currency]


def _write_sheet(
    workbook: xlsxwriter.Workbook, formats: _Formats, sheet: Sheet, zone: tzinfo | None
) -> int:
    columns = list(sheet.columns)
    worksheet = workbook.add_worksheet(sheet.name)
    widths = [max(len(c.title) + 2, _KIND_WIDTH[c.kind]) for c in columns]
    for col, column in enumerate(columns):
        worksheet.write_string(0, col, column.title, formats.header)
    worksheet.freeze_panes(1, 0)
    row = 0
    for values in sheet.rows:
        _check_row(values, columns)
        row += 1
        if row >= XLSX_MAX_ROWS:
            # XlsxWriter would silently drop the rest; a short export must not pass for whole.
            raise ValueError(f"sheet {sheet.name!r} has more rows than Excel can hold")
        for col, (value, column) in enumerate(zip(values, columns, strict=True)):
            if value is None:
                continue
            shown = _write_cell(worksheet, formats, row, col, value, column, zone)
            if shown > widths[col]:
                widths[col] = shown
    # Widths can be set after the rows even in constant-memory mode: XlsxWriter writes the
    # column list when it assembles the sheet at close.
    for col, column in enumerate(columns):
        width = column.width or min(max(widths[col] + 1, _MIN_WIDTH), _MAX_WIDTH)
        worksheet.set_column(col, col, width)
    return row


def _write_cell(worksheet, formats: _Formats, row, col, value, column: Column, zone) -> int:
    """Write one cell; returns how many characters wide it shows."""
    kind = column.kind
    if kind == "text":
        text = str(value)
        # write_string, never write(): a text cell must not turn into a formula, number or link.
        worksheet.write_string(row, col, text)
        return len(text)
    if kind == "integer":
        worksheet.write_number(row, col, _check_integer(value, column))
        return len(str(value))
    if kind == "money":
        minor, currency = _money(value, column)
        # The exact decimal (scaled from the integer), which XlsxWriter writes digit for digit.
        worksheet.write_number(row, col, to_decimal(minor, currency), formats.money(currency))
        text = format_plain(minor, currency)
        whole = len(text.split(".")[0].lstrip("-"))
        return len(text) + (whole - 1) // 3 + len(currency) + 1  # grouping and "INR "
    if kind == "date":
        worksheet.write_datetime(row, col, _check_date(value, column), formats.date)
        return 10
    local = _local(value, column, zone).replace(tzinfo=None)  # Excel has no zones.
    worksheet.write_datetime(row, col, local, formats.datetime)
    return 16


def write_xlsx(
    sheets: Sequence[Sheet], path: Path | str, *, zone: str | tzinfo | None = None
) -> int:
    """Write an XLSX workbook at ``path``, one worksheet per :class:`Sheet`; returns rows written.

    Each sheet has a bold header row that stays in view while scrolling. Rows are streamed:
    XlsxWriter keeps one row in memory and the rest in a temporary file beside ``path``.
    """
    if not sheets:
        raise ValueError("a workbook needs at least one sheet")
    local_zone = _zone(zone, [c for s in sheets for c in s.columns])
    path = Path(path)
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            # Temporary files on the same disk as the result, not a small tmpfs.
            "tmpdir": str(path.parent),
            # Belt and braces: every cell goes through a typed write_* call anyway.
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "use_zip64": True,
        },
    )
    formats = _Formats(workbook)
    try:
        written = sum(_write_sheet(workbook, formats, sheet, local_zone) for sheet in sheets)
    except BaseException:
        # Closing removes XlsxWriter's temporary files; the half-written result goes too.
        with contextlib.suppress(Exception):
            workbook.close()
        path.unlink(missing_ok=True)
        raise
    workbook.close()
    return written


# --- zip packs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZipPart:
    """One file of a zip pack: its name in the zip and how to write it to a given path."""

    name: str
    write: Callable[[Path], object]


def csv_part(
    name: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    zone: str | tzinfo | None = None,
) -> ZipPart:
    def write(path: Path) -> None:
        with path.open("wb") as stream:
            write_csv(columns, rows, stream, zone=zone)

    return ZipPart(name, write)


def xlsx_part(name: str, sheets: Sequence[Sheet], *, zone: str | tzinfo | None = None) -> ZipPart:
    return ZipPart(name, lambda path: write_xlsx(sheets, path, zone=zone))


ProgressReport = Callable[[int, int, str], None]


def build_zip(
    parts: Sequence[ZipPart], path: Path | str, progress: ProgressReport | None = None
) -> Path:
    """Write every part into one zip at ``path``, calling ``progress(done, total, note)``.

    Each part is written to a temporary file first (XLSX needs a real file) and then
    compressed into the zip, so only one part is on disk at a time. The zip appears at
    ``path`` only when complete: a failure leaves nothing half-written behind.
    """
    path = Path(path)
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise ValueError("two parts of a zip share a name")
    if any(Path(name).is_absolute() or ".." in Path(name).parts for name in names):
        raise ValueError("zip part names must be relative and stay inside the zip")
    total = len(parts)
    report = progress or (lambda done, total, note: None)
    fd, partial_name = tempfile.mkstemp(prefix=".zip-", dir=path.parent)
    os.close(fd)
    partial = Path(partial_name)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for done, part in enumerate(parts):
                report(done, total, f"Writing {part.name}")
                with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
                    member = Path(scratch) / Path(part.name).name
                    part.write(member)
                    # Copied in chunks; ZIP64 is switched on by itself past 2 GiB.
                    archive.write(member, arcname=part.name)
        report(total, total, "Done")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path
