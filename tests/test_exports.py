"""CSV, XLSX and zip exports: typed cells, the formula guard, money and times, streaming."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pytest

from physioez.core.platform.exports import (
    Column,
    Money,
    Sheet,
    ZipPart,
    build_zip,
    csv_chunks,
    csv_part,
    currency_digits,
    guard_formula,
    write_csv,
    write_xlsx,
    xlsx_part,
)

ZONE = "Asia/Kolkata"
COLUMNS = [
    Column("Patient"),
    Column("Visits", "integer"),
    Column("Amount", "money", currency="INR"),
    Column("Day", "date"),
    Column("Paid at", "datetime"),
]
# 20:15 UTC on 31 March is 01:45 on 1 April in India: the zone decides even the date.
PAID = datetime(2027, 3, 31, 20, 15, tzinfo=UTC)
ROWS = [
    ("Asha Rao", 3, 125000, date(2027, 3, 31), PAID),
    ('=HYPERLINK("http://evil")', 1, -50, date(2027, 4, 1), "2027-04-01T04:00:00.000000Z"),
    (None, None, None, None, None),
]


def csv_text(columns, rows, **kwargs) -> tuple[bytes, list[list[str]]]:
    stream = io.BytesIO()
    write_csv(columns, rows, stream, **kwargs)
    raw = stream.getvalue()
    return raw, list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


# --- CSV -------------------------------------------------------------------------------------


def test_csv_starts_with_a_bom_and_is_utf8():
    raw, table = csv_text([Column("Name")], [("अनन्या Iyer",), ("José",)])
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\xef\xbb\xbf") == 1
    assert table == [["Name"], ["अनन्या Iyer"], ["José"]]


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+91 98450 12345", "-2+3", "@SUM(A1:A2)", "\tcmd", "\r=2", "=cmd|' /C calc'!A0"],
)
def test_text_that_a_spreadsheet_would_run_is_quoted(text):
    _, table = csv_text([Column("Name")], [(text,)])
    assert table[1] == ["'" + text]


def test_harmless_text_and_numbers_are_left_alone():
    assert guard_formula("Asha = Ravi's sister") == "Asha = Ravi's sister"
    assert guard_formula(" =1") == " =1"
    # Negative amounts and integers are ours, not typed by anyone: never quoted.
    _, table = csv_text(
        [Column("n", "integer"), Column("a", "money", currency="INR")], [(-4, -125)]
    )
    assert table[1] == ["-4", "-1.25"]


def test_header_titles_are_guarded_too():
    _, table = csv_text([Column("=SUM(A:A)")], [])
    assert table == [["'=SUM(A:A)"]]


def test_csv_writes_each_kind():
    _, table = csv_text(COLUMNS, ROWS, zone=ZONE)
    assert table[0] == ["Patient", "Visits", "Amount", "Day", "Paid at"]
    assert table[1] == ["Asha Rao", "3", "1250.00", "2027-03-31", "2027-04-01 01:45"]
    assert table[2] == [
        '\'=HYPERLINK("http://evil")',
        "1",
        "-0.50",
        "2027-04-01",
        "2027-04-01 09:30",  # Stored UTC text, shown in the branch's zone.
    ]
    assert table[3] == ["", "", "", "", ""]


def test_datetimes_follow_the_zone_the_caller_gives():
    columns = [Column("At", "datetime")]
    assert csv_text(columns, [(PAID,)], zone="UTC")[1][1] == ["2027-03-31 20:15"]
    assert csv_text(columns, [(PAID,)], zone="Asia/Tokyo")[1][1] == ["2027-04-01 05:15"]
    assert csv_text(columns, [(PAID,)], zone="America/New_York")[1][1] == ["2027-03-31 16:15"]


def test_a_datetime_column_needs_a_zone_and_aware_values():
    with pytest.raises(ValueError, match="time zone"):
        csv_text([Column("At", "datetime")], [(PAID,)])
    with pytest.raises(TypeError, match="aware"):
        csv_text([Column("At", "datetime")], [(datetime(2027, 3, 31, 20, 15),)], zone=ZONE)


@pytest.mark.parametrize(
    ("currency", "minor", "text"),
    [
        ("INR", 125050, "1250.50"),
        ("INR", 5, "0.05"),
        ("INR", -5, "-0.05"),
        ("JPY", 1250, "1250"),
        ("JPY", -7, "-7"),
        ("KWD", 1250500, "1250.500"),
        ("KWD", 7, "0.007"),
        ("KWD", -1001, "-1.001"),
        ("INR", 0, "0.00"),
        ("INR", 10**20 + 1, "1000000000000000000.01"),  # Past a float's 15 digits, still exact.
    ],
)
def test_money_is_shown_with_the_currencys_minor_digits(currency, minor, text):
    columns = [Column("Amount", "money", currency=currency)]
    assert csv_text(columns, [(minor,)])[1][1] == [text]


def test_money_cells_may_carry_their_own_currency():
    columns = [Column("Amount", "money")]
    _, table = csv_text(columns, [(Money(1500, "JPY"),), (Money(1500, "KWD"),)])
    assert table[1:] == [["1500"], ["1.500"]]


def test_money_refuses_floats_and_a_missing_currency():
    with pytest.raises(TypeError, match="minor units"):
        csv_text([Column("Amount", "money", currency="INR")], [(12.5,)])
    with pytest.raises(ValueError, match="currency"):
        csv_text([Column("Amount", "money")], [(1250,)])
    with pytest.raises(ValueError, match="ISO 4217"):
        Column("Amount", "money", currency="rupees")
    with pytest.raises(ValueError, match="ISO 4217"):
        csv_text([Column("Amount", "money")], [(Money(5, "inr"),)])
    assert (currency_digits("INR"), currency_digits("JPY"), currency_digits("KWD")) == (2, 0, 3)


def test_rows_must_match_the_columns_and_kinds():
    with pytest.raises(ValueError, match="2 values for 1 columns"):
        csv_text([Column("Name")], [("a", "b")])
    with pytest.raises(TypeError, match="integer"):
        csv_text([Column("n", "integer")], [("3",)])
    with pytest.raises(TypeError, match="date"):
        csv_text([Column("d", "date")], [(PAID,)])
    with pytest.raises(ValueError, match="unknown kind"):
        Column("x", "percent")


def test_csv_chunks_stream_in_batches():
    rows = ((f"p{i}",) for i in range(1200))
    chunks = list(csv_chunks([Column("Name")], rows))
    assert len(chunks) == 3  # 500 + 500 + the rest
    assert b"".join(chunks).decode("utf-8-sig").splitlines()[1200] == "p1199"


def test_write_csv_counts_rows():
    assert write_csv([Column("Name")], iter([("a",), ("b",)]), io.BytesIO()) == 2


# --- XLSX ------------------------------------------------------------------------------------


def test_xlsx_has_a_bold_frozen_header_and_typed_cells(tmp_path):
    path = tmp_path / "out.xlsx"
    written = write_xlsx(
        [
            Sheet("Payments", COLUMNS, ROWS),
            Sheet(
                "Mixed", [Column("Amount", "money")], [(Money(1500, "JPY"),), (Money(7, "KWD"),)]
            ),
        ],
        path,
        zone=ZONE,
    )
    assert written == 5
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Payments", "Mixed"]
    sheet = book["Payments"]
    assert [c.value for c in sheet[1]] == ["Patient", "Visits", "Amount", "Day", "Paid at"]
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"

    name, visits, amount, day, paid = sheet[2]
    assert name.value == "Asha Rao" and name.data_type == "s"
    assert visits.value == 3 and visits.data_type == "n"
    assert amount.value == 1250 and amount.number_format == "[$INR] #,##0.00"
    assert day.value == datetime(2027, 3, 31) and day.number_format == "yyyy-mm-dd"
    assert paid.value == datetime(2027, 4, 1, 1, 45) and paid.number_format == "yyyy-mm-dd hh:mm"

    formula_text, _, negative, _, stored_text_time = sheet[3]
    # A text cell stays text: never a formula, whatever it starts with.
    assert formula_text.data_type == "s"
    assert formula_text.value == '=HYPERLINK("http://evil")'
    assert negative.value == -0.5
    assert stored_text_time.value == datetime(2027, 4, 1, 9, 30)
    assert all(c.value is None for c in sheet[4])

    mixed = book["Mixed"]
    assert (mixed["A2"].value, mixed["A2"].number_format) == (1500, "[$JPY] #,##0")
    assert (mixed["A3"].value, mixed["A3"].number_format) == (0.007, "[$KWD] #,##0.000")

    widths = {key: dim.width for key, dim in sheet.column_dimensions.items()}
    assert all(8 <= width <= 61 for width in widths.values())
    assert widths["E"] >= 16  # A date and time fits.


def test_xlsx_money_is_the_exact_decimal_in_the_file(tmp_path):
    path = tmp_path / "money.xlsx"
    write_xlsx(
        [
            Sheet(
                "M",
                [Column("A", "money")],
                [(Money(1999, "INR"),), (Money(12_345_678_901, "INR"),), (Money(1001, "KWD"),)],
            )
        ],
        path,
    )
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    # The digits of the amount itself, as a decimal scaled from the integer, not 19.989999...
    assert "<v>19.99</v>" in xml
    assert "<v>123456789.01</v>" in xml
    assert "<v>1.001</v>" in xml
    assert Decimal("19.99") == Decimal(str(openpyxl.load_workbook(path)["M"]["A2"].value))


def test_long_text_widens_its_column_but_not_past_the_cap(tmp_path):
    path = tmp_path / "w.xlsx"
    write_xlsx(
        [Sheet("W", [Column("Note"), Column("Short")], [("x" * 30, "a"), ("y" * 500, "b")])], path
    )
    sheet = openpyxl.load_workbook(path)["W"]
    assert sheet.column_dimensions["A"].width == pytest.approx(60, abs=1)
    assert sheet.column_dimensions["B"].width < 15


def test_a_failed_xlsx_leaves_no_file(tmp_path):
    path = tmp_path / "broken.xlsx"

    def rows():
        yield ("fine",)
        raise RuntimeError("query failed")

    with pytest.raises(RuntimeError):
        write_xlsx([Sheet("S", [Column("Name")], rows())], path)
    assert list(tmp_path.iterdir()) == []


def test_a_sheet_longer_than_excel_allows_is_refused_not_cut(tmp_path, monkeypatch):
    import physioez.core.platform.exports as exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 4)
    rows = [("a",), ("b",), ("c",)]
    write_xlsx([Sheet("S", [Column("Name")], rows)], tmp_path / "fits.xlsx")
    with pytest.raises(ValueError, match="more rows than Excel"):
        write_xlsx([Sheet("S", [Column("Name")], [*rows, ("d",)])], tmp_path / "long.xlsx")
    assert not (tmp_path / "long.xlsx").exists()


ROW_COUNT = 100_000


class CountingStream(io.RawIOBase):
    """A binary sink that keeps only how many lines reached it."""

    def __init__(self) -> None:
        self.lines = 0
        self.last = b""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.lines += bytes(data).count(b"\n")
        self.last = bytes(data)[-200:] or self.last
        return len(data)


def test_100k_rows_of_csv_are_written_as_they_come():
    sink = CountingStream()

    def rows():
        for i in range(ROW_COUNT):
            # Everything but the last batch must already be out: nothing is piling up.
            assert sink.lines >= i - 500, (i, sink.lines)
            yield (f"Patient {i}", i, i * 100, date(2027, 1, 1), PAID)

    assert write_csv(COLUMNS, rows(), sink, zone=ZONE) == ROW_COUNT
    assert sink.lines == ROW_COUNT + 1
    assert sink.last.decode().endswith(
        f"Patient {ROW_COUNT - 1},{ROW_COUNT - 1},99999.00,2027-01-01,2027-04-01 01:45\r\n"
    )


def test_100k_rows_of_xlsx_go_to_disk_as_they_come(tmp_path):
    path = tmp_path / "big.xlsx"

    def spooled() -> int:
        # Constant-memory mode streams finished rows to a temporary file beside the result.
        return sum(p.stat().st_size for p in tmp_path.iterdir() if p != path)

    def rows():
        for i in range(ROW_COUNT):
            if i and i % 20_000 == 0:
                # Each row is ~60 bytes of XML; allow for the file's write buffer.
                assert spooled() >= (i - 200) * 50, (i, spooled())
            yield (f"Patient {i}",)

    assert write_xlsx([Sheet("Big", [Column("Patient")], rows())], path) == ROW_COUNT
    assert [p.name for p in tmp_path.iterdir()] == ["big.xlsx"]  # Spool files removed.
    sheet = openpyxl.load_workbook(path, read_only=True)["Big"]
    assert sheet.max_row == ROW_COUNT + 1
    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    assert xml.count(b"<row ") == ROW_COUNT + 1
    assert f"<t>Patient {ROW_COUNT - 1}</t>".encode() in xml[-300:]


# --- zip packs -------------------------------------------------------------------------------


def test_zip_holds_every_part_and_reports_progress(tmp_path):
    seen = []
    path = build_zip(
        [
            csv_part("march/payments.csv", COLUMNS, ROWS, zone=ZONE),
            xlsx_part("march/payments.xlsx", [Sheet("Payments", COLUMNS, ROWS)], zone=ZONE),
            ZipPart("README.txt", lambda p: p.write_text("For the accountant\n")),
        ],
        tmp_path / "pack.zip",
        lambda done, total, note: seen.append((done, total, note)),
    )
    assert seen == [
        (0, 3, "Writing march/payments.csv"),
        (1, 3, "Writing march/payments.xlsx"),
        (2, 3, "Writing README.txt"),
        (3, 3, "Done"),
    ]
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["march/payments.csv", "march/payments.xlsx", "README.txt"]
        assert archive.testzip() is None
        assert archive.read("README.txt") == b"For the accountant\n"
        payments = archive.read("march/payments.csv").decode("utf-8-sig")
        assert payments.splitlines()[1] == "Asha Rao,3,1250.00,2027-03-31,2027-04-01 01:45"
        with archive.open("march/payments.xlsx") as member:
            book = openpyxl.load_workbook(io.BytesIO(member.read()))
        assert book["Payments"]["C2"].value == 1250
    assert [p.name for p in tmp_path.iterdir()] == ["pack.zip"]  # No scratch files left.


def test_a_failing_part_leaves_no_zip(tmp_path):
    def broken(path):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        build_zip(
            [ZipPart("a.txt", lambda p: p.write_text("a")), ZipPart("b.txt", broken)],
            tmp_path / "pack.zip",
        )
    assert list(tmp_path.iterdir()) == []


def test_zip_part_names_must_be_unique_and_stay_inside(tmp_path):
    part = ZipPart("a.txt", lambda p: p.write_text("a"))
    with pytest.raises(ValueError, match="share a name"):
        build_zip([part, part], tmp_path / "x.zip")
    with pytest.raises(ValueError, match="inside the zip"):
        build_zip([ZipPart("../escape.txt", part.write)], tmp_path / "x.zip")
