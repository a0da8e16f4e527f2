"""What the billing API and the accounts desk's pages read: one model per form or request body
(they also generate the API's OpenAPI; what it answers is in ``responses.py``).

Amounts are integers in minor units of the branch currency (paise: 80000 is ₹800.00).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from itertools import zip_longest
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from physioez.billing.models import (
    EXPENSE_CATEGORIES,
    EXPENSE_MODES,
    SERVICE_KINDS,
    TENDER_MODES,
)
from physioez.billing.services.invoicing import MAX_LINES, MAX_QUANTITY, Discount, LineRequest
from physioez.billing.services.payments import MAX_REFERENCE, Tender
from physioez.core.kernel.bounds import (
    BlankIsDefault,
    BlankIsNone,
    Day,
    ExpenseDay,
    Inbound,
    Money,
    PositiveMoney,
)
from physioez.core.kernel.errors import InvalidInput

Mode = Literal["cash", "card", "upi", "bank", "insurance"]  # models.TENDER_MODES


def percent_in_bp(text: str, field: str) -> int:
    """A percentage typed at the desk ("12.5") in basis points (1250)."""
    try:
        percent = Decimal(text.strip())
    except InvalidOperation:
        percent = Decimal("NaN")
    if not percent.is_finite() or not 0 <= percent <= 100:
        raise InvalidInput("Give a percentage from 0 to 100, e.g. 10.", field=field)
    basis_points = percent * 100
    if basis_points != basis_points.to_integral_value():
        raise InvalidInput("Use at most two decimal places, e.g. 12.5.", field=field)
    return int(basis_points)


class LineIn(Inbound):
    service_code: str = Field(min_length=1, max_length=24, description="Price-list code, e.g. PT45")
    quantity: Annotated[int, BlankIsDefault] = Field(1, ge=1, le=MAX_QUANTITY)
    visit_id: str | None = Field(
        None, max_length=64, description="An attended session waiting at checkout, billed here"
    )


class DiscountIn(Inbound):
    percent_bp: int = Field(0, ge=0, le=10_000, description="Basis points: 1000 is 10 %")
    amount: Money = Field(0, description="Or an amount off the invoice")
    reason: str = Field(min_length=1, max_length=300)

    @model_validator(mode="after")
    def _one_kind(self) -> DiscountIn:
        if bool(self.percent_bp) == bool(self.amount):
            raise ValueError("give percent_bp or amount, one of them")
        return self

    @classmethod
    def from_form(cls, form) -> dict[str, Any] | None:
        """The page's discount box, its kind (% or amount) and reason; None when left empty."""
        value = (form.get("discount_value") or "").strip()
        if not value:
            return None
        reason = form.get("discount_reason", "")
        if form.get("discount_kind") == "percent":
            return {"percent_bp": percent_in_bp(value, "discount_value"), "reason": reason}
        return {"amount": value, "reason": reason}


class Discounted(Inbound):
    """An invoice with an optional discount; on the page its fields sit beside the lines."""

    discount: DiscountIn | None = None

    DISCOUNT_FIELDS: ClassVar[dict[str, str]] = {
        "percent_bp": "discount_value",
        "amount": "discount_value",
        "reason": "discount_reason",
    }

    @classmethod
    def form_field(cls, loc: tuple[int | str, ...], values: Any) -> str:
        if loc[0] == "discount":
            return cls.DISCOUNT_FIELDS.get(str(loc[-1]), "discount_value")
        return super().form_field(loc, values)

    def discount_given(self) -> Discount | None:
        if self.discount is None:
            return None
        return Discount(self.discount.percent_bp, self.discount.amount, self.discount.reason)


class InvoiceIn(Discounted):
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        # The page offers a few rows of an item and its quantity; rows left at "—" are unused.
        rows = zip_longest(form.getlist("service_code"), form.getlist("quantity"), fillvalue="")
        return {
            "lines": [{"service_code": code, "quantity": count} for code, count in rows if code],
            "discount": DiscountIn.from_form(form),
        }

    @classmethod
    def form_field(cls, loc: tuple[int | str, ...], values: Any) -> str:
        if loc[0] == "lines":
            return "quantity" if loc[-1] == "quantity" else "service_code"
        return super().form_field(loc, values)

    def requests(self) -> list[LineRequest]:
        return [LineRequest(x.service_code, x.quantity, x.visit_id) for x in self.lines]


class CheckoutIn(Discounted):
    """The checkout page: a patient's attended sessions to bill (the API names them as
    ``InvoiceIn`` lines with their ``visit_id``)."""

    patient_id: str = Field(min_length=1, max_length=64)
    visit_ids: list[str] = Field(min_length=1, max_length=MAX_LINES)

    form_fields: ClassVar[dict[str, str]] = {"visit_ids": "visit_id"}

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        return {
            "patient_id": form.get("patient_id", ""),
            "visit_ids": form.getlist("visit_id"),
            "discount": DiscountIn.from_form(form),
        }


