"""The `[billing]` settings section (docs/settings.md describes every key)."""

from __future__ import annotations

from pydantic import Field, field_validator

from physioez.core.kernel.settings import Section


class BillingSettings(Section):
    legal_name: str = Field(
        "PhysioEZ Clinic Pvt Ltd", min_length=1, description="Legal name printed on invoices."
    )
    address: str = Field(
        "Clinic address not set", min_length=1, description="Address printed on invoices."
    )
    tax_number: str = Field(
        "", description="Tax registration number (e.g. GSTIN) printed on tax invoices."
    )
    fiscal_year_start_month: int = Field(
        4, ge=1, le=12, description="First month of the fiscal year; invoice numbers restart."
    )
    discount_limit_percent: dict[str, int] = Field(
        {"receptionist": 10, "billing": 25, "branch_manager": 50, "owner": 100},
        description="Largest discount each role may give, in percent of the invoice "
        "(a person with several roles gets the largest). Roles not listed give none.",
    )
    receipt_footer: str = Field(
        "Thank you. Keep this receipt for your records.",
        max_length=300,
        description="Line printed at the foot of receipts.",
    )

    @field_validator("discount_limit_percent", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        # Environment variables can only carry text: "receptionist=10,billing=25".
        if isinstance(value, str):
            pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("write role=percent pairs separated by commas")
            return {role.strip(): pct.strip() for role, pct in pairs}
        return value

    @field_validator("discount_limit_percent")
    @classmethod
    def _percentages(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(role for role, pct in value.items() if not 0 <= pct <= 100)
        if bad:
            raise ValueError(f"discount limits must be 0-100 percent (check {bad})")
        return value
