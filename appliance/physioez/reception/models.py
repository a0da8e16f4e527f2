"""Front-desk tables. Dates of birth are calendar dates (no time zone); times are UTC."""

from __future__ import annotations

from datetime import date

from peewee import BooleanField, ForeignKeyField, IntegerField, TextField

from physioez.core.kernel.ids import uuid7_str
from physioez.core.kernel.models import (
    BaseModel,
    IsoDateField,
    JsonField,
    ReplicatedModel,
    UtcDateTimeField,
    utcnow,
)

SEXES = ("female", "male", "other", "unknown")
CONSENT_KINDS = {
    "treatment": "Treatment",
    "reminders_sms": "SMS reminders",
    "reminders_whatsapp": "WhatsApp reminders",
    "reminders_email": "Email reminders",
    "data_sharing": "Sharing data with referrers and insurers",
}
DOCUMENT_KINDS = {
    "id": "Identity document",
    "consent_form": "Signed consent form",
    "referral_letter": "Referral letter",
    "insurance": "Insurance card",
    "report": "Report or scan",
    "other": "Other",
}


class Patient(ReplicatedModel):
    ownership = "shared"  # a patient may be seen at several branches

    audit_entity = "patient"

    mrn = TextField(unique=True)
    first_name = TextField()
    last_name = TextField(default="")
    sex = TextField()
    date_of_birth = IsoDateField(null=True)
    dob_estimated = BooleanField(default=False)
    phone = TextField()
    phone_key = TextField()
    phone_alt = TextField(default="")
    email = TextField(default="")
    address = TextField(default="")
    emergency_name = TextField(default="")
    emergency_phone = TextField(default="")
    emergency_relation = TextField(default="")
    referral_source = TextField(default="")
    referring_doctor = TextField(default="")
    alerts = JsonField(default=list)
    merged_into = ForeignKeyField(
        "self", null=True, column_name="merged_into", backref="merged_from"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def age_on(self, day: date) -> int | None:
        if self.date_of_birth is None:
            return None
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class PatientConsent(ReplicatedModel):
    """One row per change: the history of who captured which consent, and when."""

    audit_entity = "patient_consent"

    patient = ForeignKeyField(Patient, backref="consents")
    kind = TextField()
    given = BooleanField()
    captured_by = TextField(null=True)
    note = TextField(default="")


class PatientDocument(ReplicatedModel):
    audit_entity = "patient_document"

    patient = ForeignKeyField(Patient, backref="documents")
    kind = TextField()
    filename = TextField()
    content_type = TextField()
    size_bytes = IntegerField()
    sha256 = TextField()
    uploaded_by = TextField(null=True)


# --- the appointment book ------------------------------------------------------------------

APPOINTMENT_STATUSES = {
    "booked": "Booked",
    "confirmed": "Confirmed",
    "arrived": "Arrived",
    "in_session": "In session",
    "completed": "Completed",
    "no_show": "No-show",
    "cancelled": "Cancelled",
}
# Statuses that hold the slot: the clash engine sees these, not cancelled or no-show ones.
ACTIVE_STATUSES = ("booked", "confirmed", "arrived", "in_session", "completed")


class Practitioner(ReplicatedModel):
    audit_entity = "practitioner"

    staff_id = TextField(unique=True)
    display_name = TextField()
    colour = TextField(default="#0f766e")
    active = BooleanField(default=True)


class AvailabilityRule(ReplicatedModel):
    audit_entity = "availability_rule"

    practitioner = ForeignKeyField(Practitioner, backref="availability_rules")
    weekday = IntegerField()
    start_time = TextField()
    end_time = TextField()
    valid_from = IsoDateField(null=True)
    valid_until = IsoDateField(null=True)


class AvailabilityException(ReplicatedModel):
    audit_entity = "availability_exception"

    practitioner = ForeignKeyField(Practitioner, backref="availability_exceptions")
    day = IsoDateField()
    kind = TextField()
    start_time = TextField(null=True)
    end_time = TextField(null=True)
    reason = TextField(default="")


class Resource(ReplicatedModel):
    audit_entity = "resource"

    kind = TextField()
    name = TextField()
    capacity = IntegerField()
    active = BooleanField(default=True)


class AppointmentType(ReplicatedModel):
    audit_entity = "appointment_type"

    name = TextField()
    duration_minutes = IntegerField()
    service_code = TextField(default="")
    colour = TextField(default="#2563eb")
    group_capacity = IntegerField(default=1)
    resource_ids = JsonField(default=list)
    active = BooleanField(default=True)


class AppointmentSeries(ReplicatedModel):
    audit_entity = "appointment_series"

    patient = ForeignKeyField(Patient)
    practitioner = ForeignKeyField(Practitioner)
    type = ForeignKeyField(AppointmentType, column_name="type_id")
    rrule = TextField()
    local_start = TextField()
    timezone = TextField()


class Appointment(ReplicatedModel):
    audit_entity = "appointment"

    patient = ForeignKeyField(Patient, backref="appointments")
    practitioner = ForeignKeyField(Practitioner, backref="appointments")
    type = ForeignKeyField(AppointmentType, column_name="type_id")
    start_at = UtcDateTimeField()
    end_at = UtcDateTimeField()
    status = TextField(default="booked")
    resource_ids = JsonField(default=list)
    class_id = TextField(null=True)
    series = ForeignKeyField(AppointmentSeries, null=True, backref="appointments")
    series_index = IntegerField(null=True)
    notes = TextField(default="")
    override_reason = TextField(default="")
    cancel_reason = TextField(default="")
    late_cancel = BooleanField(default=False)
    status_changed_at = UtcDateTimeField(null=True)
    status_changed_by = TextField(null=True)
    arrived_at = UtcDateTimeField(null=True)
    started_at = UtcDateTimeField(null=True)
    completed_at = UtcDateTimeField(null=True)


class WaitlistEntry(ReplicatedModel):
    audit_entity = "waitlist_entry"

    patient = ForeignKeyField(Patient)
    practitioner = ForeignKeyField(Practitioner, null=True)
    type = ForeignKeyField(AppointmentType, column_name="type_id")
    priority = IntegerField(default=2)
    preferred_weekdays = JsonField(default=list)
    earliest_time = TextField(null=True)
    latest_time = TextField(null=True)
    status = TextField(default="waiting")
    offered_appointment_start = TextField(null=True)
    note = TextField(default="")


class CalendarFeed(BaseModel):
    """A revocable read-only iCalendar URL for one practitioner's diary."""

    audit_entity = "calendar_feed"
    audit_redact = frozenset({"token_hash"})

    id = TextField(primary_key=True, default=uuid7_str)
    practitioner = ForeignKeyField(Practitioner, backref="feeds")
    token_hash = TextField(unique=True)
    created_by = TextField(null=True)
    created_at = UtcDateTimeField(default=utcnow)
    revoked_at = UtcDateTimeField(null=True)


class Reminder(ReplicatedModel):
    audit_entity = "reminder"

    appointment = ForeignKeyField(Appointment, backref="reminders")
    channel = TextField()
    status = TextField()
    destination = TextField()
    send_after = UtcDateTimeField()
    attempts = IntegerField(default=0)
    last_error = TextField(default="")


# --- inquiries (leads): who asked, how they found us, where they are in the pipeline. An
# inquiry points at a patient and an appointment only once it is converted. ---------------

INQUIRY_SOURCES = {
    "walk_in": "Walk-in",
    "phone": "Phone",
    "website": "Website",
    "referral": "Referral",
    "campaign": "Campaign",
}
INQUIRY_STATUSES = {
    "new": "New",
    "contacted": "Contacted",
    "booked": "Booked",
    "converted": "Converted",
    "lost": "Lost",
}
# Still being worked on: these show on the desk's default tab and can be converted.
OPEN_STATUSES = ("new", "contacted", "booked")


class Inquiry(ReplicatedModel):
    audit_entity = "inquiry"

    name = TextField()
    phone = TextField()
    phone_key = TextField()
    source = TextField()
    source_note = TextField(default="")  # which campaign, or who referred them
    complaint = TextField(default="")
    preferred_times = TextField(default="")
    status = TextField(default="new")
    lost_reason = TextField(default="")
    status_changed_at = UtcDateTimeField(null=True)
    patient = ForeignKeyField(Patient, null=True, backref="inquiries")
    first_appointment = ForeignKeyField(
        Appointment, null=True, column_name="first_appointment_id", backref="inquiries"
    )
    converted_at = UtcDateTimeField(null=True)
    assigned_to = TextField(null=True)  # a staff id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class InquiryTask(ReplicatedModel):
    """A follow-up ("call back Tuesday"): due on a branch-local calendar day."""

    audit_entity = "inquiry_task"

    inquiry = ForeignKeyField(Inquiry, backref="tasks")
    title = TextField()
    due_on = IsoDateField()
    done_at = UtcDateTimeField(null=True)
    done_by = TextField(null=True)

    def is_overdue(self, today: date) -> bool:
        return self.done_at is None and self.due_on < today

    def is_due_today(self, today: date) -> bool:
        return self.done_at is None and self.due_on == today
