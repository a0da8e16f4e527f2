"""The branch's replication page for its IT person: connected or not, what waits, last ack."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from physioez.core.kernel import directory, policies
from physioez.core.kernel.models import utcnow
from physioez.core.web.access import can, current_actor, requires
from physioez.core.web.branch import current_settings
from physioez.core.web.nav import NavItem
from physioez.sync.services import downstream, state

bp = Blueprint("sync", __name__, url_prefix="/system")

NAV = (NavItem("Appliance", "Replication", "sync.status_page", "sync.replication.manage"),)
PATIENT_DATA = "reception.patients.read"


def how_long(seconds: float) -> str:
    """A lag as an IT person reads it at a glance: "4 s", "12 min", "3 h 05 min", "2 days"."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} days"


def resendable_tables() -> list[str]:
    """Tables this branch sends to head office (not the ones head office alone writes)."""
    return sorted(
        table for table, model in downstream.replicated_models().items() if model.ownership != "hq"
    )


@bp.get("/replication")
@requires("sync.replication.manage")
def status_page():
    settings = current_settings()
    publisher = current_app.extensions.get("physioez_sync")
    status = publisher.status() if publisher is not None else None
    acked, last = state.acked_seq(), state.last_seq()
    conflicts = downstream.open_conflict_notices()
    return render_template(
        "sync/status.html",
        sync=settings.sync,
        conflicts=conflicts,
        # Names and values are patient data: shown only to those who may read patients.
        patients=directory.patient_cards([c["key"] for c in conflicts if c["table"] == "patient"])
        if can(PATIENT_DATA)
        else None,
        tables=resendable_tables(),
        chain_policies=policies.held(),
        resends=state.resends(),
        status=status,
        acked=acked,
        last=last,
        waiting=last - acked,
        lag=how_long((utcnow() - oldest).total_seconds())
        if (oldest := state.oldest_waiting_at(acked)) is not None
        else None,
        ack_age=(time.monotonic() - status.last_ack_at)
        if status is not None and status.last_ack_at is not None
        else None,
    )


@bp.post("/replication/check")
@requires("sync.replication.manage")
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


@bp.post("/replication/resend")
@requires("sync.replication.manage")
def resend_table():
    table = request.form.get("table", "")
    if table not in resendable_tables():
        flash("Choose one of the listed tables to send again.", "error")
        return redirect(url_for("sync.status_page"))
    resend = state.request_table_resend(table, current_actor(), current_user.full_name)
    flash(
        f"Sending all {resend.total} records of {table} to head office again; "
        "progress shows below. The branch keeps working meanwhile.",
        "info",
    )
    return redirect(url_for("sync.status_page"))
