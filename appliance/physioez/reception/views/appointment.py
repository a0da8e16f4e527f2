"""Booking an appointment (single or a weekly series) and one appointment's page: its status
through the day, cancelling, moving. Times in forms are the branch's local wall-clock times."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for

from physioez.core.kernel.errors import InvalidInput, ServiceError
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import parse_form
from physioez.core.web.branch import branch_timezone, branch_today, current_settings
from physioez.reception.api import schemas
from physioez.reception.models import APPOINTMENT_STATUSES, AppointmentType
from physioez.reception.services import appointments, patients, schedule_setup, scope, series
from physioez.reception.services.slots import ClashRefused
from physioez.reception.views import bp


def _types() -> list[AppointmentType]:
    return list(
        AppointmentType.live()
        .where(AppointmentType.active == True)  # noqa: E712
        .order_by(AppointmentType.name)
    )


def _booking_form(
    values,
    *,
    error: ServiceError | None = None,
    clashes=(),
    needs_override=False,
    preview=None,
    status: int = 200,
):
    query = values.get("q", "")
    chosen = None
    if values.get("patient_id"):
        try:
            chosen = patients.get_patient(values["patient_id"])
        except ServiceError:
            chosen = None
    return render_template(
        "reception/booking_form.html",
        values=values,
        found=patients.search(query, limit=10) if query and not chosen else [],
        chosen=chosen,
        practitioners=_changeable_practitioners(),
        types=_types(),
        error=error.message if error else None,
        problems=error.fields if error else {},
        clashes=clashes,
        needs_override=needs_override,
        preview=preview,
        weekdays=list(
            zip(("MO", "TU", "WE", "TH", "FR", "SA", "SU"), schedule_setup.WEEKDAYS, strict=True)
        ),
        today=branch_today(),
    ), status


def _changeable_practitioners() -> list:
    """The practitioners whose diaries the person may book into or move appointments to."""
    may_change = scope.diary_check(current_actor())
    return [p for p in schedule_setup.active_practitioners() if may_change(p.id)]


@bp.route("/appointments/new", methods=["GET", "POST"])
@requires("reception.appointments.write")
def booking_new():
    values = request.values
    if request.method == "GET":
        return _booking_form(values)
    try:
        if not values.get("patient_id"):
            raise InvalidInput("Find and choose the patient first.", field="patient_id")
        override = values.get("override_reason", "")
        if values.get("repeat") == "weekly":
            wanted = parse_form(schemas.SeriesIn)
            slot, rule = wanted.slot(), wanted.rule(branch_timezone())
            if values.get("step") != "confirm_series":
                return _booking_form(values, preview=series.preview(slot, rule))
            booked = series.book_series(
                current_actor(), slot, rule, skip=wanted.skip, override_reason=override
            )
            flash(f"Series booked: {len(booked)} sessions.", "success")
            return redirect(url_for("reception.appointment_detail", appointment_id=booked[0].id))
        appointment = appointments.book(
            current_actor(),
            parse_form(schemas.BookingIn).slot(),
            branch_timezone(),
            override_reason=override,
        )
    except ClashRefused as refused:
        return _booking_form(
            values,
            error=refused,
            clashes=refused.clashes,
            needs_override=refused.needs_override,
            status=409,
        )
    except ServiceError as exc:
        return _booking_form(values, error=exc, status=exc.status)
    flash("Appointment booked.", "success")
    return redirect(
        url_for(
            "reception.day_book",
            day=appointment.start_at.astimezone(ZoneInfo(branch_timezone())).date().isoformat(),
        )
    )


def _boxes(failed: str | None, appointment, needs_override: bool) -> set[str]:
    """The boxes the refused form shows problems at; any other problem goes on top."""
    if failed == "move":
        return {"date", "time", "practitioner_id"} | (
            {"override_reason"} if needs_override else set()
        )
    if failed == "cancel":
        return {"reason"} | ({"scope"} if appointment.series_id else set())
    return set()


def _appointment_page(
    appointment,
    *,
    error: ServiceError | None = None,
    clashes=(),
    needs_override=False,
    failed: str | None = None,
    status: int = 200,
):
    """The appointment's page; ``failed``: the form ("move", "cancel") that was refused,
    shown as typed with its problems at their boxes."""
    zone = ZoneInfo(branch_timezone())
    problems = error.fields if failed and error else {}
    return render_template(
        "reception/appointment_detail.html",
        appointment=appointment,
        may_change=scope.diary_check(current_actor())(appointment.practitioner_id),
        local_start=appointment.start_at.astimezone(zone),
        local_end=appointment.end_at.astimezone(zone),
        statuses=APPOINTMENT_STATUSES,
        next_statuses=appointments.next_statuses(appointment),
        practitioners=_changeable_practitioners(),
        error=error.message if error else None,
        error_at_boxes=bool(problems)
        and set(problems) <= _boxes(failed, appointment, needs_override),
        failed=failed,
        values=request.form if failed else {},
        problems=problems,
        clashes=clashes,
        needs_override=needs_override,
        today=branch_today(),
    ), status


@bp.get("/appointments/<appointment_id>")
@requires("reception.appointments.read")
def appointment_detail(appointment_id: str):
    return _appointment_page(appointments.get_appointment(appointment_id))


@bp.post("/appointments/<appointment_id>/status")
@requires("reception.attendance.write")
def appointment_status(appointment_id: str):
    appointment = appointments.get_appointment(appointment_id)
    try:
        wanted = parse_form(schemas.StatusIn)
        appointments.set_status(current_actor(), appointment, wanted.status)
    except ServiceError as exc:
        return _appointment_page(appointment, error=exc, status=exc.status)
    flash(
        f"{appointment.patient.full_name}: {APPOINTMENT_STATUSES[appointment.status]}.", "success"
    )
    if request.args.get("back") == "today":
        return redirect(url_for("reception.today"))
    return redirect(url_for("reception.appointment_detail", appointment_id=appointment.id))


@bp.post("/appointments/<appointment_id>/cancel")
@requires("reception.appointments.write")
def appointment_cancel(appointment_id: str):
    appointment = appointments.get_appointment(appointment_id)
    hours = current_settings().reception.late_cancel_hours
    try:
        wanted = parse_form(schemas.CancelIn)
        if wanted.scope == "following":
            count = series.cancel_following(current_actor(), appointment, wanted.reason, hours)
            flash(f"{count} sessions of the series cancelled.", "success")
        else:
            appointments.cancel(current_actor(), appointment, wanted.reason, hours)
            flash(
                "Appointment cancelled" + (" (late)." if appointment.late_cancel else "."),
                "success",
            )
    except ServiceError as exc:
        return _appointment_page(appointment, error=exc, failed="cancel", status=exc.status)
    return redirect(url_for("reception.appointment_detail", appointment_id=appointment.id))


@bp.post("/appointments/<appointment_id>/reschedule")
@requires("reception.appointments.write")
def appointment_reschedule(appointment_id: str):
    appointment = appointments.get_appointment(appointment_id)
    try:
        wanted = parse_form(schemas.RescheduleIn)
        appointments.reschedule(
            current_actor(),
            appointment,
            start=wanted.start,
            practitioner_id=wanted.practitioner_id,
            timezone=branch_timezone(),
            override_reason=wanted.override_reason,
        )
    except ClashRefused as refused:
        return _appointment_page(
            appointment,
            error=refused,
            clashes=refused.clashes,
            needs_override=refused.needs_override,
            failed="move",
            status=409,
        )
    except ServiceError as exc:
        return _appointment_page(appointment, error=exc, failed="move", status=exc.status)
    flash("Appointment moved.", "success")
    return redirect(url_for("reception.appointment_detail", appointment_id=appointment.id))
