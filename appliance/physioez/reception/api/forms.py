"""The front desk's page forms that have no API twin yet: the set-up page's practitioner,
resource, appointment type and clash rule, and the waitlist's "Add someone". They are read with
``parse_form`` like the API's models (``schemas.py``), held to the same bounds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from physioez.core.kernel.bounds import BlankIsDefault, BlankIsNone, Inbound


class PractitionerIn(Inbound):
    staff_id: str = Field(min_length=1, max_length=64)


class ResourceIn(Inbound):
    kind: Literal["room", "equipment"]
    name: str = Field(min_length=1, max_length=120)
    capacity: Annotated[int, BlankIsDefault] = Field(1, ge=1, le=100)


class AppointmentTypeIn(Inbound):
    name: str = Field(min_length=1, max_length=120)
    duration_minutes: int = Field(ge=5, le=480, multiple_of=5)
    service_code: str = Field("", max_length=24)
    group_capacity: Annotated[int, BlankIsDefault] = Field(1, ge=1, le=50)
    resource_ids: list[str] = Field(default_factory=list, max_length=20)


class ClashRuleIn(Inbound):
    rule: str = Field(min_length=1, max_length=40)
    severity: Literal["block", "warn"]


class WaitlistIn(Inbound):
    patient_id: str = Field(min_length=1, max_length=64)
    type_id: str = Field(min_length=1, max_length=64)
    practitioner_id: Annotated[str | None, BlankIsNone] = Field(None, max_length=64)
    # waitlist.PRIORITIES: 1 urgent, 2 normal, 3 whenever
    priority: Annotated[int, BlankIsDefault] = Field(2, ge=1, le=3)
    weekdays: list[Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]] = Field(
        default_factory=list, max_length=7
    )
    earliest_time: Annotated[str | None, BlankIsNone] = Field(None, pattern=r"^\d\d:\d\d$")
    latest_time: Annotated[str | None, BlankIsNone] = Field(None, pattern=r"^\d\d:\d\d$")
    note: str = Field("", max_length=500)
