"""Setting up the appointment book: who works when, rooms, equipment, types, clash rules."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for

from physioez.core.kernel.errors import InvalidInput, NotFound, ServiceError
from physioez.core.kernel.identity import get_staff
from physioez.core.web.access import current_actor, requires
from physioez.core.web.branch import branch_today
from physioez.reception.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Resource,
)
from physioez.reception.services import schedule_setup
from physioez.reception.services.clash import Rule
from physioez.reception.views import bp


def _setup_page(error: ServiceError | None = None, status: int = 200):
    practitioners = schedule_setup.active_practitioners()
    today = branch_today()
    policy = schedule_setup.clash_policy()
    return render_template(
        "reception/setup.html",
        practitioners=[
            (p, schedule_setup.hours_of(p), schedule_setup.upcoming_exceptions(p, today))
            for p in practitioners
        ],
        candidates=schedule_setup.staff_who_could_practise(),
        resources=list(Resource.live().order_by(Resource.kind.desc(), Resource.name)),
        types=list(AppointmentType.live().order_by(AppointmentType.name)),
        rules=[
            (rule.value, schedule_setup.RULE_LABELS[rule], policy.severity(rule).value)
            for rule in Rule
        ],
        weekdays=schedule_setup.WEEKDAYS,
        today=today,
        error=error.message if error else None,
    ), status


def _int(name: str, default: int | None = None) -> int:
    text = request.form.get(name, "")
    if not text.strip() and default is not None:
        return default
    if not text.strip().isdigit():
        raise InvalidInput(f"Enter a whole number for {name.replace('_', ' ')}.", field=name)
    return int(text)


@bp.get("/setup")
@requires("reception.schedule.manage")
def setup():
    return _setup_page()


@bp.post("/setup/<what>")
@requires("reception.schedule.manage")
def setup_change(what: str):
    form = request.form
    actor = current_actor()
    try:
        if what == "practitioner":
            schedule_setup.make_practitioner(actor, get_staff(form.get("staff_id", "")))
        elif what == "hours":
            schedule_setup.add_weekly_hours(
                actor,
                schedule_setup.get_practitioner(form.get("practitioner_id", "")),
                _int("weekday"),
                form.get("start_time", ""),
                form.get("end_time", ""),
            )
        elif what == "exception":
            day_text = form.get("day", "")
            try:
                day = date.fromisoformat(day_text)
            except ValueError:
                raise InvalidInput("Choose the day.", field="day") from None
            schedule_setup.add_exception(
                actor,
                schedule_setup.get_practitioner(form.get("practitioner_id", "")),
                day=day,
                kind=form.get("kind", ""),
                start_time=form.get("start_time") or None,
                end_time=form.get("end_time") or None,
                reason=form.get("reason", ""),
            )
        elif what == "resource":
            schedule_setup.create_resource(
                actor,
                kind=form.get("kind", ""),
                name=form.get("name", ""),
                capacity=_int("capacity", 1),
            )
        elif what == "type":
            schedule_setup.create_appointment_type(
                actor,
                name=form.get("name", ""),
                duration_minutes=_int("duration_minutes"),
                service_code=form.get("service_code", ""),
                group_capacity=_int("group_capacity", 1),
                resource_ids=form.getlist("resource_ids"),
            )
        elif what == "rule":
            schedule_setup.set_clash_rule(actor, form.get("rule", ""), form.get("severity", ""))
        else:
            raise NotFound("Nothing to set up here.")
    except ServiceError as exc:
        return _setup_page(exc, exc.status)
    flash("Saved.", "success")
    return redirect(url_for("reception.setup") + f"#{what}")


REMOVABLE = {
    "hours": AvailabilityRule,
    "exception": AvailabilityException,
    "resource": Resource,
    "type": AppointmentType,
}


@bp.post("/setup/<what>/<row_id>/remove")
@requires("reception.schedule.manage")
def setup_remove(what: str, row_id: str):
    model = REMOVABLE.get(what)
    row = model.get_or_none(model.id == row_id) if model else None
    if row is None:
        raise NotFound("Nothing to remove here.")
    try:
        schedule_setup.remove_record(current_actor(), row)
    except ServiceError as exc:
        return _setup_page(exc, exc.status)
    flash("Removed. Appointments already booked stay as they are.", "success")
    return redirect(url_for("reception.setup") + f"#{what}")
