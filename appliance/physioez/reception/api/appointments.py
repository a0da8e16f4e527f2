"""The front-desk API: the appointment book, series and practitioners' availability."""

from __future__ import annotations

from flask import jsonify

from physioez.core.kernel.errors import InvalidInput
from physioez.core.web.access import current_actor
from physioez.core.web.api import ErrorOut
from physioez.core.web.branch import current_settings
from physioez.reception.api import api, schemas
from physioez.reception.services import (
    appointments,
    book_queries,
    clash_engine,
    schedule_setup,
    series,
    slots,
)
from physioez.reception.services.slots import ClashRefused

# --- the appointment book --------------------------------------------------------------------


def _clashes_out(found) -> list[schemas.ClashOut]:
    return [
        schemas.ClashOut(
            rule=c.rule.value,
            severity=c.severity.value,
            message=c.message,
            conflicting_id=c.conflicting_id,
            resource_id=c.resource_id,
        )
        for c in found
    ]


def clash_refusal(refused: ClashRefused):
    """The 409 for a slot that clashes, for every route that books."""
    answer = schemas.ClashRefusedOut(
        error=refused.message,
        fields=refused.fields,
        needs_override=refused.needs_override,
        clashes=_clashes_out(refused.clashes),
    )
    return jsonify(answer.model_dump(mode="json")), 409


@api.route(
    "/appointments",
    "GET",
    permission="reception.appointments.read",
    summary="A day of the appointment book",
    query=schemas.DayQuery,
    response=schemas.AppointmentList,
)
def list_appointments(query: schemas.DayQuery):
    start, end = book_queries.local_day_span(query.day, current_settings().branch.timezone)
    wanted = [query.practitioner_id] if query.practitioner_id else []
    found = book_queries.appointments_between(start, end, wanted)
    return schemas.AppointmentList(appointments=[schemas.AppointmentOut.of(a) for a in found])


@api.route(
    "/appointments/check",
    "POST",
    permission="reception.appointments.read",
    summary="What a slot would clash with, without booking it",
    body=schemas.SlotIn,
    response=schemas.CheckOut,
    errors=(404,),
)
def check_appointment(body: schemas.SlotIn):
    _, found = slots.check_slot(body.slot(), current_settings().branch.timezone)
    hard = clash_engine.hard_clashes(found)
    return schemas.CheckOut(
        clashes=_clashes_out(found), bookable=not found, needs_override=bool(found) and not hard
    )


@api.route(
    "/appointments",
    "POST",
    permission="reception.appointments.write",
    summary="Book (409 with the clashes; warnings need override_reason)",
    body=schemas.BookingIn,
    response=schemas.AppointmentOut,
    status=201,
    errors={404: ErrorOut, 409: schemas.ClashRefusedOut},
)
def book_appointment(body: schemas.BookingIn):
    try:
        booked = appointments.book(
            current_actor(),
            body.slot(),
            current_settings().branch.timezone,
            override_reason=body.override_reason,
        )
    except ClashRefused as refused:
        return clash_refusal(refused)
    return schemas.AppointmentOut.of(booked)


@api.route(
    "/appointments/series/preview",
    "POST",
    permission="reception.appointments.read",
    summary="Every occurrence of a weekly series with its clashes",
    body=schemas.SeriesIn,
    response=schemas.SeriesPreviewOut,
    errors=(404,),
)
def preview_series(body: schemas.SeriesIn):
    lines = series.preview(body.slot(), body.rule(current_settings().branch.timezone))
    return schemas.SeriesPreviewOut(
        occurrences=[
            schemas.SeriesPreviewLine(
                index=line.occurrence.index,
                start=line.occurrence.start_utc,
                clashes=_clashes_out(line.clashes),
            )
            for line in lines
        ]
    )


@api.route(
    "/appointments/series",
    "POST",
    permission="reception.appointments.write",
    summary="Book a weekly series, all or nothing",
    body=schemas.SeriesIn,
    response=schemas.AppointmentList,
    status=201,
    errors={404: ErrorOut, 409: schemas.ClashRefusedOut},
)
def book_series(body: schemas.SeriesIn):
    try:
        booked = series.book_series(
            current_actor(),
            body.slot(),
            body.rule(current_settings().branch.timezone),
            skip=body.skip,
            override_reason=body.override_reason,
        )
    except ClashRefused as refused:
        return clash_refusal(refused)
    return schemas.AppointmentList(appointments=[schemas.AppointmentOut.of(a) for a in booked])


@api.route(
    "/appointments/<appointment_id>",
    "GET",
    permission="reception.appointments.read",
    summary="One appointment",
    response=schemas.AppointmentOut,
)
def get_appointment(appointment_id: str):
    return schemas.AppointmentOut.of(appointments.get_appointment(appointment_id))


