"""Front-desk tables. Dates of birth are calendar dates (no time zone); times are UTC."""

from __future__ import annotations

from datetime import date

from peewee import BooleanField, ForeignKeyField, IntegerField, TextField

from physioez.core.models import IsoDateField, JsonField, ReplicatedModel

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