class TenderIn(Inbound):
    mode: Mode
    amount: PositiveMoney
    reference: str = Field("", max_length=MAX_REFERENCE, description="UPI, card or claim ref")


class PaymentIn(Inbound):
    tenders: list[TenderIn] = Field(min_length=1, max_length=len(TENDER_MODES))
    invoice_ids: list[str] = Field(
        default_factory=list,
        max_length=MAX_LINES,
        description="Invoices to pay, in order; none pays the oldest dues first",
    )
    notes: str = Field("", max_length=300)

    # The page has an amount and a reference box per mode: a tender's problem shows at its
    # mode's box, one about the tenders as a whole at the first.
    form_fields: ClassVar[dict[str, str]] = {"tenders": "amount_cash", "invoice_ids": "invoice_id"}

    @classmethod
    def form_field(cls, loc: tuple[int | str, ...], values: Any) -> str:
        if loc[0] == "tenders" and len(loc) > 2 and isinstance(loc[1], int):
            tender = loc[1]
            mode = values["tenders"][tender]["mode"]
            return f"reference_{mode}" if loc[2] == "reference" else f"amount_{mode}"
        return super().form_field(loc, values)

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        values = super().form_values(form, bounds)
        values["tenders"] = [
            {"mode": mode, "amount": amount, "reference": form.get(f"reference_{mode}", "")}
            for mode in TENDER_MODES
            if (amount := form.get(f"amount_{mode}", "").strip())
        ]
        values["invoice_ids"] = form.getlist("invoice_id")
        return values

    def tenders_given(self) -> list[Tender]:
        return [Tender(t.mode, t.amount, t.reference) for t in self.tenders]


class RefundIn(TenderIn):
    reason: str = Field(min_length=1, max_length=300)

    def tender(self) -> Tender:
        return Tender(self.mode, self.amount, self.reference)


class WriteOffIn(Inbound):
    amount: PositiveMoney
    reason: str = Field(min_length=1, max_length=300)


class CancelInvoiceIn(Inbound):
    reason: str = Field(min_length=1, max_length=300)


class TopUpIn(Inbound):
    amount: PositiveMoney


class DayCloseIn(Inbound):
    day: Annotated[Day | None, BlankIsNone] = Field(None, description="Default today")
    counted: dict[Mode, Money] = Field(
        default_factory=dict, description="What the drawer holds by mode; left out: as expected"
    )
    reason: str = Field("", max_length=300, description="Why a count differs")

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        values = super().form_values(form, bounds)
        values["counted"] = {
            mode: amount
            for mode in TENDER_MODES
            if (amount := (form.get(f"counted_{mode}") or "").strip())
        }
        return values

    def counted_by_mode(self) -> dict[str, int]:
        return {str(mode): amount for mode, amount in self.counted.items()}

    @classmethod
    def form_field(cls, loc: tuple[int | str, ...], values: Any) -> str:
        if loc[0] == "counted" and len(loc) > 1:
            return f"counted_{loc[1]}"
        return super().form_field(loc, values)


if TYPE_CHECKING:
    ServiceKind = str
else:  # the choices are data (billing.models); pydantic checks and documents them
    ServiceKind = Literal[SERVICE_KINDS]


class PriceIn(Inbound):
    price: Money
    valid_from: Annotated[Day | None, BlankIsNone] = Field(None, description="Default today")
    category: str = Field("", max_length=40, description="A concession category; blank: standard")


class ServiceIn(Inbound):
    code: str = Field(min_length=1, max_length=24)
    name: str = Field(min_length=1, max_length=120)
    kind: ServiceKind = "service"
    price: Money
    valid_from: Annotated[Day | None, BlankIsNone] = Field(None, description="Default today")
    tax_rate_bp: int = Field(0, ge=0, le=10_000, description="Basis points: 1800 is 18 %")
    tax_code: str = Field("", max_length=24, description="HSN or SAC code")
    package_service_code: str = Field("", max_length=24)
    package_sessions: Annotated[int, BlankIsDefault] = Field(0, ge=0, le=1000)
    package_validity_days: Annotated[int, BlankIsDefault] = Field(0, ge=0, le=3650)

    form_fields: ClassVar[dict[str, str]] = {"tax_rate_bp": "tax_rate"}

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        values = super().form_values(form, bounds)
        values["tax_rate_bp"] = percent_in_bp(form.get("tax_rate") or "0", "tax_rate")
        return values


if TYPE_CHECKING:
    ExpenseCategory = str
    ExpenseMode = str
else:  # the choices are data (billing.models); pydantic checks and documents them
    ExpenseCategory = Literal[tuple(EXPENSE_CATEGORIES)]
    ExpenseMode = Literal[EXPENSE_MODES]


class ExpenseIn(Inbound):
    category: ExpenseCategory
    vendor: str = Field(min_length=1, max_length=120, description="Who was paid")
    amount: PositiveMoney
    mode: ExpenseMode
    notes: str = Field("", max_length=500)
    day: Annotated[ExpenseDay | None, BlankIsNone] = Field(
        None, description="Branch-local day; default today"
    )
