"""The branch's replication page for its IT person: connected or not, what waits, last ack."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from physioez.core.web.access import requires
from physioez.core.web.nav import NavItem
from physioez.sync import state

bp = Blueprint("sync", __name__, url_prefix="/system")

NAV = (NavItem("Appliance", "Replication", "sync.status_page", "system.appliance.manage"),)


@bp.get("/replication")
@requires("system.appliance.manage")
def status_page():
    settings = current_app.config["PHYSIOEZ"]
    publisher = current_app.extensions.get("physioez_sync")
    status = publisher.status() if publisher is not None else None
    acked, last = state.acked_seq(), state.last_seq()
    return render_template(
        "sync/status.html",
        sync=settings.sync,
        status=status,
        acked=acked,
        last=last,
        waiting=last - acked,
        ack_age=(time.monotonic() - status.last_ack_at)
        if status is not None and status.last_ack_at is not None
        else None,
    )


@bp.post("/replication/check")
@requires("system.appliance.manage")
def check_now():
    publisher = current_app.extensions.get("physioez_sync")
    if publisher is None:
        flash("Replication is not running on this box.", "error")
    elif publisher.check_with_head_office():
        flash("Asked head office for its digests; the result appears here in a moment.", "info")
    else:
        flash(
            "Changes are still on their way to head office; check again once nothing waits.",
            "error",
        )
    return redirect(url_for("sync.status_page"))
