"""The inquiries slice of ``/api/v1``: leads, their follow-ups and conversion to a patient.

Its own ``Api`` (tag "Inquiries") so the lead pipeline can ship without touching the rest of
the front-desk API; the shapes live here for the same reason.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from physioez.core.kernel.bounds import (
    BlankIsNone,
    BookingStart,
    FollowUpDay,
    Inbound,
)
from physioez.core.kernel.errors import Forbidden
from physioez.core.web.access import can, current_actor
from physioez.core.web.api import Api, ErrorOut
from physioez.core.web.branch import branch_timezone
from physioez.reception.api import schemas
from physioez.reception.api.appointments import clash_refusal
from physioez.reception.api.patients import duplicate_conflict
from physioez.reception.models import Inquiry, InquiryTask
from physioez.reception.services import inquiries
from physioez.reception.services.slots import ClashRefused, Slot

api = Api("reception_inquiries", tag="Inquiries")

PERMISSION = "reception.inquiries.manage"

Source = Literal["walk_in", "phone", "website", "referral", "campaign"]
Status = Literal["new", "contacted", "booked", "converted", "lost"]


# --- shapes --------------------------------------------------------------------------------


class InquiryIn(Inbound):
    name: str = Field(min_length=1, max_length=120)
    phone: str = Field(min_length=1, max_length=40)
    source: Source
    source_note: str = Field("", max_length=200, description="Which campaign, or who referred")
    complaint: str = Field("", max_length=1000)
    preferred_times: str = Field("", max_length=200, description="Free text, e.g. 'weekday eves'")
    assigned_to: Annotated[str | None, BlankIsNone] = Field(
        None, max_length=64, description="Staff id to follow up"
    )
    follow_up_on: Annotated[FollowUpDay | None, BlankIsNone] = Field(
        None, description="Adds a 'Call back' task due that day"
    )

    def details(self) -> inquiries.InquiryDetails:
        return inquiries.InquiryDetails(**self.model_dump(exclude={"follow_up_on"}))


class TaskIn(Inbound):
    title: str = Field(min_length=1, max_length=200)
    due_on: FollowUpDay = Field(description="Branch-local day")


class TaskOut(BaseModel):
    id: str
    inquiry_id: str
    title: str
    due_on: date
    done_at: datetime | None
    done_by: str | None

    @classmethod
    def of(cls, task: InquiryTask) -> TaskOut:
        return cls(
            id=task.id,
            inquiry_id=task.inquiry_id,
            title=task.title,
            due_on=task.due_on,
            done_at=task.done_at,
            done_by=task.done_by,
        )


class InquiryOut(BaseModel):
    id: str
    name: str
    phone: str
    source: str
    source_note: str
    complaint: str
    preferred_times: str
    status: str
    lost_reason: str
    patient_id: str | None
    first_appointment_id: str | None
    converted_at: datetime | None
    assigned_to: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    tasks: list[TaskOut]

    @classmethod
    def of(cls, inquiry: Inquiry, tasks: list[InquiryTask] | None = None) -> InquiryOut:
        if tasks is None:
            tasks = inquiries.tasks_by_inquiry([inquiry.id]).get(inquiry.id, [])
        return cls(
            id=inquiry.id,
            name=inquiry.name,
            phone=inquiry.phone,
            source=inquiry.source,
            source_note=inquiry.source_note,
            complaint=inquiry.complaint,
            preferred_times=inquiry.preferred_times,
            status=inquiry.status,
            lost_reason=inquiry.lost_reason,
            patient_id=inquiry.patient_id,
            first_appointment_id=inquiry.first_appointment_id,
            converted_at=inquiry.converted_at,
            assigned_to=inquiry.assigned_to,
            created_at=inquiry.created_at,
            updated_at=inquiry.updated_at,
            version=inquiry.version,
            tasks=[TaskOut.of(t) for t in tasks],
        )


class InquiryList(BaseModel):
    inquiries: list[InquiryOut]


class InquiryQuery(Inbound):
    status: Status | Literal["open"] | None = Field(
        None, description="One stage, or 'open' (new, contacted, booked); all when left out"
    )
    limit: int = Field(200, ge=1, le=500)


class InquiryStatusIn(Inbound):
    status: Status
    lost_reason: str = Field("", max_length=500, description="Required when the status is lost")


class FirstAppointmentIn(schemas.AtLocalTime):
    practitioner_id: str = Field(min_length=1, max_length=64)
    type_id: str = Field(min_length=1, max_length=64)
    start: BookingStart = Field(description="ISO 8601 with an offset, on a 5-minute mark")
    notes: str = Field("", max_length=1000)

    def slot(self) -> Slot:
        return Slot(
            patient_id="",  # the converted patient's; filled in by the service
            practitioner_id=self.practitioner_id,
            type_id=self.type_id,
            start=self.start,
            notes=self.notes,
        )


class ConvertIn(Inbound):
    patient: schemas.PatientIn | None = Field(None, description="Register this new patient")
    existing_patient_id: str | None = Field(
        None, max_length=64, description="Or link a patient already registered"
    )
    appointment: FirstAppointmentIn | None = Field(None, description="Book the first session")
    override_reason: str = Field("", max_length=500, description="Needed to book through warnings")
    allow_duplicate: bool = Field(
        False, description="Register even though the duplicate check found possible matches"
    )

    @model_validator(mode="after")
    def one_patient(self) -> ConvertIn:
        if (self.patient is None) == (self.existing_patient_id is None):
            raise ValueError("Send either patient or existing_patient_id.")
        return self

    # The page's form is flat: the patient's fields, a "book" tick and the first session's.
    NESTED: ClassVar[dict[str, type[Inbound]]] = {
        "patient": schemas.PatientIn,
        "appointment": FirstAppointmentIn,
    }
    form_fields: ClassVar[dict[str, str]] = {"allow_duplicate": "confirm_new"}

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        existing = (form.get("existing_patient_id") or "").strip() or None
        values: dict = {
            "existing_patient_id": existing,
            "override_reason": form.get("override_reason", ""),
            "allow_duplicate": form.get("confirm_new") == "1",
        }
        if existing is None:
            values["patient"] = schemas.PatientIn.form_values(form, bounds)
        if form.get("book") == "yes":
            values["appointment"] = FirstAppointmentIn.form_values(form, bounds)
        return values

    @classmethod
    def form_field(cls, loc: tuple[int | str, ...], values: Any) -> str:
        nested = cls.NESTED.get(str(loc[0]))
        if nested is not None and len(loc) > 1:
            return nested.form_field(loc[1:], values.get(str(loc[0])) if values else None)
        return super().form_field(loc, values)


class ConversionOut(BaseModel):
    inquiry: InquiryOut
    patient: schemas.PatientOut
    appointment: schemas.AppointmentOut | None


# --- routes --------------------------------------------------------------------------------


@api.route(
    "/inquiries",
    "GET",
    permission=PERMISSION,
    summary="Inquiries, newest first, optionally at one stage",
    query=InquiryQuery,
    response=InquiryList,
)
def list_inquiries(query: InquiryQuery):
    found = inquiries.list_inquiries(query.status, limit=query.limit)
    tasks = inquiries.tasks_by_inquiry(i.id for i in found)
    return InquiryList(inquiries=[InquiryOut.of(i, tasks.get(i.id, [])) for i in found])


@api.route(
    "/inquiries",
    "POST",
    permission=PERMISSION,
    summary="Take an inquiry (a lead)",
    body=InquiryIn,
    response=InquiryOut,
    status=201,
)
def create_inquiry(body: InquiryIn):
    inquiry = inquiries.record_inquiry(
        current_actor(), body.details(), follow_up_on=body.follow_up_on
    )
    return InquiryOut.of(inquiry)


@api.route(
    "/inquiries/<inquiry_id>",
    "GET",
    permission=PERMISSION,
    summary="One inquiry with its follow-up tasks",
    response=InquiryOut,
)
def get_inquiry(inquiry_id: str):
    return InquiryOut.of(inquiries.get_inquiry(inquiry_id))


@api.route(
    "/inquiries/<inquiry_id>/status",
    "PUT",
    permission=PERMISSION,
    summary="Move along the pipeline (lost needs lost_reason; convert with /convert)",
    body=InquiryStatusIn,
    response=InquiryOut,
    errors=(409,),
)
def set_inquiry_status(inquiry_id: str, body: InquiryStatusIn):
    inquiry = inquiries.set_status(
        current_actor(), inquiries.get_inquiry(inquiry_id), body.status, body.lost_reason
    )
    return InquiryOut.of(inquiry)


@api.route(
    "/inquiries/<inquiry_id>/tasks",
    "POST",
    permission=PERMISSION,
    summary="Add a follow-up task",
    body=TaskIn,
    response=TaskOut,
    status=201,
    errors=(409,),
)
def add_inquiry_task(inquiry_id: str, body: TaskIn):
    task = inquiries.add_task(
        current_actor(), inquiries.get_inquiry(inquiry_id), body.title, body.due_on
    )
    return TaskOut.of(task)


@api.route(
    "/inquiries/<inquiry_id>/tasks/<task_id>/done",
    "POST",
    permission=PERMISSION,
    summary="Mark a follow-up task done",
    response=TaskOut,
    errors=(409,),
)
def complete_inquiry_task(inquiry_id: str, task_id: str):
    task = inquiries.get_task(inquiries.get_inquiry(inquiry_id), task_id)
    return TaskOut.of(inquiries.complete_task(current_actor(), task))


@api.route(
    "/inquiries/<inquiry_id>/convert",
    "POST",
    permission=PERMISSION,
    summary="Register (or link) the patient and book the first appointment, all or nothing "
    "(409 with the clashes, or with duplicate matches)",
    body=ConvertIn,
    response=ConversionOut,
    errors={409: (ErrorOut, schemas.ClashRefusedOut, schemas.DuplicateRefusedOut)},
)
def convert_inquiry(inquiry_id: str, body: ConvertIn):
    inquiry = inquiries.get_inquiry(inquiry_id)
    # Working leads is this route's permission; registering and booking stay with their own.
    if body.patient is not None and not can("reception.patients.write"):
        raise Forbidden("Registering patients needs the permission to register patients.")
    if body.appointment is not None and not can("reception.appointments.write"):
        raise Forbidden("Booking the first appointment needs the permission to book.")
    details = body.patient.details() if body.patient is not None else None
    if details is not None and not body.allow_duplicate:
        conflict = duplicate_conflict(
            details,
            "Send existing_patient_id to link them, or allow_duplicate: true to register anyway.",
        )
        if conflict is not None:
            return conflict
    try:
        result = inquiries.convert(
            current_actor(),
            inquiry,
            details,
            body.appointment.slot() if body.appointment is not None else None,
            branch_timezone(),
            override_reason=body.override_reason,
            existing_patient_id=body.existing_patient_id,
        )
    except ClashRefused as refused:
        return clash_refusal(refused)
    return ConversionOut(
        inquiry=InquiryOut.of(result.inquiry),
        patient=schemas.PatientOut.of(result.patient),
        appointment=(schemas.AppointmentOut.of(result.appointment) if result.appointment else None),
    )
