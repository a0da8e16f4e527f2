"""Setting up the appointment book: who works when, rooms, equipment, types, clash rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from physioez.core.kernel.audit import Actor
from physioez.core.kernel.bounds import Inbound
from physioez.core.kernel.errors import NotFound, ServiceError
from physioez.core.kernel.identity import get_staff
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import parse_form
from physioez.core.web.branch import branch_today
from physioez.reception.api import forms, schemas
from physioez.reception.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Practitioner,
    Resource,
)
from physioez.reception.services import schedule_setup
from physioez.reception.services.clash import Rule
from physioez.reception.views import bp


def _setup_page(
    error: ServiceError | None = None,
    status: int = 200,
    *,
    failed: str = "",
    values: MultiDict | None = None,
):
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
        field=error.field if error else None,
        # The form that was refused shows again with what was typed in it.
        failed=failed,
        values=values if values is not None else MultiDict(),
    ), status


@bp.get("/setup")
@requires("reception.schedule.manage")
def setup():
    return _setup_page()


def _practitioner() -> Practitioner:
    return schedule_setup.get_practitioner(request.form.get("practitioner_id", ""))


def _add_practitioner(actor: Actor, wanted: forms.PractitionerIn) -> None:
    schedule_setup.make_practitioner(actor, get_staff(wanted.staff_id))


def _add_hours(actor: Actor, wanted: schemas.WeeklyHoursIn) -> None:
    schedule_setup.add_weekly_hours(
        actor, _practitioner(), wanted.weekday, wanted.start_time, wanted.end_time
    )


def _add_exception(actor: Actor, wanted: schemas.ExceptionIn) -> None:
    schedule_setup.add_exception(actor, _practitioner(), **wanted.model_dump())


def _add_resource(actor: Actor, wanted: forms.ResourceIn) -> None:
    schedule_setup.create_resource(actor, **wanted.model_dump())


def _add_type(actor: Actor, wanted: forms.AppointmentTypeIn) -> None:
    schedule_setup.create_appointment_type(actor, **wanted.model_dump())


def _set_rule(actor: Actor, wanted: forms.ClashRuleIn) -> None:
    schedule_setup.set_clash_rule(actor, wanted.rule, wanted.severity)


# Each set-up form: the model that reads it (the API's where there is one) and what it does.
SETUP_FORMS: dict[str, tuple[type[Inbound], Callable[[Actor, Any], None]]] = {
    "practitioner": (forms.PractitionerIn, _add_practitioner),
    "hours": (schemas.WeeklyHoursIn, _add_hours),
    "exception": (schemas.ExceptionIn, _add_exception),
    "resource": (forms.ResourceIn, _add_resource),
    "type": (forms.AppointmentTypeIn, _add_type),
    "rule": (forms.ClashRuleIn, _set_rule),
}


@bp.post("/setup/<what>")
@requires("reception.schedule.manage")
def setup_change(what: str):
    if what not in SETUP_FORMS:
        raise NotFound("Nothing to set up here.")
    model, apply = SETUP_FORMS[what]
    try:
        apply(current_actor(), parse_form(model))
    except ServiceError as exc:
        return _setup_page(exc, exc.status, failed=what, values=request.form)
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
