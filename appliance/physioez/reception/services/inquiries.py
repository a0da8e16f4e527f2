"""Inquiries (leads): capture, follow-up tasks, the pipeline, and conversion to a patient.

A lead is cheap to take (name, phone, how they found us) because the desk takes it while the
phone rings; everything a patient record needs is asked only at conversion. Conversion
registers the patient and books the first appointment in one write transaction, so a clash
leaves no half-converted lead and no orphan patient behind, and the inquiry keeps the links
that conversion reports are built from.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from peewee import fn

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.events import bus
from physioez.core.kernel.models import Staff, utcnow
from physioez.core.kernel.node import current_node
from physioez.reception.events import InquiryChanged
from physioez.reception.models import (
    INQUIRY_SOURCES,
    INQUIRY_STATUSES,
    OPEN_STATUSES,
    Appointment,
    AppointmentType,
    Inquiry,
    InquiryTask,
    Patient,
    Practitioner,
)
from physioez.reception.services import appointments, patients, slots
from physioez.reception.services.patients import PatientDetails

__all__ = [
    "INQUIRY_SOURCES",
    "INQUIRY_STATUSES",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "Conversion",
    "InquiryChanged",
    "InquiryDetails",
    "add_task",
    "complete_task",
    "convert",
    "due_tasks",
    "get_inquiry",
    "get_task",
    "list_inquiries",
    "record_inquiry",
    "set_status",
    "status_counts",
    "tasks_by_inquiry",
]


# Which status a person may move an inquiry to. Converting is its own step (:func:`convert`),
# because it has to register the patient; reopening a lost lead starts it again as new.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"contacted", "lost"}),
    "contacted": frozenset({"booked", "lost"}),
    "booked": frozenset({"converted", "lost"}),
    "converted": frozenset(),
    "lost": frozenset({"new"}),
}


# --- input ---------------------------------------------------------------------------------


@dataclass
class InquiryDetails:
    """What the quick inquiry form and the API collect; validated by :func:`clean`."""

    name: str
    phone: str
    source: str
    source_note: str = ""
    complaint: str = ""
    preferred_times: str = ""
    assigned_to: str | None = None


def clean(details: InquiryDetails) -> dict[str, Any]:
    """Validate and normalise into inquiry columns, naming the field at fault."""
    name = " ".join(details.name.split())
    if not name:
        raise InvalidInput("Enter the caller's name.", field="name")
    if len(name) > 120:
        raise InvalidInput("Keep the name under 120 characters.", field="name")
    phone = details.phone.strip()
    key = patients.phone_key(phone)
    if len(key) < 7:
        raise InvalidInput("Enter a phone number with at least 7 digits.", field="phone")
    if len(phone) > 40:
        raise InvalidInput("Keep the phone number under 40 characters.", field="phone")
    if details.source not in INQUIRY_SOURCES:
        raise InvalidInput(
            "Choose how they found us: walk-in, phone, website, referral or campaign.",
            field="source",
        )
    limits = (("source_note", 200), ("complaint", 1000), ("preferred_times", 200))
    texts = {}
    for field_name, limit in limits:
        text = getattr(details, field_name).strip()
        if len(text) > limit:
            raise InvalidInput(f"Keep this under {limit} characters.", field=field_name)
        texts[field_name] = text
    assigned = (details.assigned_to or "").strip() or None
    if assigned is not None:
        staff = Staff.get_or_none(Staff.id == assigned)
        if staff is None or not staff.is_active:
            raise InvalidInput(
                "Choose an active staff member to follow this up.", field="assigned_to"
            )
    return {
        "name": name,
        "phone": phone,
        "phone_key": key,
        "source": details.source,
        "assigned_to": assigned,
        **texts,
    }


# --- reading -------------------------------------------------------------------------------


def get_inquiry(inquiry_id: str) -> Inquiry:
    found = Inquiry.get_or_none(Inquiry.id == inquiry_id)
    if found is None or found.deleted_at is not None:
        raise NotFound("No such inquiry.")
    return found


def list_inquiries(status: str | None = None, limit: int = 200) -> list[Inquiry]:
    """Newest first. ``status``: one status, ``"open"`` (still being worked) or None (all)."""
    query = Inquiry.live().order_by(Inquiry.created_at.desc(), Inquiry.id.desc()).limit(limit)
    if status == "open":
        query = query.where(Inquiry.status.in_(OPEN_STATUSES))
    elif status is not None:
        if status not in INQUIRY_STATUSES:
            raise InvalidInput("Unknown inquiry status.", field="status")
        query = query.where(Inquiry.status == status)
    return list(query)


def status_counts() -> dict[str, int]:
    """How many inquiries are at each stage (every status present, zero if none)."""
    counts = dict.fromkeys(INQUIRY_STATUSES, 0)
    rows = (
        Inquiry.live()
        .select(Inquiry.status, fn.COUNT(Inquiry.id))
        .group_by(Inquiry.status)
        .tuples()
    )
    for status, count in rows:
        counts[status] = count
    return counts


def tasks_by_inquiry(inquiry_ids: Iterable[str]) -> dict[str, list[InquiryTask]]:
    """Tasks of many inquiries in one query (open ones first, soonest due first)."""
    ids = list(inquiry_ids)
    grouped: dict[str, list[InquiryTask]] = defaultdict(list)
    if not ids:
        return grouped
    rows = (
        InquiryTask.live()
        .where(InquiryTask.inquiry.in_(ids))
        .order_by(InquiryTask.done_at.is_null(False), InquiryTask.due_on, InquiryTask.id)
    )
    for task in rows:
        grouped[task.inquiry_id].append(task)
    return grouped


def due_tasks(today: date, limit: int = 100) -> list[InquiryTask]:
    """Open follow-ups due today or earlier, on inquiries still being worked: the call list."""
    return list(
        InquiryTask.live()
        .select(InquiryTask, Inquiry)
        .join(Inquiry, on=(InquiryTask.inquiry == Inquiry.id))
        .where(
            InquiryTask.done_at.is_null(),
            InquiryTask.due_on <= today,
            Inquiry.deleted_at.is_null(),
            Inquiry.status.in_(OPEN_STATUSES),
        )
        .order_by(InquiryTask.due_on, InquiryTask.created_at)
        .limit(limit)
    )


def get_task(inquiry: Inquiry, task_id: str) -> InquiryTask:
    task = InquiryTask.get_or_none(
        (InquiryTask.id == task_id) & (InquiryTask.inquiry == inquiry.id)
    )
    if task is None or task.deleted_at is not None:
        raise NotFound("No such task on this inquiry.")
    return task


# --- writing -------------------------------------------------------------------------------


def _publish(inquiry: Inquiry) -> None:
    bus.publish(
        InquiryChanged(
            branch=current_node().branch_id,
            payload={"inquiry_id": inquiry.id, "status": inquiry.status},
        )
    )


def _fresh(inquiry: Inquiry) -> Inquiry:
    """The row as committed now: another desk may have moved it since the page was drawn."""
    return get_inquiry(inquiry.id)


FIRST_FOLLOW_UP = "Call back"


def record_inquiry(
    actor: Actor, details: InquiryDetails, follow_up_on: date | None = None
) -> Inquiry:
    """Take a lead; ``follow_up_on`` adds the first call-back in the same transaction, so the
    desk never saves a lead that nobody is due to call."""
    columns = clean(details)
    with write_transaction():
        inquiry = records.create(
            Inquiry, actor, status="new", status_changed_at=utcnow(), **columns
        )
        if follow_up_on is not None:
            records.create(
                InquiryTask, actor, inquiry=inquiry.id, title=FIRST_FOLLOW_UP, due_on=follow_up_on
            )
        _publish(inquiry)
    return inquiry


def _status_word(status: str) -> str:
    return INQUIRY_STATUSES.get(status, status).lower()


def set_status(actor: Actor, inquiry: Inquiry, status: str, lost_reason: str = "") -> Inquiry:
    """Move along the pipeline; losing needs a reason, converting goes through :func:`convert`."""
    if status not in INQUIRY_STATUSES:
        raise InvalidInput("Unknown inquiry status.", field="status")
    if status == "converted":
        raise InvalidInput(
            "Convert the inquiry instead: that registers the patient.", field="status"
        )
    reason = " ".join(lost_reason.split())
    if status == "lost" and not reason:
        raise InvalidInput("Say why the inquiry was lost.", field="lost_reason")
    if len(reason) > 500:
        raise InvalidInput("Keep the reason under 500 characters.", field="lost_reason")
    with write_transaction():
        current = _fresh(inquiry)
        if status not in TRANSITIONS[current.status]:
            if current.status == status:
                raise Conflict(f"This inquiry is already {_status_word(status)}.")
            raise Conflict(
                f"A {_status_word(current.status)} inquiry cannot become {_status_word(status)}."
            )
        records.update(
            current,
            actor,
            action="inquiry.reopened" if current.status == "lost" else f"inquiry.{status}",
            status=status,
            lost_reason=reason if status == "lost" else "",
            status_changed_at=utcnow(),
        )
        _publish(current)
    _copy_into(inquiry, current)
    return inquiry


def _copy_into(target: Inquiry, source: Inquiry) -> None:
    """Keep the caller's object in step with what was written."""
    target.__data__.update(source.__data__)


