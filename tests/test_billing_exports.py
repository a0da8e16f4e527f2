"""Billing exports: tables as CSV and XLSX, and the month's pack built as a background job."""

from __future__ import annotations

import io
import zipfile

import openpyxl

from physioez.billing.services import invoicing, payments
from physioez.billing.services.invoicing import LineRequest
from physioez.billing.services.payments import Tender
from physioez.core.kernel.audit import Actor
from physioez.core.platform import background

ACCOUNTS = Actor(staff_id="acct-1", roles=("billing",))


def _month_of_business(books) -> str:
    patient = books.clinic.asha.id
    invoice = invoicing.issue_invoice(ACCOUNTS, books.policy, patient, [LineRequest("BAND")])
    payments.take_payment(
        ACCOUNTS,
        books.policy,
        patient,
        [Tender("upi", 41300, "UPI-1")],
        [invoice.id],
        notes='=HYPERLINK("http://evil")',
    )
    return books.policy.today().strftime("%Y-%m")


def test_invoices_csv_has_patient_names_amounts_and_no_formulas(books, client_for):
    month = _month_of_business(books)
    accounts = client_for("billing")
    answer = accounts.get(f"/billing/exports/invoices.csv?month={month}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    text = answer.data.decode("utf-8-sig")
    assert "TEST/2026" in text and "Asha Test" in text and "413.00" in text
    receipts = accounts.get(f"/billing/exports/receipts.csv?month={month}").data.decode()
    assert "'=HYPERLINK" in receipts  # a note typed as a formula stays text


def test_dues_xlsx_opens_with_amounts_as_numbers(books, client_for):
    invoicing.issue_invoice(ACCOUNTS, books.policy, books.clinic.ravi.id, [LineRequest("PT45")])
    answer = client_for("billing").get("/billing/exports/dues.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(answer.data)).active
    header = [cell.value for cell in sheet[1]]
    row = [cell.value for cell in sheet[2]]
    assert header[1] == "Patient" and row[1] == "Ravi Test"
    assert row[header.index("Total")] == 800  # a number, not text


def test_month_pack_is_built_in_the_background_and_holds_every_table(books, client_for):
    month = _month_of_business(books)
    accounts = client_for("billing")
    started = accounts.post("/billing/exports/pack", data={"month": month}, follow_redirects=True)
    assert b"Building the pack" in started.data and b"data-job-id" in started.data
    job = background.recent(accounts.staff.id)[0]
    finished = background.wait(job.id, timeout=30)
    assert finished.state == "done", finished
    download = accounts.get(f"/jobs/{job.id}/download")
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    for table in ("invoices", "receipts", "expenses", "dues", "day_ends"):
        assert f"{table}-{month}.csv" in names
    assert f"accounts-{month}.xlsx" in names


def test_a_bad_month_is_refused_and_the_desk_cannot_export(books, client_for):
    accounts = client_for("billing")
    assert accounts.get("/billing/exports/invoices.csv?month=2026-13").status_code == 422
    assert client_for("receptionist").get("/billing/exports").status_code == 403
