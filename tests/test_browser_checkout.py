"""The accounts desk's day end to end, in Chromium against a real server and a real CUPS.

A session attended today is checked out, paid part in cash and part by UPI, its receipt is
printed to the test's own cups-pdf printer, and the day is closed with a cash difference and
its reason.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser_support import new_page, screenshot, sign_in
from tests.cups_support import CupsServer, pdftotext
from tests.live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BRANCH_ZONE = ZoneInfo("Asia/Kolkata")
PATIENT = "Checkout Journey"


@pytest.fixture
def server(tmp_path_factory, cups_server: CupsServer) -> Iterator[tuple[LiveServer, CupsServer]]:
    printer = cups_server.add_pdf_printer("Front desk")
    extra = f'[printing]\ncups_server = "{cups_server.server}"\nreceipt_printer = "{printer}"\n'
    with LiveServer(
        tmp_path_factory.mktemp("checkout"), idle_lock_minutes=15, extra_config=extra
    ) as live:
        yield live, cups_server


def attended_session_today(server: LiveServer) -> str:
    """Through the desk's API: register a patient, book tonight, check in, start, finish."""
    desk = server.session()
    desk.sign_in("reception")
    made = desk.api(
        "POST",
        "/api/v1/patients",
        {"first_name": "Checkout", "last_name": "Journey", "phone": "9876501234", "sex": "female"},
    )
    assert made.status == 201, made.text[:500]
    patient_id = made.json()["id"]
    with sqlite3.connect(f"file:{server.data_dir / 'physioez.sqlite3'}?mode=ro", uri=True) as db:
        type_id, code = db.execute(
            "SELECT id, service_code FROM appointment_type WHERE deleted_at IS NULL AND active = 1 "
            "AND group_capacity <= 1 AND service_code != '' ORDER BY duration_minutes LIMIT 1"
        ).fetchone()
        practitioners = [row[0] for row in db.execute("SELECT id FROM practitioner")]
    # Late tonight: outside hours (a warning the desk overrides), so nothing else is booked.
    start = datetime.now(BRANCH_ZONE).replace(hour=22, minute=30, second=0, microsecond=0)
    for practitioner in practitioners:
        booked = desk.api(
            "POST",
            "/api/v1/appointments",
            {
                "patient_id": patient_id,
                "practitioner_id": practitioner,
                "type_id": type_id,
                "start": start.isoformat(),
                "override_reason": "Evening walk-in",
            },
        )
        if booked.status == 201:
            break
    assert booked.status == 201, booked.text[:500]
    appointment = booked.json()["id"]
    for status in ("arrived", "in_session", "completed"):
        moved = desk.api("PUT", f"/api/v1/appointments/{appointment}/status", {"status": status})
        assert moved.status == 200, moved.text[:500]
    return code


def test_checkout_split_payment_printed_receipt_and_day_end(browser, server):
    live, cups = server
    attended_session_today(live)
    page = new_page(browser)
    sign_in(page, live.url, "billing")

    page.goto(f"{live.url}/billing/")
    row = page.locator("tr", has_text=PATIENT)
    row.get_by_role("link", name="Check out").click()
    page.get_by_role("button", name="Make the invoice").click()
    expect(page.get_by_test_id("invoice-document")).to_be_visible()
    total_text = page.get_by_test_id("invoice-total").inner_text()
    total = int(re.sub(r"\D", "", total_text))  # in paise, as shown with two decimals
    cash = total // 2 // 100 * 100  # whole rupees in cash, the rest by UPI
    upi = total - cash
    page.fill("#amount_cash", f"{cash / 100:.2f}")
    page.fill("#amount_upi", f"{upi / 100:.2f}")
    page.fill("#reference_upi", "UPI-778899")
    page.get_by_role("button", name="Receive payment").click()

    receipt = page.get_by_test_id("receipt-document")
    expect(receipt).to_contain_text("UPI-778899")
    number = re.search(r"TEST/R/\S+", receipt.inner_text()).group(0)
    page.get_by_role("button", name="Print receipt").click()
    expect(page.locator(".flash-success")).to_contain_text("sent to the receipt printer")
    printed = pdftotext(cups.wait_for_output(timeout=60))
    assert number in printed and f"{total / 100:,.2f}" in printed
    screenshot(page, "checkout-receipt")

    page.goto(f"{live.url}/billing/day-end")
    expected_cash = page.locator("form tr", has_text="Cash").locator("td.num").first.inner_text()
    assert int(re.sub(r"\D", "", expected_cash)) >= cash
    short = int(re.sub(r"\D", "", expected_cash)) - 1000  # ten rupees short
    page.fill("#counted_cash", f"{short / 100:.2f}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close the day").click()
    expect(page.locator(".flash-error")).to_contain_text("Say why")
    page.fill("#counted_cash", f"{short / 100:.2f}")
    page.fill("#reason", "Ten rupees given as change from the drawer")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close the day").click()
    expect(page.get_by_test_id("day-closed")).to_contain_text("Ten rupees given as change")
    expect(page.get_by_test_id("z-report")).to_contain_text("Differences")
    expect(page.get_by_test_id("z-report")).to_contain_text("10.00")
    screenshot(page, "day-end-closed")
