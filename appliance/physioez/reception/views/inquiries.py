"""Inquiry pages: the pipeline list with today's follow-ups, the quick form, and the detail
page where a lead moves along, gets follow-up tasks and is converted into a patient."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from physioez.core.kernel.errors import Forbidden, ServiceError
from physioez.core.kernel.models import Staff
from physioez.core.web.access import can, current_actor, requires
from physioez.core.web.boundary import parse_form
from physioez.core.web.branch import branch_timezone, branch_today
from physioez.reception.api import inquiries as shapes
from physioez.reception.models import (
    INQUIRY_SOURCES,
    INQUIRY_STATUSES,
    OPEN_STATUSES,
    SEXES,
    AppointmentType,
    Inquiry,
)
from physioez.reception.services import inquiries, patients, schedule_setup
from physioez.reception.services.slots import ClashRefused
from physioez.reception.views import bp

PERMISSION = "reception.inquiries.manage"
# Tabs of the list: the desk's working set first, then each stage, then everything.
TABS = (("open", "Open"), *INQUIRY_STATUSES.items(), ("all", "All"))
STATUS_BADGES = {
    "new": "badge-warn",
    "contacted": "badge-muted",
    "booked": "badge-ok",
    "converted": "badge-ok",
    "lost": "badge-danger",
}
STATUS_BUTTONS = {
    "contacted": "Mark contacted",
    "booked": "Mark booked",
    "lost": "Mark lost",
    "new": "Reopen",
}


def _active_staff() -> list[Staff]:
    return list(
        Staff.live().where(Staff.active == True).order_by(Staff.full_name)  # noqa: E712
    )


def _types() -> list[AppointmentType]:
    return list(
        AppointmentType.live()
        .where(AppointmentType.active == True)  # noqa: E712
        .order_by(AppointmentType.name)
    )


# --- the list ------------------------------------------------------------------------------


@bp.get("/inquiries")
@requires(PERMISSION)
def inquiry_list():
    tab = request.args.get("status", "open")
    if tab not in dict(TABS):
        tab = "open"
    found = inquiries.list_inquiries(None if tab == "all" else tab)
    counts = inquiries.status_counts()
    counts["open"] = sum(counts[s] for s in OPEN_STATUSES)
    counts["all"] = sum(counts[s] for s in INQUIRY_STATUSES)
    today = branch_today()
    tasks = inquiries.tasks_by_inquiry(i.id for i in found)
    next_task = {
        inquiry_id: next((t for t in rows if t.done_at is None), None)
        for inquiry_id, rows in tasks.items()
    }
    return render_template(
        "reception/inquiry_list.html",
        tab=tab,
        tabs=TABS,
        counts=counts,
        found=found,
        next_task=next_task,
        due=inquiries.due_tasks(today),
        today=today,
        sources=INQUIRY_SOURCES,
        statuses=INQUIRY_STATUSES,
        badges=STATUS_BADGES,
    )


# --- taking an inquiry ---------------------------------------------------------------------


def _form_page(values, *, error: ServiceError | None = None, status: int = 200):
    return render_template(
        "reception/inquiry_form.html",
        values=values,
        sources=INQUIRY_SOURCES,
        staff=_active_staff(),
        error=error.message if error else None,
        field=error.field if error else None,
        today=branch_today(),
    ), status


@bp.route("/inquiries/new", methods=["GET", "POST"])
@requires(PERMISSION)
def inquiry_new():
    if request.method == "GET":
        return _form_page(MultiDict(request.args))
    try:
        wanted = parse_form(shapes.InquiryIn)
        inquiry = inquiries.record_inquiry(
            current_actor(), wanted.details(), follow_up_on=wanted.follow_up_on
        )
    except ServiceError as exc:
        return _form_page(request.form, error=exc, status=exc.status)
    flash(f"Inquiry from {inquiry.name} saved.", "success")
    return redirect(url_for("reception.inquiry_detail", inquiry_id=inquiry.id))


# --- one inquiry ---------------------------------------------------------------------------


def convert_defaults(inquiry: Inquiry) -> MultiDict:
    """The registration fields, filled from what the caller told us, so the desk only adds."""
    first, _, last = inquiry.name.partition(" ")
    source = INQUIRY_SOURCES.get(inquiry.source, inquiry.source)
    return MultiDict(
        {
            "first_name": first,
            "last_name": last,
            "phone": inquiry.phone,
            "referral_source": f"{source}: {inquiry.source_note}"
            if inquiry.source_note
            else source,
            "date": branch_today().isoformat(),
        }
    )


def _detail_page(
    inquiry: Inquiry,
    *,
    convert_values: MultiDict | None = None,
    error: ServiceError | None = None,
    error_form: str = "",
    clashes=(),
    needs_override: bool = False,
    duplicates=(),
    status: int = 200,
):
    today = branch_today()
    assigned = Staff.get_or_none(Staff.id == inquiry.assigned_to) if inquiry.assigned_to else None
    return render_template(
        "reception/inquiry_detail.html",
        inquiry=inquiry,
        assigned=assigned,
        tasks=inquiries.tasks_by_inquiry([inquiry.id]).get(inquiry.id, []),
        next_statuses=[
            s
            for s in ("contacted", "booked", "new", "lost")
            if s in inquiries.TRANSITIONS[inquiry.status]
        ],
        buttons=STATUS_BUTTONS,
        sources=INQUIRY_SOURCES,
        statuses=INQUIRY_STATUSES,
        badges=STATUS_BADGES,
        values=convert_values if convert_values is not None else convert_defaults(inquiry),
        sexes=SEXES,
        practitioners=schedule_setup.active_practitioners(),
        types=_types(),
        error=error.message if error else None,
        field=error.field if error else None,
        error_form=error_form,
        clashes=clashes,
        needs_override=needs_override,
        duplicates=duplicates,
        today=today,
    ), status


@bp.get("/inquiries/<inquiry_id>")
@requires(PERMISSION)
def inquiry_detail(inquiry_id: str):
    return _detail_page(inquiries.get_inquiry(inquiry_id))


@bp.post("/inquiries/<inquiry_id>/status")
@requires(PERMISSION)
def inquiry_status(inquiry_id: str):
    inquiry = inquiries.get_inquiry(inquiry_id)
    try:
        wanted = parse_form(shapes.InquiryStatusIn)
        inquiries.set_status(current_actor(), inquiry, wanted.status, wanted.lost_reason)
    except ServiceError as exc:
        return _detail_page(inquiry, error=exc, error_form="status", status=exc.status)
    flash(f"{inquiry.name}: {INQUIRY_STATUSES[inquiry.status]}.", "success")
    return redirect(url_for("reception.inquiry_detail", inquiry_id=inquiry.id))


@bp.post("/inquiries/<inquiry_id>/tasks")
@requires(PERMISSION)
def inquiry_task_add(inquiry_id: str):
    inquiry = inquiries.get_inquiry(inquiry_id)
    try:
        wanted = parse_form(shapes.TaskIn)
        inquiries.add_task(current_actor(), inquiry, wanted.title, wanted.due_on)
    except ServiceError as exc:
        return _detail_page(inquiry, error=exc, error_form="task", status=exc.status)
    flash("Follow-up added.", "success")
    return redirect(url_for("reception.inquiry_detail", inquiry_id=inquiry.id) + "#tasks")


@bp.post("/inquiries/<inquiry_id>/tasks/<task_id>/done")
@requires(PERMISSION)
def inquiry_task_done(inquiry_id: str, task_id: str):
    inquiry = inquiries.get_inquiry(inquiry_id)
    try:
        inquiries.complete_task(current_actor(), inquiries.get_task(inquiry, task_id))
    except ServiceError as exc:
        return _detail_page(inquiry, error=exc, error_form="task", status=exc.status)
    flash("Follow-up done.", "success")
    if request.form.get("back") == "list":
        return redirect(url_for("reception.inquiry_list"))
    return redirect(url_for("reception.inquiry_detail", inquiry_id=inquiry.id) + "#tasks")


@bp.post("/inquiries/<inquiry_id>/convert")
@requires(PERMISSION)
def inquiry_convert(inquiry_id: str):
    inquiry = inquiries.get_inquiry(inquiry_id)
    form = request.form
    existing = form.get("existing_patient_id") or None
    # The route's permission lets a person work leads; registering and booking are still
    # what their own permissions say (a custom role may hold only the first).
    if existing is None and not can("reception.patients.write"):
        raise Forbidden("Registering patients needs the permission to register patients.")
    if form.get("book") == "yes" and not can("reception.appointments.write"):
        raise Forbidden("Booking the first appointment needs the permission to book.")
    try:
        wanted = parse_form(shapes.ConvertIn)
        details = wanted.patient.details() if wanted.patient is not None else None
        if details is not None and not wanted.allow_duplicate:
            matches = patients.duplicates_of(details)
            if matches:
                return _detail_page(inquiry, convert_values=form, duplicates=matches, status=409)
        result = inquiries.convert(
            current_actor(),
            inquiry,
            details,
            wanted.appointment.slot() if wanted.appointment is not None else None,
            branch_timezone(),
            override_reason=wanted.override_reason,
            existing_patient_id=wanted.existing_patient_id,
        )
    except ClashRefused as refused:
        return _detail_page(
            inquiry,
            convert_values=form,
            error=refused,
            error_form="convert",
            clashes=refused.clashes,
            needs_override=refused.needs_override,
            status=409,
        )
    except ServiceError as exc:
        return _detail_page(
            inquiry, convert_values=form, error=exc, error_form="convert", status=exc.status
        )
    message = f"Converted: {result.patient.full_name} is {result.patient.mrn}"
    if result.appointment is not None:
        start = result.appointment.start_at.astimezone(ZoneInfo(branch_timezone()))
        message += f", first appointment {start:%a %d %b %H:%M}"
    flash(message + ".", "success")
    return redirect(url_for("reception.patient_detail", patient_id=result.patient.id))
