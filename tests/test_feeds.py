"""Practitioners' calendar links: made once, valid RFC 5545, initials only, revocable."""

from __future__ import annotations

import re

from icalendar import Calendar

from physioez.reception.services import appointments
from physioez.reception.services.slots import Slot
from tests.conftest import sign_in_client
from tests.reception_fixtures import MONDAY, ZONE, at


def test_feed_link_lifecycle(app, clinic, client_for, system_actor, make_staff):
    appointments.book(
        system_actor,
        Slot(
            patient_id=clinic.asha.id,
            practitioner_id=clinic.rao.id,
            type_id=clinic.physio.id,
            start=at(MONDAY, "10:00"),
        ),
        ZONE,
    )
    from physioez.core.kernel.models import Staff

    rao = sign_in_client(app.test_client(), Staff.get_by_id(clinic.rao.staff_id))
    page = rao.post("/reception/feeds", data={"practitioner_id": clinic.rao.id})
    url = re.search(rb'id="new-feed">([^<]+)<', page.data).group(1).decode()
    path = url.split("localhost", 1)[1]
    anonymous = app.test_client()
    feed = anonymous.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    calendar = Calendar.from_ical(feed.data)
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 1
    assert str(events[0]["SUMMARY"]) == "A.T. Physiotherapy session"
    assert b"Asha" not in feed.data
    # Someone else's link is not theirs to manage.
    assert rao.post("/reception/feeds", data={"practitioner_id": clinic.iyer.id}).status_code == (
        403
    )
    listing = rao.get("/reception/feeds").data.decode()
    feed_id = re.search(r"/reception/feeds/([^/]+)/revoke", listing).group(1)
    assert rao.post(f"/reception/feeds/{feed_id}/revoke").status_code == 302
    gone = anonymous.get(path)
    assert gone.status_code == 404 and b"not valid any more" in gone.data
    assert anonymous.get("/reception/calendar/guess.ics").status_code == 404
    desk = client_for("receptionist")
    assert b"You are not in the appointment book" in desk.get("/reception/feeds").data
