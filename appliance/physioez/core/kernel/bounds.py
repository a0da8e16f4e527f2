"""The bounds every input is held to at the boundary, in one place.

Pages and the API parse input with the same pydantic models; the types here are what those
models are made of, so a year typed as ``0202``, a date in year 9999, an amount with fifteen
digits or a name carrying a NUL or a right-to-left override is refused with a message for the
person at the screen before any service sees it.

Windows depend on the branch (its today, its settings), which the boundary passes in as
pydantic's validation context (``context={"bounds": Bounds.of(settings)}``); without one the
defaults and the machine's date apply, so a model validated in a test or a job still holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, ClassVar, get_origin
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticUseDefault

from physioez.core.kernel.errors import InvalidInput
from physioez.core.kernel.money import minor_digits, parse_money

# NUL and the Unicode bidirectional controls (embeddings, overrides, isolates and marks): a
# name holding U+202E shows reversed on every list it appears on and in every export.
_UNSAFE_CHARACTERS = re.compile("[\x00\u200e\u200f\u202a-\u202e\u2066-\u2069]")

EARLIEST_BIRTH = date(1900, 1, 1)
# Days a clinic can mean at all: reading the book of 1899 or of 9999 is a typing slip.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2199, 12, 31)


class LimitsSettings(BaseModel):
    """``[limits]``: how far from today dated entries may go, and the largest amount."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    bookings_days_back: int = Field(
        730, ge=0, le=3650, description="Appointments may be booked this many days in the past."
    )
    bookings_days_ahead: int = Field(
        730, ge=1, le=3650, description="Appointments may be booked this many days ahead."
    )
    leave_days_back: int = Field(
        365, ge=0, le=3650, description="Leave and extra hours may be entered this far back."
    )
    leave_days_ahead: int = Field(
        730, ge=1, le=3650, description="Leave and extra hours may be entered this far ahead."
    )
    expenses_days_back: int = Field(
        400, ge=0, le=3650, description="Expenses may be dated this many days in the past."
    )
    expenses_days_ahead: int = Field(
        0, ge=0, le=365, description="Expenses may be dated this many days ahead (0: not at all)."
    )
    follow_ups_days_back: int = Field(
        30, ge=0, le=3650, description="Inquiry follow-ups may be due this many days back."
    )
    follow_ups_days_ahead: int = Field(
        365, ge=1, le=3650, description="Inquiry follow-ups may be due this many days ahead."
    )
    max_amount: int = Field(
        10_000_000,
        ge=1,
        le=10**12,
        description="Largest amount of one entry, in whole currency units (10,000,000 is "
        "₹1,00,00,000); a longer number is refused as a typing slip.",
    )


@dataclass(frozen=True)
class Bounds:
    """What the windows are measured from: the branch's today, its limits and currency."""

    today: date
    limits: LimitsSettings
    currency: str = "INR"
    locale: str = "en_IN"
    timezone: str = "Asia/Kolkata"

    @classmethod
    def of(cls, settings: Any) -> Bounds:
        branch = settings.branch
        today = datetime.now(ZoneInfo(branch.timezone)).date()
        return cls(today, settings.limits, branch.currency, branch.locale, branch.timezone)

    @property
    def max_minor(self) -> int:
        return self.limits.max_amount * 10 ** minor_digits(self.currency)

    def context(self, *, form: bool = False) -> dict[str, Any]:
        return {"bounds": self, "form": form}


def bounds_of(info: ValidationInfo) -> Bounds:
    context = info.context or {}
    found = context.get("bounds")
    return found if found is not None else Bounds(date.today(), LimitsSettings())


def from_form(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get("form"))


# --- text -----------------------------------------------------------------------------------


def clean_text(value: Any) -> Any:
    """``value`` with NUL and bidirectional controls removed, inside lists and dicts too."""
    if isinstance(value, str):
        return _UNSAFE_CHARACTERS.sub("", value)
    if isinstance(value, list):
        return [clean_text(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): clean_text(item) for key, item in value.items()}
    return value