@api.route(
    "/appointments/<appointment_id>/status",
    "PUT",
    permission="reception.attendance.write",
    summary="Confirm, check in, start, complete or mark a no-show",
    body=schemas.StatusIn,
    response=schemas.AppointmentOut,
    errors=(409,),
)
def set_appointment_status(appointment_id: str, body: schemas.StatusIn):
    appointment = appointments.set_status(
        current_actor(), appointments.get_appointment(appointment_id), body.status
    )
    return schemas.AppointmentOut.of(appointment)


@api.route(
    "/appointments/<appointment_id>/cancel",
    "POST",
    permission="reception.appointments.write",
    summary="Cancel with a reason (this one, or this and following)",
    body=schemas.CancelIn,
    response=schemas.AppointmentOut,
    errors=(409,),
)
def cancel_appointment(appointment_id: str, body: schemas.CancelIn):
    appointment = appointments.get_appointment(appointment_id)
    hours = current_settings().reception.late_cancel_hours
    if body.scope == "following":
        series.cancel_following(current_actor(), appointment, body.reason, hours)
        appointment = appointments.get_appointment(appointment_id)
    else:
        appointments.cancel(current_actor(), appointment, body.reason, hours)
    return schemas.AppointmentOut.of(appointment)


@api.route(
    "/appointments/<appointment_id>/reschedule",
    "POST",
    permission="reception.appointments.write",
    summary="Move to another time or practitioner",
    body=schemas.RescheduleIn,
    response=schemas.AppointmentOut,
    errors={409: (ErrorOut, schemas.ClashRefusedOut)},
)
def reschedule_appointment(appointment_id: str, body: schemas.RescheduleIn):
    appointment = appointments.get_appointment(appointment_id)
    try:
        appointments.reschedule(
            current_actor(),
            appointment,
            start=body.start,
            practitioner_id=body.practitioner_id,
            timezone=current_settings().branch.timezone,
            override_reason=body.override_reason,
        )
    except ClashRefused as refused:
        return clash_refusal(refused)
    return schemas.AppointmentOut.of(appointment)


# --- availability ----------------------------------------------------------------------------


@api.route(
    "/practitioners",
    "GET",
    permission="reception.appointments.read",
    summary="Who can be booked",
    response=schemas.PractitionerList,
)
def list_practitioners():
    return schemas.PractitionerList(
        practitioners=[
            schemas.PractitionerOut(
                id=p.id, staff_id=p.staff_id, display_name=p.display_name, active=p.active
            )
            for p in schedule_setup.active_practitioners()
        ]
    )


@api.route(
    "/availability",
    "GET",
    permission="reception.appointments.read",
    summary="A practitioner's working hours and leave, day by day",
    query=schemas.AvailabilityQuery,
    response=schemas.AvailabilityOut,
    errors=(404,),
)
def get_availability(query: schemas.AvailabilityQuery):
    if query.end_day < query.start_day or (query.end_day - query.start_day).days > 62:
        raise InvalidInput("Ask for at most 62 days, end after start.", field="end_day")
    practitioner = schedule_setup.get_practitioner(query.practitioner_id)
    hours = schedule_setup.hours_between(
        [practitioner.id], query.start_day, query.end_day, current_settings().branch.timezone
    )

    def spans(items):
        return [schemas.IntervalOut(start=i.start, end=i.end) for i in items]

    return schemas.AvailabilityOut(
        practitioner_id=practitioner.id,
        working=spans(hours.availability.get(practitioner.id, [])),
        leave=spans(hours.leave.get(practitioner.id, [])),
    )


@api.route(
    "/practitioners/<practitioner_id>/hours",
    "POST",
    permission="reception.schedule.manage",
    summary="Add weekly working hours",
    body=schemas.WeeklyHoursIn,
    response=schemas.CreatedOut,
    status=201,
)
def add_hours(practitioner_id: str, body: schemas.WeeklyHoursIn):
    rule = schedule_setup.add_weekly_hours(
        current_actor(),
        schedule_setup.get_practitioner(practitioner_id),
        body.weekday,
        body.start_time,
        body.end_time,
    )
    return schemas.CreatedOut(id=rule.id)


@api.route(
    "/practitioners/<practitioner_id>/exceptions",
    "POST",
    permission="reception.schedule.manage",
    summary="Add leave or an extra shift",
    body=schemas.ExceptionIn,
    response=schemas.CreatedOut,
    status=201,
)
def add_exception(practitioner_id: str, body: schemas.ExceptionIn):
    found = schedule_setup.add_exception(
        current_actor(),
        schedule_setup.get_practitioner(practitioner_id),
        day=body.day,
        kind=body.kind,
        start_time=body.start_time,
        end_time=body.end_time,
        reason=body.reason,
    )
    return schemas.CreatedOut(id=found.id)
