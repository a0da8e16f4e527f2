"""Calendar feeds: a practitioner subscribes their phone to their own diary, read-only."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from physioez.core.kernel.errors import Forbidden, InvalidInput, NotFound
from physioez.core.web.access import can, current_actor, public, requires
from physioez.core.web.branch import current_settings
from physioez.core.web.files import send_bytes
from physioez.reception.models import CalendarFeed, Practitioner
from physioez.reception.services import feeds, schedule_setup
from physioez.reception.views import bp


def _manageable() -> list[Practitioner]:
    """Everyone for schedule managers; otherwise just the signed-in practitioner."""
    if can("reception.schedule.manage"):
        return schedule_setup.active_practitioners()
    return list(Practitioner.live().where(Practitioner.staff_id == current_user.id))


def _allowed(practitioner_id: str) -> Practitioner:
    if not practitioner_id:
        raise InvalidInput("Choose whose calendar to share.", field="practitioner_id")
    for practitioner in _manageable():
        if practitioner.id == practitioner_id:
            return practitioner
    raise Forbidden("You can only manage your own calendar link.")


def _feeds_page(new_url: str | None = None):
    rows = [(p, feeds.feeds_of(p.id)) for p in _manageable()]
    return render_template("reception/feeds.html", rows=rows, new_url=new_url)


@bp.get("/feeds")
@requires("reception.appointments.read")
def feed_list():
    return _feeds_page()


@bp.post("/feeds")
@requires("reception.feeds.manage")
def feed_create():
    practitioner = _allowed(request.form.get("practitioner_id", ""))
    _, token = feeds.create_feed(current_actor(), practitioner.id)
    # The link is shown on this answer only: it is not stored, so no redirect can show it.
    return _feeds_page(url_for("reception.calendar_feed", token=token, _external=True))


@bp.post("/feeds/<feed_id>/revoke")
@requires("reception.feeds.manage")
def feed_revoke(feed_id: str):
    feed = CalendarFeed.get_or_none(CalendarFeed.id == feed_id)
    if feed is None:
        raise NotFound("No such calendar link.")
    _allowed(feed.practitioner_id)
    feeds.revoke_feed(current_actor(), feed)
    flash("Calendar link revoked: phones subscribed to it stop updating.", "success")
    return redirect(url_for("reception.feed_list"))


@bp.get("/calendar/<token>.ics")
@public  # The unguessable token in the URL is the credential, as calendar apps expect.
def calendar_feed(token: str):
    settings = current_settings()
    body = feeds.render(feeds.feed_for_token(token), settings.branch.name, settings.branch.timezone)
    data = body.encode() if isinstance(body, str) else body
    return send_bytes(data, "appointments.ics", "text/calendar", inline=True)
