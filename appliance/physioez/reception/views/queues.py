"""The desk's queues: the waitlist (with offers of freed slots) and tomorrow's reminders."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for

from physioez.core.kernel.errors import InvalidInput, NotFound, ServiceError
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import parse_form
from physioez.core.web.branch import branch_timezone, branch_today, branch_zone, current_settings
from physioez.reception.api import forms
from physioez.reception.models import AppointmentType, WaitlistEntry
from physioez.reception.services import patients, reminders, schedule_setup, waitlist
from physioez.reception.views import bp


def _waitlist_page(values, error: ServiceError | None = None, status: int = 200):
    query = values.get("q", "")
    return render_template(
        "reception/waitlist.html",
        entries=waitlist.open_entries(),
        priorities=waitlist.PRIORITIES,
        weekdays=list(zip(waitlist.WEEKDAY_CODES, schedule_setup.WEEKDAYS, strict=True)),
        practitioners=schedule_setup.active_practitioners(),
        types=list(AppointmentType.live().order_by(AppointmentType.name)),
        found=patients.search(query, limit=10) if query else [],
        values=values,
        zone=branch_zone(),
        error=error.message if error else None,
    ), status


@bp.get("/waitlist")
@requires("reception.appointments.read")
def waitlist_page():
    return _waitlist_page(request.args)


@bp.post("/waitlist")
@requires("reception.appointments.write")
def waitlist_add():
    try:
        if not request.form.get("patient_id"):
            raise InvalidInput("Find and choose the patient.", field="patient_id")
        wanted = parse_form(forms.WaitlistIn)
        waitlist.add(
            current_actor(),
            patient_id=wanted.patient_id,
            type_id=wanted.type_id,
            practitioner_id=wanted.practitioner_id,
            priority=wanted.priority,
            weekdays=wanted.weekdays,
            earliest=wanted.earliest_time,
            latest=wanted.latest_time,
            note=wanted.note,
        )
    except ServiceError as exc:
        return _waitlist_page(request.form, exc, exc.status)
    flash("Added to the waitlist. When a matching slot frees up, it is offered here.", "success")
    return redirect(url_for("reception.waitlist_page"))


@bp.post("/waitlist/<entry_id>")
@requires("reception.appointments.write")
def waitlist_update(entry_id: str):
    entry = WaitlistEntry.get_or_none(WaitlistEntry.id == entry_id)
    if entry is None or entry.deleted_at is not None:
        raise NotFound("No such waitlist entry.")
    try:
        waitlist.close(current_actor(), entry, request.form.get("status", ""))
    except ServiceError as exc:
        return _waitlist_page(request.form, exc, exc.status)
    return redirect(url_for("reception.waitlist_page"))


@bp.get("/reminders")
@requires("reception.appointments.read")
def reminder_queue():
    settings = current_settings()
    tomorrow = branch_today() + timedelta(days=1)
    return render_template(
        "reception/reminders.html",
        day=tomorrow,
        queue=reminders.queue_for(tomorrow, settings.branch.timezone),
        zone=ZoneInfo(settings.branch.timezone),
    )


@bp.post("/reminders")
@requires("reception.appointments.write")
def reminder_queue_run():
    tomorrow = branch_today() + timedelta(days=1)
    timezone = branch_timezone()
    counts = reminders.queue_for_day(current_actor(), tomorrow, timezone)
    flash(
        f"{counts['queued']} reminders queued; {counts['no_consent']} not sent for lack "
        "of consent or contact details.",
        "success",
    )
    return redirect(url_for("reception.reminder_queue"))
