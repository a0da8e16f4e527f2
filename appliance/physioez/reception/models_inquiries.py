"""Inquiry (lead) tables: who asked, how they found us, where they are in the pipeline.

Kept apart from ``models.py`` so the lead pipeline can grow without touching the patient and
appointment tables; an inquiry only points at them once it is converted.
"""

from __future__ import annotations

from datetime import date

from peewee import ForeignKeyField, TextField

from physioez.core.kernel.models import IsoDateField, ReplicatedModel, UtcDateTimeField
from physioez.reception.models import Appointment, Patient

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
