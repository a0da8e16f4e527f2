"""The front-desk journey end to end: two staff tablets on one real server.

A receptionist registers a patient, books a recurring series, gets the clash warning on a
double booking and overrides it with a reason; a second browser signed in as the therapist
sees the booking appear live and sees the arrival when the patient is checked in.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import new_page, screenshot, sign_in, wait_until_true
from tests.live_server import CSRF_INPUT, LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BRANCH_ZONE = ZoneInfo("Asia/Kolkata")  # The default branch time zone; LiveServer keeps it.
LIVE_TIMEOUT_MS = 10_000  # Live updates should take well under a second.
SOCKET_CONNECTED = "window.physioez && window.physioez.socket && window.physioez.socket.connected"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A longer idle lock than the default minute, so the therapist's untouched tablet cannot
    # lock itself while the desk is busy.
    with LiveServer(tmp_path_factory.mktemp("frontdesk"), idle_lock_minutes=15) as live:
        yield live


def target_monday() -> date:
    """A Monday at least three weeks ahead in branch time: past the demo's four weeks."""
    earliest = datetime.now(BRANCH_ZONE).date() + timedelta(days=21)
    return earliest + timedelta(days=(7 - earliest.weekday()) % 7)


def warn_on_double_booking(server: LiveServer) -> None:
    """As the clinic admin: a busy practitioner is a warning the desk may override."""
    admin = server.session()
    admin.sign_in("clinicadmin")
    setup = admin.get("/reception/setup")
    assert setup.status == 200, setup.text[:500]
    token = CSRF_INPUT.search(setup.text)
    assert token, "the set-up page carries no csrf_token input"
    saved = admin.post_form(
        "/reception/setup/rule",
        {"rule": "practitioner_busy", "severity": "warn", "csrf_token": token.group(1)},
    )
    assert saved.status == 200 and saved.path == "/reception/setup", (saved.status, saved.url)
    assert "Saved." in saved.text


def booking_card(page: Page, patient: str):
    return page.locator(".day-book .booking-card").filter(
        has=page.locator("strong", has_text=re.compile(rf"^{re.escape(patient)}$"))
    )


def test_desk_books_a_series_overrides_a_clash_and_the_therapist_sees_it_live(server, browser):
    base = server.url
    monday = target_monday().isoformat()
    warn_on_double_booking(server)

    # (1) The therapist's tablet shows the book for that Monday, and stays on it throughout.
    therapist_page = new_page(browser)
    sign_in(therapist_page, base, "therapist")
    therapist_page.goto(f"{base}/reception/book?day={monday}")
    expect(therapist_page.locator("table.day-book")).to_be_visible()
    therapist_name = therapist_page.locator(".topbar-actions a[href='/profile']").inner_text()
    wait_until_true(therapist_page, SOCKET_CONNECTED, LIVE_TIMEOUT_MS)
    # Survives only as long as the page is never reloaded or navigated away from.
    therapist_page.evaluate("window.__sameTherapistPage = true")

    # (2) The receptionist registers a new patient.
    desk = new_page(browser)
    sign_in(desk, base, "reception")
    desk.goto(f"{base}/reception/patients/new")
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6))
    first, last = "Meera", f"Frontdesk{suffix.capitalize()}"
    patient = f"{first} {last}"
    desk.fill("#first_name", first)
    desk.fill("#last_name", last)
    desk.select_option("#sex", "female")
    desk.fill("#age_years", "42")
    patient_phone = f"7{secrets.randbelow(10**9):09d}"
    desk.fill("#phone", patient_phone)
    desk.get_by_role("button", name="Register", exact=True).click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text(patient)
    expect(desk.locator(".flash-success")).to_contain_text(f"{patient} is registered as")

    # ... and books a course: Mon/Wed/Fri at 10:00, six sessions, from the patient's page.
    desk.get_by_role("link", name="Book appointment").click()
    expect(desk.get_by_role("heading", name="Book an appointment")).to_be_visible()
    expect(desk.locator("#booking-form")).to_contain_text(patient)
    desk.select_option("#practitioner_id", label=therapist_name)
    desk.select_option("#type_id", label="Physiotherapy session (45 min)")
    desk.fill("#date", monday)
    desk.fill("#time", "10:00")
    desk.get_by_text("Repeat (a course of sessions)").click()
    desk.check('input[name="repeat"]')
    for weekday in ("MO", "WE", "FR"):
        desk.check(f'input[name="weekdays"][value="{weekday}"]')
    desk.fill("#count", "6")
    desk.get_by_role("button", name="Book", exact=True).click()

    expect(desk.get_by_role("heading", name="Check each session")).to_be_visible()
    sessions = desk.locator("table.table tbody tr")
    expect(sessions).to_have_count(6)
    expect(sessions.first).to_contain_text("10:00")
    expect(sessions.filter(has_text="Free")).to_have_count(6)
    desk.get_by_role("button", name="Book the series").click()
    expect(desk.locator(".flash-success")).to_contain_text("Series booked: 6 sessions.")
    expect(desk.get_by_role("heading", level=1)).to_contain_text(patient)

    # (3) A demo patient, found by MRN, with the same therapist at the same time: a warning.
    desk.goto(f"{base}/reception/appointments/new")
    desk.fill("#q", "TEST-1")
    desk.get_by_role("button", name="Find").click()
    found = desk.locator('input[name="patient_id"]')
    expect(found).to_have_count(1)
    expect(found).to_be_checked()
    other = desk.locator(".choice-list .choice strong").inner_text()
    desk.select_option("#practitioner_id", label=therapist_name)
    desk.select_option("#type_id", label="Physiotherapy session (45 min)")
    desk.fill("#date", monday)
    desk.fill("#time", "10:00")
    desk.get_by_role("button", name="Book", exact=True).click()

    clash = desk.locator(".clash-card")
    expect(clash.get_by_role("heading", name="Book anyway?")).to_be_visible()
    expect(clash.locator("li.clash-warn")).to_contain_text(
        f"The practitioner is already booked: {patient} with {therapist_name}"
    )
    expect(clash.locator("li.clash-warn")).to_contain_text("10:00")
    expect(desk.locator("#booking-form")).to_contain_text(other)
    desk.fill("#override_reason", "Patient can only come at 10; therapist agreed to overlap")
    desk.get_by_role("button", name="Book anyway").click()
    expect(desk.locator(".flash-success")).to_contain_text("Appointment booked.")
    expect(desk).to_have_url(f"{base}/reception/book?day={monday}")
    expect(booking_card(desk, other)).to_be_visible()

    # (4) The therapist's book has redrawn itself with both bookings, without a reload.
    expect(booking_card(therapist_page, patient)).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(booking_card(therapist_page, other)).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    # (5) The patient comes in today (an extra early slot, outside the therapist's hours, so
    # the desk overrides that warning too) and is checked in from the appointment page.
    today = datetime.now(BRANCH_ZONE).date()
    desk.goto(f"{base}/reception/patients?q={patient_phone}")
    desk.get_by_role("link", name=patient).click()
    desk.get_by_role("link", name="Book appointment").click()
    desk.select_option("#practitioner_id", label=therapist_name)
    desk.select_option("#type_id", label="Physiotherapy session (45 min)")
    desk.fill("#date", today.isoformat())
    desk.fill("#time", "06:00")
    desk.get_by_role("button", name="Book", exact=True).click()
    expect(desk.locator(".clash-card li.clash-warn").first).to_be_visible()
    desk.fill("#override_reason", "Before clinic hours, agreed with the therapist")
    desk.get_by_role("button", name="Book anyway").click()
    expect(desk.locator(".flash-success")).to_contain_text("Appointment booked.")
    booking_card(desk, patient).click()
    desk.get_by_role("button", name="Check in").click()
    expect(desk.locator(".flash-success")).to_contain_text(f"{patient}: Arrived.")

    # (6) The therapist hears it personally, on whatever page they are, without a reload.
    toast = therapist_page.locator("#toasts .toast")
    expect(toast).to_have_text(f"{patient} has arrived for 06:00.", timeout=LIVE_TIMEOUT_MS)
    assert therapist_page.evaluate("window.__sameTherapistPage === true"), "the page reloaded"
    assert therapist_page.url == f"{base}/reception/book?day={monday}"
    therapist_page.goto(f"{base}/reception/today")
    arrived = therapist_page.locator("#lane-arrived").locator("xpath=..")
    expect(arrived).to_contain_text(patient)

    screenshot(desk, "frontdesk-reception")
    screenshot(therapist_page, "frontdesk-therapist")
    desk.context.close()
    therapist_page.context.close()


