"""Request and response shapes of the front-desk API (they also generate its OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from physioez.core.kernel.bounds import (
    BirthDate,
    BlankIsNone,
    BookingStart,
    Checkbox,
    Day,
    Inbound,
    LeaveDay,
    local_moment,
)
from physioez.core.kernel.errors import InvalidInput
from physioez.reception.models import Patient
from physioez.reception.services import schedule_setup
from physioez.reception.services.patients import DuplicateMatch, PatientDetails
from physioez.reception.services.recurrence import SeriesRule
from physioez.reception.services.slots import Slot

ConsentKind = Literal[
    "treatment", "reminders_sms", "reminders_whatsapp", "reminders_email", "data_sharing"
]


class PatientIn(Inbound):
    first_name: str = Field(min_length=1, max_length=80)
    last_name: str = Field("", max_length=80)
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    date_of_birth: Annotated[BirthDate | None, BlankIsNone] = None
    age_years: Annotated[int | None, BlankIsNone] = Field(
        None, ge=0, le=120, description="When the birth date is unknown"
    )
    phone: str = Field(min_length=1, max_length=40)
    phone_alt: str = Field("", max_length=40)
    email: str = Field("", max_length=200)
    address: str = Field("", max_length=500)
    emergency_name: str = Field("", max_length=120)
    emergency_phone: str = Field("", max_length=40)
    emergency_relation: str = Field("", max_length=60)
    referral_source: str = Field("", max_length=120)
    referring_doctor: str = Field("", max_length=120)
    alerts: list[str] = Field(default_factory=list, max_length=20)
    consents: dict[ConsentKind, bool] = Field(default_factory=dict)

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        # The form has a text box of alerts, one a line, and a yes/no pair per consent.
        values = super().form_values(form, bounds)
        if "alerts" in form:
            values["alerts"] = [
                line for line in form.get("alerts", "").splitlines() if line.strip()
            ]
        values["consents"] = {
            kind: form.get(f"consent_{kind}") == "yes"
            for kind in get_args(ConsentKind)
            if form.get(f"consent_{kind}") in ("yes", "no")
        }
        return values

    def details(self) -> PatientDetails:
        return PatientDetails(**self.model_dump())


class PatientCreateIn(PatientIn):
    allow_duplicate: Checkbox = Field(
        False, description="Register even though the duplicate check found possible matches"
    )

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        values = super().form_values(form, bounds)
        values["allow_duplicate"] = form.get("confirm_new") == "1"
        return values

    def details(self) -> PatientDetails:
        return PatientDetails(**self.model_dump(exclude={"allow_duplicate"}))


class PatientOut(BaseModel):
    id: str
    mrn: str
    first_name: str
    last_name: str
    sex: str
    date_of_birth: date | None
    dob_estimated: bool
    phone: str
    phone_alt: str
    email: str
    address: str
    emergency_name: str
    emergency_phone: str
    emergency_relation: str
    referral_source: str
    referring_doctor: str
    alerts: list[str]
    merged_into: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, patient: Patient) -> PatientOut:
        return cls(
            **{
                name: getattr(patient, name)
                for name in cls.model_fields
                if name not in ("merged_into",)
            },
            merged_into=patient.merged_into_id,
        )


class PatientList(BaseModel):
    patients: list[PatientOut]


class PatientSearchQuery(Inbound):
    q: str = Field(min_length=1, max_length=100, description="Name, phone digits or MRN")
    limit: int = Field(20, ge=1, le=100)


class DuplicateQuery(Inbound):
    phone: str = Field("", max_length=40)
    first_name: str = Field("", max_length=80)
    last_name: str = Field("", max_length=80)
    date_of_birth: Annotated[BirthDate | None, BlankIsNone] = None


class DuplicateOut(BaseModel):
    patient: PatientOut
    reasons: list[str]

    @classmethod
    def of(cls, match: DuplicateMatch) -> DuplicateOut:
        return cls(patient=PatientOut.of(match.patient), reasons=list(match.reasons))


class DuplicateList(BaseModel):
    matches: list[DuplicateOut]


class ConsentIn(Inbound):
    kind: ConsentKind
    given: bool
    note: str = Field("", max_length=500)


class ConsentOut(BaseModel):
    kind: str
    given: bool | None
    captured_by: str | None
    captured_at: datetime | None


class ConsentList(BaseModel):
    consents: list[ConsentOut]


class MergeIn(Inbound):
    duplicate_id: str = Field(
        min_length=1, max_length=64, description="The record folded into this one"
    )


# --- the appointment book --------------------------------------------------------------------


class ClashOut(BaseModel):
    rule: str
    severity: Literal["block", "warn"]
    message: str
    conflicting_id: str | None
    resource_id: str | None


class ClashRefusedOut(BaseModel):
    """A 409 for a slot that clashes: what it clashes with, and whether a reason overrides it."""

    error: str
    fields: dict[str, str]
    needs_override: bool
    clashes: list[ClashOut]


class DuplicateRefusedOut(BaseModel):
    """A 409 for a registration that looks like a patient already on file."""

    error: str
    fields: dict[str, str]
    matches: list[DuplicateOut]


class AtLocalTime(Inbound):
    """A model with a ``start`` that its page asks for as a branch-local date and time; a
    problem with either is shown at the date."""

    form_fields: ClassVar[dict[str, str]] = {"start": "date"}

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        values = super().form_values(form, bounds)
        values["start"] = local_moment(form.get("date", ""), form.get("time", ""), bounds)
        return values


class SlotIn(AtLocalTime):
    patient_id: str = Field(min_length=1, max_length=64)
    practitioner_id: str = Field(min_length=1, max_length=64)
    type_id: str = Field(min_length=1, max_length=64)
    start: BookingStart = Field(description="ISO 8601 with an offset, on a 5-minute mark")
    resource_ids: list[str] | None = Field(
        None, max_length=20, description="Default: the type's rooms"
    )
    notes: str = Field("", max_length=1000)

    def slot(self) -> Slot:
        return Slot(
            patient_id=self.patient_id,
            practitioner_id=self.practitioner_id,
            type_id=self.type_id,
            start=self.start,
            resource_ids=tuple(self.resource_ids) if self.resource_ids is not None else None,
            notes=self.notes,
        )


class BookingIn(SlotIn):
    override_reason: str = Field("", max_length=500, description="Needed to book through warnings")


class SeriesIn(SlotIn):
    weekdays: list[Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]] = Field(min_length=1)
    count: int = Field(ge=1, le=104)
    skip: list[int] = Field(
        default_factory=list, max_length=104, description="Occurrence indexes not to book"
    )
    override_reason: str = Field("", max_length=500)

    def rule(self, timezone: str) -> SeriesRule:
        appointment_type = schedule_setup.get_type(self.type_id)
        try:
            return SeriesRule(
                freq="WEEKLY",
                weekdays=tuple(self.weekdays),
                count=self.count,
                local_start=self.start.astimezone(ZoneInfo(timezone)).replace(tzinfo=None),
                duration_minutes=appointment_type.duration_minutes,
                timezone=timezone,
            )
        except ValueError as exc:
            raise InvalidInput(str(exc), field="weekdays") from None


class AppointmentOut(BaseModel):
    id: str
    patient_id: str
    practitioner_id: str
    type_id: str
    start: datetime
    end: datetime
    status: str
    resource_ids: list[str]
    class_id: str | None
    series_id: str | None
    series_index: int | None
    notes: str
    override_reason: str
    cancel_reason: str
    late_cancel: bool
    version: int

    @classmethod
    def of(cls, a) -> AppointmentOut:
        return cls(
            id=a.id,
            patient_id=a.patient_id,
            practitioner_id=a.practitioner_id,
            type_id=a.type_id,
            start=a.start_at,
            end=a.end_at,
            status=a.status,
            resource_ids=a.resource_ids,
            class_id=a.class_id,
            series_id=a.series_id,
            series_index=a.series_index,
            notes=a.notes,
            override_reason=a.override_reason,
            cancel_reason=a.cancel_reason,
            late_cancel=a.late_cancel,
            version=a.version,
        )


class AppointmentList(BaseModel):
    appointments: list[AppointmentOut]


class DayQuery(Inbound):
    day: Day = Field(description="Branch-local date")
    practitioner_id: str = Field("", max_length=64)


class CheckOut(BaseModel):
    clashes: list[ClashOut]
    bookable: bool
    needs_override: bool


class SeriesPreviewLine(BaseModel):
    index: int
    start: datetime
    clashes: list[ClashOut]


class SeriesPreviewOut(BaseModel):
    occurrences: list[SeriesPreviewLine]


class StatusIn(Inbound):
    status: Literal["booked", "confirmed", "arrived", "in_session", "completed", "no_show"]


class CancelIn(Inbound):
    reason: str = Field(min_length=1, max_length=500)
    scope: Literal["one", "following"] = "one"


class RescheduleIn(AtLocalTime):
    start: BookingStart
    practitioner_id: Annotated[str | None, BlankIsNone] = Field(None, max_length=64)
    override_reason: str = Field("", max_length=500)


class PractitionerOut(BaseModel):
    id: str
    staff_id: str
    display_name: str
    active: bool


class PractitionerList(BaseModel):
    practitioners: list[PractitionerOut]


class AvailabilityQuery(Inbound):
    practitioner_id: str = Field(min_length=1, max_length=64)
    start_day: Day
    end_day: Day


class IntervalOut(BaseModel):
    start: datetime
    end: datetime


class AvailabilityOut(BaseModel):
    practitioner_id: str
    working: list[IntervalOut]
    leave: list[IntervalOut]


class WeeklyHoursIn(Inbound):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start_time: str = Field(pattern=r"^\d\d:\d\d$")
    end_time: str = Field(pattern=r"^\d\d:\d\d$")


class ExceptionIn(Inbound):
    day: LeaveDay
    kind: Literal["leave", "extra"]
    start_time: Annotated[str | None, BlankIsNone] = Field(None, pattern=r"^\d\d:\d\d$")
    end_time: Annotated[str | None, BlankIsNone] = Field(None, pattern=r"^\d\d:\d\d$")
    reason: str = Field("", max_length=200)


class CreatedOut(BaseModel):
    id: str


class DocumentForm(Inbound):
    kind: Literal["id", "consent_form", "referral_letter", "insurance", "report", "other"]


class DocumentOut(BaseModel):
    id: str
    patient_id: str
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, d) -> DocumentOut:
        return cls(
            id=d.id,
            patient_id=d.patient_id,
            kind=d.kind,
            filename=d.filename,
            content_type=d.content_type,
            size_bytes=d.size_bytes,
            sha256=d.sha256,
            uploaded_by=d.uploaded_by,
            created_at=d.created_at,
        )


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    missing: list[str] = Field(description="Required document kinds this patient lacks")
