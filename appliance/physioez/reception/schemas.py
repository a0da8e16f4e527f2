"""Request and response shapes of the front-desk API (they also generate its OpenAPI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from physioez.reception.models import Patient
from physioez.reception.services.patients import DuplicateMatch, PatientDetails

Strict = ConfigDict(extra="forbid", str_strip_whitespace=True)

ConsentKind = Literal[
    "treatment", "reminders_sms", "reminders_whatsapp", "reminders_email", "data_sharing"
]


class PatientIn(BaseModel):
    model_config = Strict
    first_name: str = Field(min_length=1, max_length=80)
    last_name: str = Field("", max_length=80)
    sex: Literal["female", "male", "other", "unknown"] = "unknown"
    date_of_birth: date | None = None
    age_years: int | None = Field(None, ge=0, le=120, description="When the birth date is unknown")
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

    def details(self) -> PatientDetails:
        return PatientDetails(**self.model_dump())


class PatientCreateIn(PatientIn):
    allow_duplicate: bool = Field(
        False, description="Register even though the duplicate check found possible matches"
    )

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


class PatientSearchQuery(BaseModel):
    model_config = Strict
    q: str = Field(min_length=1, max_length=100, description="Name, phone digits or MRN")
    limit: int = Field(20, ge=1, le=100)


class DuplicateQuery(BaseModel):
    model_config = Strict
    phone: str = Field("", max_length=40)
    first_name: str = Field("", max_length=80)
    last_name: str = Field("", max_length=80)
    date_of_birth: date | None = None


class DuplicateOut(BaseModel):
    patient: PatientOut
    reasons: list[str]

    @classmethod
    def of(cls, match: DuplicateMatch) -> DuplicateOut:
        return cls(patient=PatientOut.of(match.patient), reasons=list(match.reasons))


class DuplicateList(BaseModel):
    matches: list[DuplicateOut]


class ConsentIn(BaseModel):
    model_config = Strict
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


class MergeIn(BaseModel):
    model_config = Strict
    duplicate_id: str = Field(
        min_length=1, max_length=64, description="The record folded into this one"
    )