def add_task(actor: Actor, inquiry: Inquiry, title: str, due_on: date | None) -> InquiryTask:
    text = " ".join(title.split())
    if not text:
        raise InvalidInput("Say what needs doing, e.g. 'Call back after 5 pm'.", field="title")
    if len(text) > 200:
        raise InvalidInput("Keep the task under 200 characters.", field="title")
    if due_on is None:
        raise InvalidInput("Choose the day it is due.", field="due_on")
    with write_transaction():
        current = _fresh(inquiry)
        if not current.is_open:
            raise Conflict(
                f"This inquiry is {_status_word(current.status)}; reopen it to plan follow-ups."
                if current.status == "lost"
                else "This inquiry is converted; follow up from the patient's record."
            )
        return records.create(InquiryTask, actor, inquiry=current.id, title=text, due_on=due_on)


def complete_task(actor: Actor, task: InquiryTask) -> InquiryTask:
    with write_transaction():
        current = InquiryTask.get_by_id(task.id)
        if current.done_at is not None:
            raise Conflict("This task is already done.")
        records.update(
            current, actor, action="inquiry_task.done", done_at=utcnow(), done_by=actor.staff_id
        )
    _copy_into(task, current)
    return task


# --- conversion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    inquiry: Inquiry
    patient: Patient
    appointment: Appointment | None


