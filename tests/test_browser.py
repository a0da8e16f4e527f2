"""Staff journeys in headless Chromium against the real server, on a tablet-sized screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import new_page, screenshot, sign_in, wait_until_true
from tests.live_server import DEMO_PINS, LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ADMIN_NAV = ("Staff", "Roles", "API tokens", "Audit log")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("browser")) as live:
        yield live


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    yield opened
    opened.context.close()


def nav_labels(page: Page) -> list[str]:
    return [label.strip() for label in page.locator("nav.nav a").all_inner_texts()]


def profile_link(page: Page):
    return page.locator(".topbar-actions a[href='/profile']")


def test_owner_signs_in_and_sees_the_admin_navigation(server, page):
    sign_in(page, server.url, "owner")

    expect(page).to_have_url(f"{server.url}/")
    expect(page.get_by_role("heading", name=re.compile("Good to see you"))).to_be_visible()
    labels = nav_labels(page)
    for label in ("Front desk", *ADMIN_NAV):
        assert label in labels, labels
    screenshot(page, "owner-home")


def test_idle_screen_locks_and_another_person_unlocks_with_their_pin(server, page):
    page.clock.install()  # Fake timers from the first page on, so time can be skipped.
    sign_in(page, server.url, "reception")
    expect(page).to_have_url(f"{server.url}/reception/")
    receptionist = profile_link(page).inner_text()

    # app.js checks every 15 s and locks after data-idle-lock-minutes (1) without activity.
    page.clock.fast_forward("01:30")

    page.wait_for_url(re.compile(r"/lock\?next=%2Freception%2F$"))
    expect(page.get_by_role("heading", name="Screen locked")).to_be_visible()

    # Quick user switch: someone else at the desk taps their name and types their PIN.
    # (The manager: a therapist may not open the front desk, so would land on a 403.)
    tile = page.locator('.user-tile[data-username="manager"]')
    manager = tile.locator("strong").inner_text()
    assert manager != receptionist
    tile.click()
    expect(page.locator("#username")).to_have_value("manager")
    expect(tile).to_have_attribute("aria-pressed", "true")
    page.fill("#pin", DEMO_PINS["manager"])
    page.get_by_role("button", name="Unlock").click()

    page.wait_for_url(f"{server.url}/reception/")
    expect(page.get_by_role("heading", name="Front desk", level=1)).to_be_visible()
    expect(profile_link(page)).to_have_text(manager)
    screenshot(page, "unlocked-as-manager")


def test_new_receptionist_must_change_password_and_sees_only_the_front_desk(server, page):
    temporary, chosen = "temporary-pass-1", "a-sentence-of-my-own"
    sign_in(page, server.url, "owner")
    page.locator("nav.nav").get_by_role("link", name="Staff", exact=True).click()
    page.get_by_role("link", name="Add staff member").click()
    page.fill("#full_name", "Asha Verma")
    page.fill("#username", "asha.v")
    page.check('input[name="roles"][value="receptionist"]')
    page.fill("#password", temporary)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".flash-success")).to_contain_text("can now sign in as 'asha.v'")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))

    sign_in(page, server.url, "asha.v", temporary)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.fill("#current_password", temporary)
    page.fill("#password", chosen)
    page.fill("#password_repeat", chosen)
    page.get_by_role("button", name="Save password").click()

    expect(page).to_have_url(f"{server.url}/reception/")
    expect(profile_link(page)).to_have_text("Asha Verma")
    labels = nav_labels(page)
    assert "Front desk" in labels, labels
    for label in ADMIN_NAV:
        assert label not in labels, labels

    refused = page.goto(f"{server.url}/admin/staff")
    assert refused is not None and refused.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot(page, "receptionist-refused-staff")


def test_staff_page_offers_a_refresh_when_someone_else_changes_staff(server, page):
    """Live updates end to end: gunicorn gthread + simple-websocket + the pinned client."""
    sign_in(page, server.url, "manager")
    page.goto(f"{server.url}/admin/staff")
    banner = page.locator("#live-banner")
    expect(banner).not_to_have_class(re.compile(r"\bis-visible\b"))
    wait_until_true(page, "window.io !== undefined")
    page.wait_for_timeout(500)  # Let the socket finish connecting before the change.

    owner = server.session()
    owner.sign_in("owner")
    created = owner.api(
        "POST",
        "/api/v1/staff",
        {
            "username": "live.update",
            "full_name": "Live Update",
            "roles": ["billing"],
            "password": "temporary-pass-1",
        },
    )
    assert created.status == 201

    expect(banner).to_have_class(re.compile(r"\bis-visible\b"))
    banner.get_by_role("button", name="Refresh").click()
    expect(page.get_by_role("link", name="Live Update")).to_be_visible()
