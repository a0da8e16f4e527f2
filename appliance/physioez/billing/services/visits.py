"""Attended sessions reach billing as events: each becomes a visit waiting at checkout, or
takes one session from the patient's pack of that service. Delivered twice, it counts once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from physioez.billing.models import Package, PackageUse, Visit
from physioez.billing.services import ledger
from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.events import DomainEvent, bus
from physioez.core.kernel.models import parse_utc
from physioez.core.kernel.node import current_node

log = logging.getLogger(__name__)
ACTOR = Actor.system("billing:attendance")


def record_attendance(
    actor: Actor,
    *,
    appointment_id: str,
    patient_id: str,
    practitioner_id: str,
    service_code: str,
    attended_at: datetime,
    timezone: str,
) -> Visit:
    """The visit for an attended appointment; the same appointment again returns the first."""
    day = attended_at.astimezone(ZoneInfo(timezone)).date()
    with write_transaction():
        existing = Visit.get_or_none(Visit.appointment_id == appointment_id)
        if existing is not None:
            return existing
        visit = records.create(
            Visit,
            actor,
            appointment_id=appointment_id,
            patient_id=patient_id,
            practitioner_id=practitioner_id,
            service_code=service_code,
            attended_at=attended_at,
            business_day=day,
        )
        use = _use_package(actor, visit)
        if use is not None:
            records.update(visit, actor, action="billing_visit.from_package", package_use_id=use.id)
    return visit


def _use_package(actor: Actor, visit: Visit) -> PackageUse | None:
    """Take one session from the oldest valid pack of this service, if the patient has one."""
    if not visit.service_code:
        return None
    package = (
        Package.select()
        .where(
            (Package.patient_id == visit.patient_id)
            & (Package.service_code == visit.service_code)
            & (Package.status == "active")
            & (Package.valid_until >= visit.business_day)
            & Package.deleted_at.is_null()
        )
        .order_by(Package.valid_until, Package.created_at)
        .first()
    )
    if package is None:
        return None
    number = package.sessions_used + 1
    # The last session takes what rounding left, so a pack's value is used exactly.
    share, rest = divmod(package.value, package.sessions_total)
    value = share + (rest if number == package.sessions_total else 0)
    use = records.create(
        PackageUse,
        actor,
        package_id=package.id,
        appointment_id=visit.appointment_id,
        session_number=number,
        value=value,
        business_day=visit.business_day,
    )
    records.update(
        package,
        actor,
        action="package.session_used",
        sessions_used=number,
        status="used_up" if number == package.sessions_total else "active",
    )
    ledger.post(
        actor,
        kind="package_use",
        ref_id=use.id,
        business_day=visit.business_day,
        memo=f"{package.name}: session {number} of {package.sessions_total}",
        lines=[
            ledger.debit(ledger.PACKAGE_LIABILITY, value, visit.patient_id),
            ledger.credit(ledger.REVENUE_SERVICES, value),
        ],
    )
    return use


def on_session_attended(event: DomainEvent) -> None:
    payload = event.payload
    record_attendance(
        ACTOR,
        appointment_id=payload["appointment_id"],
        patient_id=payload["patient_id"],
        practitioner_id=payload["practitioner_id"],
        service_code=payload.get("service_code", ""),
        attended_at=parse_utc(payload.get("attended_at") or payload["start_at"]),
        timezone=current_node().timezone,
    )


def waiting(day=None, patient_id: str | None = None) -> list[Visit]:
    """Visits not yet billed nor covered by a pack, newest first."""
    query = Visit.select().where(
        Visit.invoice_id.is_null() & Visit.package_use_id.is_null() & Visit.deleted_at.is_null()
    )
    if day is not None:
        query = query.where(Visit.business_day == day)
    if patient_id is not None:
        query = query.where(Visit.patient_id == patient_id)
    return list(query.order_by(Visit.attended_at.desc()))


def packages_of(patient_id: str) -> list[Package]:
    return list(
        Package.select()
        .where((Package.patient_id == patient_id) & Package.deleted_at.is_null())
        .order_by(Package.status, Package.valid_until)
    )


def expire_packages(actor: Actor, today) -> int:
    """Mark packs past their validity as expired (their unused value stays a liability until
    someone decides: refund or forfeit). Returns how many changed."""
    ids = [
        row[0]
        for row in database.execute_sql(
            "SELECT id FROM package WHERE status = 'active' AND valid_until < ?",
            (today.isoformat(),),
        ).fetchall()
    ]
    with write_transaction():
        for package in Package.select().where(Package.id.in_(ids)):
            records.update(package, actor, action="package.expired", status="expired")
    return len(ids)


def subscribe() -> None:
    # Reception's event, named: billing never imports the front desk.
    bus.subscribe("appointment.attended", on_session_attended)
    log.debug("billing listens for attended sessions")