def _check_slot_choices(slot: slots.Slot) -> None:
    """Name the wrong field before anything is written (the book itself would say 404)."""
    practitioner = Practitioner.get_or_none(Practitioner.id == slot.practitioner_id)
    if practitioner is None or practitioner.deleted_at is not None:
        raise InvalidInput("Choose who the first appointment is with.", field="practitioner_id")
    appointment_type = AppointmentType.get_or_none(AppointmentType.id == slot.type_id)
    if (
        appointment_type is None
        or appointment_type.deleted_at is not None
        or not appointment_type.active
    ):
        raise InvalidInput("Choose the appointment type.", field="type_id")


def convert(
    actor: Actor,
    inquiry: Inquiry,
    details: PatientDetails | None,
    slot: slots.Slot | None,
    timezone: str,
    override_reason: str = "",
    existing_patient_id: str | None = None,
) -> Conversion:
    """Register the patient (or link an existing one) and book the first appointment.

    All in one write transaction: when the slot clashes, :class:`ClashRefused` propagates and
    nothing is written, not even the patient, so the desk can pick another time and try
    again. ``slot.patient_id`` is ignored: the appointment is for the converted patient.
    Any open inquiry can be converted, so a walk-in becomes a patient in one step.
    """
    if existing_patient_id is None and details is None:
        raise InvalidInput("Enter the patient's details or choose an existing patient.")
    if slot is not None:
        _check_slot_choices(slot)
    today = datetime.now(ZoneInfo(timezone)).date()
    with write_transaction():
        current = _fresh(inquiry)
        if current.status == "converted":
            raise Conflict("This inquiry is already converted.")
        if current.status == "lost":
            raise Conflict("This inquiry is lost; reopen it before converting.")
        if existing_patient_id is not None:
            patient = Patient.get_or_none(Patient.id == existing_patient_id)
            if patient is None or patient.deleted_at is not None:
                raise InvalidInput("Choose an existing patient.", field="existing_patient_id")
            if patient.merged_into_id:
                raise InvalidInput(
                    "That record was merged into another; choose the one it was merged into.",
                    field="existing_patient_id",
                )
        else:
            assert details is not None  # checked above; for the type checker
            patient = patients.register(actor, details, today)
        appointment = None
        if slot is not None:
            appointment = appointments.book(
                actor,
                dataclasses.replace(slot, patient_id=patient.id),
                timezone,
                override_reason=override_reason,
            )
        records.update(
            current,
            actor,
            action="inquiry.converted",
            status="converted",
            lost_reason="",
            status_changed_at=utcnow(),
            patient=patient.id,
            first_appointment=appointment.id if appointment else None,
            converted_at=utcnow(),
        )
        _publish(current)
    _copy_into(inquiry, current)
    return Conversion(inquiry, patient, appointment)
