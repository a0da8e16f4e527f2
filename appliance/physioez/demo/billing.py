"""Billing demo data: the price list, concessions, packs, and the accounts desk's last weeks.

On top of the front-desk demo (``demo_reception``): a price list of an Indian physiotherapy
clinic (sessions exempt from GST under their SAC code, products taxed at 12 or 18 % under their
HSN code, two packs of sessions, a senior citizens' price), patients aged 60 and over billed as
``senior``, and then, day by day, what the desk did: attended sessions reach billing as visits,
most are invoiced and paid (cash, card, UPI, bank transfer, insurance; some in part), packs are
sold and used, an advance is paid and used, a returned product is cancelled by a credit note
and refunded, an old balance is written off, and past days are closed (a few with a small
difference in the drawer). Older courses of treatment, before the four weeks of the book, leave
dues of every age for the follow-up list.

Everything goes through billing's own services (audited, outboxed, posted to the ledger), each
dated on its day with the services' ``today`` keyword, inside one transaction. The price list
and the desk's habits are in ``billing_plan``, the desk's days in ``billing_desk``.
"""

from __future__ import annotations

import random
from datetime import date

from physioez.billing.models import BillingService
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.settings import Settings
from physioez.demo.billing_desk import DemoDesk
from physioez.reception.services.directory import provide_directory

COUNTS = (
    "services",
    "seniors",
    "invoices",
    "credit_notes",
    "receipts",
    "refunds",
    "packages",
    "write_offs",
    "days_closed",
)


def seed_billing(
    actor: Actor, today: date, settings: Settings, *, seed: int = 2026
) -> dict[str, int]:
    """Create the billing demo once (after the front desk's); all zero when already there."""
    if BillingService.select().exists():
        return dict.fromkeys(COUNTS, 0)
    provide_directory()  # `physioez seed-demo` boots without the web app, which does this
    desk = DemoDesk(actor, today, settings, random.Random(seed))
    with write_transaction():
        desk.run()
    return {name: desk.counts[name] for name in COUNTS}


def seed(actor: Actor, today: date, settings: Settings) -> str:
    """The accounts desk's demo, after the front desk's."""
    billed = seed_billing(actor, today, settings)
    if not any(billed.values()):
        return "billing already there; left as it was."
    return (
        f"{billed['services']} price-list items, {billed['invoices']} invoices, "
        f"{billed['receipts']} receipts, {billed['packages']} packs sold, "
        f"{billed['days_closed']} days closed."
    )