class Inbound(BaseModel):
    """The base of every model that reads input: unknown fields refused, text trimmed and
    cleaned of NUL and bidirectional controls, whatever field it arrives in.

    A page's form is read by the same model as its API body: ``form_values`` picks the
    model's fields from the posted form (subclasses add what a form spells differently, such
    as a date and a time for one moment), and ``form_field`` names the form field a problem
    is shown at.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    form_fields: ClassVar[dict[str, str]] = {}

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return clean_text(value)

    @classmethod
    def form_values(cls, form: Any, bounds: Bounds) -> dict[str, Any]:
        """The model's fields as the posted ``form`` (a MultiDict) holds them."""
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if name not in form:
                continue
            many = get_origin(info.annotation) is list or "list[" in str(info.annotation)
            value = form.getlist(name) if many else form.get(name)
            if info.is_required() and isinstance(value, str) and not value.strip():
                continue  # Left empty: "Fill this in.", whatever the field's type.
            values[name] = value
        return values

    @classmethod
    def form_field(cls, loc: tuple[int | str, ...], values: Any) -> str:
        """The form field a problem at ``loc`` (pydantic's path to it) in ``values`` (what
        ``form_values`` read) is shown at; a model whose form lays a nested model's fields out
        flat, or a list's items in boxes of their own, overrides this."""
        name = str(loc[0])
        return cls.form_fields.get(name, name)


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _checkbox(value: Any) -> Any:
    # A ticked HTML checkbox sends "on" (or the value it was given); an unticked one nothing.
    if isinstance(value, str) and value.strip().lower() in ("on", "yes", "1", "true"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("", "off", "no", "0", "false"):
        return False
    return value


Checkbox = Annotated[bool, BeforeValidator(_checkbox)]


# ``Annotated[kind | None, BlankIsNone]``: an optional field where an empty form field means None.
BlankIsNone = BeforeValidator(_blank_is_none)


def _blank_is_default(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise PydanticUseDefault
    return value


# ``Annotated[int, BlankIsDefault] = 1``: a form field left empty takes the field's default.
BlankIsDefault = BeforeValidator(_blank_is_default)


# --- dates ----------------------------------------------------------------------------------


def _four_digit_year(day: date) -> date:
    if day.year < 1000:
        raise ValueError(
            f"The year {day.year:04d} looks mistyped: use a four-digit year, "
            f"like {date.today().year}."
        )
    return day


def _readable(day: date) -> str:
    return f"{day:%d %b %Y}"


def within(lower: date, upper: date, day: date, what: str) -> date:
    """``day`` if it lies in ``[lower, upper]``, else a message naming the window."""
    _four_digit_year(day)
    if day < lower or day > upper:
        raise ValueError(f"{what} must be between {_readable(lower)} and {_readable(upper)}.")
    return day


def _window(what: str, back: str, ahead: str):
    """A check keeping a date within ``limits.<back>`` days before and ``limits.<ahead>``
    days after the branch's today."""

    def check(day: date, info: ValidationInfo) -> date:
        bounds = bounds_of(info)
        lower = bounds.today - timedelta(days=getattr(bounds.limits, back))
        upper = bounds.today + timedelta(days=getattr(bounds.limits, ahead))
        return within(lower, upper, day, what)

    return check


def _any_day(day: date) -> date:
    return within(EARLIEST_DAY, LATEST_DAY, day, "The date")


def _birth(day: date, info: ValidationInfo) -> date:
    return within(EARLIEST_BIRTH, bounds_of(info).today, day, "The date of birth")


Day = Annotated[date, AfterValidator(_any_day)]
BirthDate = Annotated[date, AfterValidator(_birth)]
_booking_window = _window("The appointment date", "bookings_days_back", "bookings_days_ahead")
BookingDay = Annotated[date, AfterValidator(_booking_window)]
LeaveDay = Annotated[
    date, AfterValidator(_window("The date", "leave_days_back", "leave_days_ahead"))
]
ExpenseDay = Annotated[
    date, AfterValidator(_window("The expense date", "expenses_days_back", "expenses_days_ahead"))
]
FollowUpDay = Annotated[
    date,
    AfterValidator(_window("The follow-up date", "follow_ups_days_back", "follow_ups_days_ahead")),
]


def _booking_start(moment: datetime, info: ValidationInfo) -> datetime:
    _booking_window(moment.date(), info)
    return moment


BookingStart = Annotated[AwareDatetime, AfterValidator(_booking_start)]


# --- money ----------------------------------------------------------------------------------


def _money(value: Any, info: ValidationInfo) -> Any:
    # A form sends what a person typed ("1,250.50", in whole units); the API integers of
    # minor units. Only a form's text is read as typed, so 1250 from the API stays paise.
    if from_form(info) and isinstance(value, str):
        if not value.strip():
            return 0
        try:
            return parse_money(value, bounds_of(info).currency)
        except InvalidInput as refused:
            raise ValueError(refused.message) from None
    return value


def _money_cap(minor: int, info: ValidationInfo) -> int:
    bounds = bounds_of(info)
    if minor > bounds.max_minor:
        cap = format_decimal(bounds.limits.max_amount, locale=bounds.locale)
        raise ValueError(f"Amounts are at most {cap} {bounds.currency}; check the number.")
    if minor < 0:
        raise ValueError("Enter an amount of zero or more.")
    return minor


def _more_than_zero(minor: int) -> int:
    if minor < 1:
        raise ValueError("Enter an amount more than zero.")
    return minor


Money = Annotated[int, BeforeValidator(_money), AfterValidator(_money_cap)]
PositiveMoney = Annotated[Money, AfterValidator(_more_than_zero)]


def checked_ids(ids: list[str], known: set[str], what: str, field: str) -> list[str]:
    """``ids`` when each is in ``known``; else a 422 naming the first unknown one."""
    for one in ids:
        if one not in known:
            raise InvalidInput(f"{what} {one!r} does not exist (or was removed).", field=field)
    return ids


_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def local_moment(day_text: str, clock_text: str, bounds: Bounds) -> datetime:
    """A date and a time typed at the desk, as an aware datetime in the branch's zone; the
    date's own bounds are the model's to check."""
    try:
        day = date.fromisoformat((day_text or "").strip())
    except ValueError:
        raise InvalidInput("Enter the date as YYYY-MM-DD.", field="date") from None
    clock = _CLOCK.match((clock_text or "").strip())
    if clock is None:
        raise InvalidInput("Enter a time like 09:30 (24-hour clock).", field="time")
    return datetime.combine(day, time(int(clock[1]), int(clock[2])), ZoneInfo(bounds.timezone))
