"""The desk's forms as their users see them, in Chromium on a tablet against a real server.

Each test is one thing a person at the screen would trip over: a button offered for
something the server then refuses, a refusal shown far from the box that caused it, or a
re-rendered form that lost what was typed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import new_page, screenshot, sign_in
from tests.live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BRANCH_ZONE = ZoneInfo("Asia/Kolkata")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("screens"), idle_lock_minutes=15) as live:
        yield live


@pytest.fixture
def page(browser) -> Iterator[Page]:
    page = new_page(browser)
    page.on("dialog", lambda dialog: dialog.accept())  # the app's "are you sure?" prompts
    yield page
    page.context.close()


def register_patient(server: LiveServer, first_name: str, phone: str) -> dict:
    desk = server.session()
    desk.sign_in("reception")
    made = desk.api(
        "POST",
        "/api/v1/patients",
        {"first_name": first_name, "last_name": "Screens", "phone": phone, "sex": "female"},
    )
    assert made.status == 201, made.text[:500]
    return made.json()


def query_one(server: LiveServer, sql: str, *args: str) -> tuple:
    with sqlite3.connect(f"file:{server.data_dir / 'physioez.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute(sql, args).fetchone()
    assert row, sql
    return row


def test_booking_form_offers_book_only_with_a_patient_and_shows_a_bad_year_at_the_date(
    server, page
):
    patient = register_patient(server, "Yeartypo", "9876500011")
    sign_in(page, server.url, "reception")

    page.goto(f"{server.url}/reception/appointments/new")
    form = page.locator("#booking-form")
    expect(form.locator("button[type=submit]")).to_have_count(0)

    page.fill("#q", patient["mrn"])
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    expect(form.locator("input[name=patient_id]")).to_be_checked()
    page.select_option("#practitioner_id", index=1)
    page.select_option("#type_id", index=1)
    page.fill("#date", "0202-12-08")
    page.fill("#time", "10:00")
    page.fill("#notes", "Left knee, stairs hurt")
    with page.expect_navigation() as refused:
        form.get_by_role("button", name="Book").click()
    screenshot(page, "screens-booking-bad-year")

    assert refused.value.status == 422
    expect(page.locator("#date")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#date-error")).to_contain_text("The year 0202 looks mistyped")
    expect(page.locator("#date")).to_have_value("0202-12-08")
    expect(page.locator("#time")).to_have_value("10:00")
    expect(page.locator("#notes")).to_have_value("Left knee, stairs hurt")
    expect(page.get_by_text(patient["mrn"])).to_be_visible()


def test_a_later_days_appointment_offers_no_check_in_and_a_refused_move_keeps_its_values(
    server, page, browser
):
    patient = register_patient(server, "Laterday", "9876500012")
    (practitioner_id,) = query_one(
        server,
        "SELECT practitioner.id FROM practitioner JOIN staff ON staff.id = practitioner.staff_id"
        " WHERE staff.username = ?",
        "therapist",
    )
    (type_id,) = query_one(
        server, "SELECT id FROM appointment_type WHERE group_capacity <= 1 AND active = 1"
    )
    # Late evening well past the demo's weeks: outside hours (overridden), nothing else there.
    start = (datetime.now(BRANCH_ZONE) + timedelta(days=30)).replace(
        hour=21, minute=0, second=0, microsecond=0
    )
    desk = server.session()
    desk.sign_in("reception")
    booked = desk.api(
        "POST",
        "/api/v1/appointments",
        {
            "patient_id": patient["id"],
            "practitioner_id": practitioner_id,
            "type_id": type_id,
            "start": start.isoformat(),
            "override_reason": "Evening only",
        },
    )
    assert booked.status == 201, booked.text[:500]

    sign_in(page, server.url, "therapist")
    page.goto(f"{server.url}/reception/appointments/{booked.json()['id']}")
    screenshot(page, "screens-later-day-appointment")
    expect(page.get_by_role("button", name="Confirm")).to_be_visible()
    expect(page.get_by_role("button", name="Check in")).to_have_count(0)

    # The desk mistypes the year moving it: the move comes back as typed, the problem at it.
    desk_page = new_page(browser)
    sign_in(desk_page, server.url, "reception")
    desk_page.goto(f"{server.url}/reception/appointments/{booked.json()['id']}")
    desk_page.fill("#date", "0202-12-08")
    desk_page.fill("#time", "20:00")
    with desk_page.expect_navigation() as refused:
        desk_page.get_by_role("button", name="Move").click()
    screenshot(desk_page, "screens-move-bad-year")
    assert refused.value.status == 422
    expect(desk_page.locator("#date")).to_have_value("0202-12-08")
    expect(desk_page.locator("#time")).to_have_value("20:00")
    expect(desk_page.locator("#date-error")).to_contain_text("The year 0202 looks mistyped")
    desk_page.context.close()


def test_a_payment_over_the_cap_comes_back_with_the_amounts_and_the_problem_at_its_box(
    server, page
):
    patient = register_patient(server, "Bigcard", "9876500013")
    sign_in(page, server.url, "billing")
    page.goto(f"{server.url}/billing/patients/{patient['id']}")
    form = page.locator("#take-payment form")
    form.get_by_label("Cash").fill("250")
    form.get_by_label("Card").fill("99999999999")
    with page.expect_navigation() as refused:
        form.get_by_role("button", name="Receive").click()
    screenshot(page, "screens-payment-over-cap")

    assert refused.value.status == 422
    card = page.locator("#acct_amount_card")
    expect(card).to_have_value("99999999999")
    expect(card).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#amount_card-error")).to_contain_text("at most")
    expect(page.locator("#acct_amount_cash")).to_have_value("250")
    expect(page.locator("#acct_amount_cash")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("heading", name="Take a payment or an advance")).to_be_in_viewport()


def test_restricted_documents_say_why_on_the_page_not_only_on_hover(
    server, page, browser, tmp_path
):
    patient = register_patient(server, "Scans", "9876500014")
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    desk = new_page(browser)
    sign_in(desk, server.url, "reception")
    for kind in ("id", "report"):
        desk.goto(f"{server.url}/reception/patients/{patient['id']}")
        desk.select_option("#doc-kind", kind)
        desk.set_input_files("#file", str(scan))
        with desk.expect_navigation():
            desk.get_by_role("button", name="Upload").click()
    desk.context.close()

    sign_in(page, server.url, "billing")
    page.goto(f"{server.url}/reception/patients/{patient['id']}")
    screenshot(page, "screens-documents-billing")
    documents = page.locator("#documents")
    expect(documents.get_by_role("link", name="scan.pdf")).to_have_count(0)
    expect(documents.locator(".badge", has_text="Restricted")).to_have_count(2)
    note = page.locator("#restricted-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("identity document")
    expect(note).to_contain_text("report or scan")
