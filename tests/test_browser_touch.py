"""Moving appointments with a finger on the day book, on a real touch-screen browser.

A swipe that starts on a booking card must scroll the page, as anywhere else; only a long
press lifts the card so it can be slid to another slot.

The touches are real input, not synthetic DOM events: Chromium's DevTools protocol
(``Input.dispatchTouchEvent``) feeds them in where a touch screen would, so the browser's own
gesture handling decides whether the page scrolls (``touch-action``, cancelled touchmoves,
pointercancel), which is exactly what broke. Playwright's own touch API only taps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser_support import TABLET, screenshot, sign_in
from tests.live_server import LiveServer
from tests.test_browser_frontdesk import booking_card, target_monday

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LONG_PRESS_WAIT_MS = 600  # comfortably past daybook.js's 350 ms hold
FRAME_MS = 16  # one touchmove per display frame, as a real finger gives


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("touch"), idle_lock_minutes=15) as live:
        yield live


@pytest.fixture
def booked(server):
    """A physiotherapy session at 10:00 on a day no other test books, made over the API."""
    day = (target_monday() + timedelta(days=28)).isoformat()
    desk = server.session()
    desk.sign_in("reception")
    practitioner = desk.api("GET", "/api/v1/practitioners").json()["practitioners"][0]
    patient = desk.api("GET", "/api/v1/patients?q=TEST-2").json()["patients"][0]
    form = desk.get(f"/reception/appointments/new?patient_id={patient['id']}").text
    type_id = re.search(r'<option value="([^"]+)"[^>]*>Physiotherapy session', form).group(1)
    answer = desk.api(
        "POST",
        "/api/v1/appointments",
        {
            "patient_id": patient["id"],
            "practitioner_id": practitioner["id"],
            "type_id": type_id,
            "start": f"{day}T10:00:00+05:30",
        },
    )
    assert answer.status == 201, answer.text
    yield {
        "desk": desk,
        "day": day,
        "id": answer.json()["id"],
        "practitioner_id": practitioner["id"],
        "patient": f"{patient['first_name']} {patient['last_name']}".strip(),
    }
    desk.api("POST", f"/api/v1/appointments/{answer.json()['id']}/cancel", {"reason": "test over"})


class Finger:
    """One finger on the page's touch screen."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.x = self.y = 0.0

    def _send(self, kind: str) -> None:
        points = [] if kind == "touchEnd" else [{"x": self.x, "y": self.y}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def down(self, x: float, y: float) -> None:
        self.x, self.y = x, y
        self._send("touchStart")

    def slide_to(self, x: float, y: float, steps: int = 12) -> None:
        start_x, start_y = self.x, self.y
        for step in range(1, steps + 1):
            self.x = start_x + (x - start_x) * step / steps
            self.y = start_y + (y - start_y) * step / steps
            self._send("touchMove")
            self.page.wait_for_timeout(FRAME_MS)

    def up(self) -> None:
        self._send("touchEnd")


def touch_tablet(browser, base: str, day: str) -> Page:
    """A signed-in tablet with a touch screen, on the day book of ``day``."""
    context = browser.new_context(viewport=TABLET, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, base, "reception")
    page.goto(f"{base}/reception/book?day={day}")
    expect(page.locator("table.day-book[data-move-day]")).to_be_visible()
    return page


def centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def scroll_y(page: Page) -> float:
    return page.evaluate("window.scrollY")


def resting_scroll_y(page: Page) -> float:
    """``window.scrollY`` once a fling has come to rest.

    Polled from here: ``wait_for_function`` polls with an eval the page's CSP forbids.
    """
    last = scroll_y(page)
    for _ in range(40):
        page.wait_for_timeout(100)
        now = scroll_y(page)
        if now == last:
            return now
        last = now
    return last


def test_a_swipe_starting_on_a_booking_scrolls_the_page_and_moves_nothing(server, browser, booked):
    page = touch_tablet(browser, server.url, booked["day"])
    card = booking_card(page, booked["patient"])
    expect(card).to_have_attribute("data-movable", booked["id"])
    assert scroll_y(page) == 0
    page.evaluate("window.__notReloaded = true")  # a move reloads the page
    x, y = centre(card)

    finger = Finger(page)
    finger.down(x, y)
    finger.slide_to(x, y - 300)  # a quick upward flick, well under the long-press time
    finger.up()

    assert resting_scroll_y(page) > 150, "the page did not scroll under the finger"
    expect(card).not_to_have_class(re.compile(r"\bis-dragging\b"))
    expect(page.locator(".is-drop-target")).to_have_count(0)
    page.wait_for_timeout(500)  # had a move started, it would have been sent and reloaded by now
    assert page.evaluate("window.__notReloaded === true")
    still = booked["desk"].api("GET", f"/api/v1/appointments/{booked['id']}").json()
    assert still["start"].startswith(f"{booked['day']}T04:30:00")  # 10:00 in Kolkata
    page.context.close()


def test_a_long_press_lifts_the_booking_and_sliding_moves_it(server, browser, booked):
    page = touch_tablet(browser, server.url, booked["day"])
    card = booking_card(page, booked["patient"])
    target = page.locator(f'td[data-slot="{booked["practitioner_id"]} 11:30"]')
    start_x, start_y = centre(card)
    end_x, end_y = centre(target)
    before = scroll_y(page)

    finger = Finger(page)
    finger.down(start_x, start_y)
    page.wait_for_timeout(LONG_PRESS_WAIT_MS)
    # The hold is over: the card shows it is lifted before the finger moves at all.
    expect(card).to_have_class(re.compile(r"\bis-dragging\b"))
    finger.slide_to(end_x, end_y)
    expect(target).to_have_class(re.compile(r"\bis-drop-target\b"))
    assert scroll_y(page) == before, "the page scrolled under a lifted card"
    screenshot(page, "touch-long-press-drag")
    finger.up()

    page.wait_for_load_state()
    expect(booking_card(page, booked["patient"])).to_contain_text("11:30", timeout=10_000)
    moved = booked["desk"].api("GET", f"/api/v1/appointments/{booked['id']}").json()
    assert moved["start"].startswith(f"{booked['day']}T06:00:00")  # 11:30 in Kolkata
    page.context.close()


def test_a_quick_tap_on_a_booking_opens_it(server, browser, booked):
    page = touch_tablet(browser, server.url, booked["day"])
    page.touchscreen.tap(*centre(booking_card(page, booked["patient"])))
    expect(page).to_have_url(f"{server.url}/reception/appointments/{booked['id']}")
    page.context.close()