def test_desk_moves_a_booking_by_dragging_it_to_a_free_slot(server, browser):
    base = server.url
    day = (target_monday() + timedelta(days=14)).isoformat()  # clear of the other test's series
    desk_api = server.session()
    desk_api.sign_in("reception")
    practitioner = desk_api.api("GET", "/api/v1/practitioners").json()["practitioners"][0]
    patient = desk_api.api("GET", "/api/v1/patients?q=TEST-1").json()["patients"][0]
    types = desk_api.get(f"/reception/appointments/new?patient_id={patient['id']}").text
    type_id = re.search(r'<option value="([^"]+)"[^>]*>Physiotherapy session', types).group(1)
    booked = desk_api.api(
        "POST",
        "/api/v1/appointments",
        {
            "patient_id": patient["id"],
            "practitioner_id": practitioner["id"],
            "type_id": type_id,
            "start": f"{day}T10:00:00+05:30",
        },
    )
    assert booked.status == 201, booked.text

    desk = new_page(browser)
    sign_in(desk, base, "reception")
    desk.goto(f"{base}/reception/book?day={day}")
    name = f"{patient['first_name']} {patient['last_name']}".strip()
    card = booking_card(desk, name)
    target = desk.locator(f'td[data-slot="{practitioner["id"]} 11:30"]')
    card.scroll_into_view_if_needed()
    start = card.bounding_box()
    end = target.bounding_box()
    desk.mouse.move(start["x"] + 20, start["y"] + 10)
    desk.mouse.down()
    desk.wait_for_timeout(400)  # press and hold, as on a tablet
    desk.mouse.move(end["x"] + 10, end["y"] + 5, steps=8)
    expect(target).to_have_class(re.compile(r"\bis-drop-target\b"))
    desk.mouse.up()
    desk.wait_for_load_state()
    expect(booking_card(desk, name)).to_contain_text("11:30", timeout=LIVE_TIMEOUT_MS)
    moved = desk_api.api("GET", f"/api/v1/appointments/{booked.json()['id']}").json()
    assert moved["start"].startswith(f"{day}T06:00:00")  # 11:30 in Kolkata is 06:00 UTC
    desk.context.close()
