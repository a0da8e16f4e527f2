"""What billing needs to know about the branch, taken from settings once per request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from physioez.billing.services import numbering
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database
from physioez.core.kernel.errors import Conflict
from physioez.core.kernel.money import format_money
from physioez.core.kernel.settings import Settings


@dataclass(frozen=True)
class BillingPolicy:
    branch_id: str
    currency: str
    locale: str
    timezone: str
    fiscal_start_month: int = 4
    discount_limits: dict[str, int] = field(default_factory=dict)
    legal_name: str = ""
    address: str = ""
    tax_number: str = ""
    branch_name: str = ""
    receipt_footer: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> BillingPolicy:
        return cls(
            branch_id=settings.branch.id,
            currency=settings.branch.currency,
            locale=settings.branch.locale,
            timezone=settings.branch.timezone,
            fiscal_start_month=settings.billing.fiscal_year_start_month,
            discount_limits=dict(settings.billing.discount_limit_percent),
            legal_name=settings.billing.legal_name,
            address=settings.billing.address,
            tax_number=settings.billing.tax_number,
            branch_name=settings.branch.name,
            receipt_footer=settings.billing.receipt_footer,
        )

    def today(self, now: datetime | None = None) -> date:
        """The branch's business day: its local date, whatever the UTC date is."""
        moment = now or datetime.now(ZoneInfo(self.timezone))
        return moment.astimezone(ZoneInfo(self.timezone)).date()

    def stamp(self, day: date) -> datetime:
        """When a document of business day ``day`` is stamped: now, or, for a day passed
        explicitly that is not today (a back-dated entry), that day at the current local time."""
        now = datetime.now(ZoneInfo(self.timezone))
        if day == now.date():
            return now.astimezone(UTC)
        return datetime.combine(day, now.time(), now.tzinfo).astimezone(UTC)

    def issued_at(self, day: date, *, back_dated: bool) -> datetime:
        """When a document of business day ``day`` is stamped: now, or, when the caller chose
        the day (a back-dated entry), that day at the current local time."""
        return self.stamp(day) if back_dated else datetime.now(UTC)

    def next_number(self, series: str, day: date) -> tuple[str, int]:
        """The next gap-free number of ``series`` for a document of ``day``, and its fiscal
        year; inside the document's own transaction."""
        return numbering.next_number(series, self.branch_id, day, self.fiscal_start_month)

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency, self.locale)

    def discount_limit_percent(self, actor: Actor) -> int:
        """The largest discount ``actor`` may give; the appliance itself is not limited."""
        if actor.staff_id is None:
            return 100
        return max((self.discount_limits.get(role, 0) for role in actor.roles), default=0)


def ensure_fiscal_year_open(day: date, policy: BillingPolicy) -> None:
    """An entry a person dates must fall in the current fiscal year: an ended year's books
    are with the accountant."""
    start = policy.fiscal_start_month
    year = numbering.fiscal_year(day, start)
    if year < numbering.fiscal_year(policy.today(), start):
        raise Conflict(
            f"{day:%d %b %Y} is in fiscal year {numbering.fiscal_label(year, start)}, which has "
            "ended. Record it in the current fiscal year.",
            field="day",
        )


def ensure_day_open(day: date) -> None:
    """A closed day is locked: nothing new is dated on it, corrections go on a later day."""
    closed = database.execute_sql(
        "SELECT 1 FROM day_close WHERE business_day = ?", (day.isoformat(),)
    ).fetchone()
    if closed:
        raise Conflict(
            f"{day:%d %b %Y} is closed. Record this on the next business day; "
            "corrections to a closed day are made as new entries."
        )
