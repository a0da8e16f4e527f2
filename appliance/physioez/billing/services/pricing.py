"""The price list: services, products and packs, with dated prices and concession prices.

A price change is a new dated row, never an edit, so an invoice raised yesterday keeps
yesterday's price and the history of every price can be read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from physioez.billing.models import SERVICE_KINDS, BillingPrice, BillingService, PatientCategory
from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, NotFound
from physioez.core.kernel.models import fetch_by_id

CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,23}$")
CATEGORY_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")


@dataclass(frozen=True)
class Priced:
    service: BillingService
    unit_price: int
    category: str  # the concession applied, '' for the standard price


def _clean_code(code: str) -> str:
    cleaned = (code or "").strip().upper()
    if not CODE_RE.match(cleaned):
        raise InvalidInput(
            "Use a short code of capitals, digits, - or _ (e.g. PT45).", field="code"
        )
    return cleaned


def create_service(
    actor: Actor,
    *,
    code: str,
    name: str,
    kind: str = "service",
    price: int,
    valid_from: date,
    tax_rate_bp: int = 0,
    tax_code: str = "",
    package_service_code: str = "",
    package_sessions: int = 0,
    package_validity_days: int = 0,
) -> BillingService:
    code = _clean_code(code)
    if not (name or "").strip():
        raise InvalidInput("Give the service a name.", field="name")
    if kind not in SERVICE_KINDS:
        raise InvalidInput("Choose service, product or package.", field="kind")
    if not 0 <= tax_rate_bp <= 10_000:
        raise InvalidInput("A tax rate is between 0 and 100 %.", field="tax_rate")
    if price < 0:
        raise InvalidInput("A price cannot be negative.", field="price")
    if kind == "package":
        if package_sessions < 1 or package_validity_days < 1:
            raise InvalidInput(
                "A package needs a number of sessions and a validity in days.",
                field="package_sessions",
            )
        package_service_code = _clean_code(package_service_code)
    else:
        package_service_code, package_sessions, package_validity_days = "", 0, 0
    with write_transaction():
        if BillingService.select().where(BillingService.code == code).exists():
            raise Conflict(f"The code {code} is already in the price list.", field="code")
        service = records.create(
            BillingService,
            actor,
            code=code,
            name=name.strip(),
            kind=kind,
            tax_rate_bp=tax_rate_bp,
            tax_code=tax_code.strip(),
            package_service_code=package_service_code,
            package_sessions=package_sessions,
            package_validity_days=package_validity_days,
        )
        set_price(actor, service, amount=price, valid_from=valid_from)
    return service


def set_price(
    actor: Actor, service: BillingService, *, amount: int, valid_from: date, category: str = ""
) -> BillingPrice:
    """A new price from ``valid_from`` on; earlier invoices keep the price they were issued at."""
    if amount < 0:
        raise InvalidInput("A price cannot be negative.", field="price")
    category = (category or "").strip().lower()
    if category and not CATEGORY_RE.match(category):
        raise InvalidInput("Name the category in lower case, e.g. senior.", field="category")
    with write_transaction():
        return records.create(
            BillingPrice,
            actor,
            service_id=service.id,
            category=category,
            amount=amount,
            valid_from=valid_from,
        )


def get_service(code: str) -> BillingService:
    # Every invoice line looks its service up: a keyed read, not a query built each time.
    row = database.execute_sql(
        "SELECT id FROM billing_service WHERE code = ? AND deleted_at IS NULL",
        ((code or "").strip().upper(),),
    ).fetchone()
    found = fetch_by_id(BillingService, row[0]) if row else None
    if found is None:
        raise NotFound(f"{code or 'This service'} is not in the price list.", field="service_code")
    return found


def price_on(service: BillingService, day: date, category: str = "") -> tuple[int, str]:
    """The price on ``day``: the concession for ``category`` if there is one, else standard."""
    rows = database.execute_sql(
        "SELECT category, amount FROM billing_price WHERE service_id = ? AND deleted_at IS NULL "
        "AND valid_from <= ? AND category IN ('', ?) ORDER BY valid_from DESC, created_at DESC",
        (service.id, day.isoformat(), category or ""),
    ).fetchall()
    best: dict[str, int] = {}
    for row_category, amount in rows:
        best.setdefault(row_category, int(amount))
    if category and category in best:
        return best[category], category
    if "" in best:
        return best[""], ""
    raise Conflict(f"{service.name} has no price on {day:%d %b %Y}.", field="service_code")


def quote(code: str, day: date, patient_id: str | None = None) -> Priced:
    service = get_service(code)
    if not service.active:
        raise Conflict(f"{service.name} is no longer offered.", field="service_code")
    amount, applied = price_on(service, day, category_of(patient_id) if patient_id else "")
    return Priced(service, amount, applied)


def price_list(day: date) -> list[tuple[BillingService, int, dict[str, int]]]:
    """Every active service with its standard price and concession prices on ``day``."""
    listed = []
    for service in (
        BillingService.select()
        .where(
            BillingService.deleted_at.is_null() & (BillingService.active == True)  # noqa: E712
        )
        .order_by(BillingService.kind, BillingService.code)
    ):
        concessions: dict[str, int] = {}
        rows = database.execute_sql(
            "SELECT category, amount FROM billing_price WHERE service_id = ? "
            "AND deleted_at IS NULL AND valid_from <= ? ORDER BY valid_from DESC, created_at DESC",
            (service.id, day.isoformat()),
        ).fetchall()
        for category, amount in rows:
            concessions.setdefault(category, int(amount))
        standard = concessions.pop("", None)
        if standard is not None:
            listed.append((service, standard, concessions))
    return listed


def price_history(service: BillingService) -> list[BillingPrice]:
    return list(
        BillingPrice.select()
        .where((BillingPrice.service_id == service.id) & BillingPrice.deleted_at.is_null())
        .order_by(BillingPrice.valid_from.desc(), BillingPrice.created_at.desc())
    )


def category_of(patient_id: str) -> str:
    row = database.execute_sql(
        "SELECT category FROM patient_category WHERE patient_id = ? AND deleted_at IS NULL",
        (patient_id,),
    ).fetchone()
    return row[0] if row else ""


def set_category(actor: Actor, patient_id: str, category: str) -> None:
    """Bill ``patient_id`` under a concession category ('' for standard prices)."""
    category = (category or "").strip().lower()
    if category and not CATEGORY_RE.match(category):
        raise InvalidInput("Name the category in lower case, e.g. senior.", field="category")
    with write_transaction():
        row = PatientCategory.get_or_none(PatientCategory.patient_id == patient_id)
        if row is None:
            if category:
                records.create(PatientCategory, actor, patient_id=patient_id, category=category)
        elif row.deleted_at is None and not category:
            records.soft_delete(row, actor)
        elif category:
            records.update(row, actor, category=category, deleted_at=None)
