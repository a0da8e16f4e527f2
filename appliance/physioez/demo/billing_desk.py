"""The billing demo's accounts desk at work, day by day: attended sessions billed as visits,
invoices paid (some in part, some not yet), packs sold and used, an advance, a returned brace,
a write-off, and past days closed; older courses of treatment leave dues of every age. Every
step goes through billing's own services, dated on its day."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from physioez.billing.models import Invoice, Visit
from physioez.billing.services import dayend, invoicing, ledger, payments, pricing, visits
from physioez.billing.services.invoicing import Discount, LineRequest
from physioez.billing.services.payments import Tender
from physioez.billing.services.policy import BillingPolicy
from physioez.core.kernel import identity
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.settings import Settings
from physioez.demo.billing_plan import (
    BILLED_SHARE,
    BILLED_SHARE_TODAY,
    CONCESSIONS,
    DISCOUNT_REASONS,
    DRAWER_DIFFERENCES,
    HISTORY_DAYS,
    INSURERS,
    PRICE_LIST,
    PRICE_RISE_DAYS,
    PRICE_RISES,
    PRICES_SINCE_DAYS,
    PRODUCTS,
    SENIOR_AGE,
)
from physioez.reception.models import Appointment, AppointmentType, Patient


def _staff_actor(username: str, fallback: Actor) -> Actor:
    """The demo account ``username`` at work, or ``fallback`` when it does not exist."""
    staff = identity.find_staff_by_username(username)
    if staff is None:
        return fallback
    return Actor(staff_id=staff.id, roles=tuple(staff.role_codes), device=fallback.device)


def _working_day(day: date) -> date:
    return day - timedelta(days=1) if day.weekday() == 6 else day


class DemoDesk:
    def __init__(self, actor: Actor, today: date, settings: Settings, rng: random.Random):
        self.policy = BillingPolicy.from_settings(settings)
        self.zone = ZoneInfo(settings.branch.timezone)
        self.today = today
        self.rng = rng
        self.front = _staff_actor("reception", actor)
        self.accounts = _staff_actor("billing", actor)
        self.manager = _staff_actor("manager", actor)
        self.counts: Counter[str] = Counter()
        self.modes_used: set[str] = set()
        # day -> work planned for it, besides billing its attended sessions
        self.packs: dict[date, list[tuple[str, str]]] = defaultdict(list)
        self.scripts: dict[date, list] = defaultdict(list)
        self.partly_paid_history: list[Invoice] = []

    # --- the whole run ------------------------------------------------------------------------

    def run(self) -> None:
        self.price_list()
        self.seniors()
        sessions = self.completed_sessions()
        history = sorted({_working_day(self.today - timedelta(days=n)) for n in HISTORY_DAYS})
        recent = sorted(sessions)
        people = self.history_patients(sessions)
        self.plan_packs(sessions, history, people)
        self.plan_scripts(sessions, recent, people)
        days = sorted(set(history) | set(recent))
        last_open = max((d for d in days if d < self.today), default=None)
        for index, day in enumerate(days):
            for pack_code, patient_id in self.packs.get(day, ()):
                self.sell_pack(day, pack_code, patient_id)
            if day in sessions:
                self.bill_sessions(day, sessions[day])
            else:
                first = history.index(day) * 3
                self.course_invoices(day, people[first : first + 3])
            for step in self.scripts.get(day, ()):
                step(day)
            # Past days are closed, except the latest, still waiting for its day end.
            if day < self.today and day != last_open:
                self.close(day, index)

    # --- the price list and concessions -------------------------------------------------------

    def price_list(self) -> None:
        since = self.today - timedelta(days=PRICES_SINCE_DAYS)
        made = {}
        for item in PRICE_LIST:
            made[item.code] = pricing.create_service(
                self.accounts,
                code=item.code,
                name=item.name,
                kind=item.kind,
                price=item.price,
                valid_from=since,
                tax_rate_bp=item.tax_rate_bp,
                tax_code=item.tax_code,
                package_service_code=item.pack_of,
                package_sessions=item.sessions,
                package_validity_days=item.validity_days,
            )
        for code, amount in PRICE_RISES:
            pricing.set_price(
                self.accounts,
                made[code],
                amount=amount,
                valid_from=self.today - timedelta(days=PRICE_RISE_DAYS),
            )
        for code, category, amount in CONCESSIONS:
            pricing.set_price(
                self.accounts, made[code], amount=amount, valid_from=since, category=category
            )
        self.counts["services"] = len(made)

    def seniors(self) -> None:
        """Senior citizens (60 and over) pay the senior price, as the clinic's policy says."""
        for patient in Patient.select().where(
            Patient.deleted_at.is_null() & Patient.date_of_birth.is_null(False)
        ):
            age = patient.age_on(self.today)
            if age is not None and age >= SENIOR_AGE:
                pricing.set_category(self.accounts, patient.id, "senior")
                self.counts["seniors"] += 1

    # --- what happened at the desk ------------------------------------------------------------

    def completed_sessions(self) -> dict[date, list[Appointment]]:
        """The front desk's attended sessions, by the branch day they were attended on."""
        codes = {t.id: t.service_code for t in AppointmentType.select()}
        by_day: dict[date, list[Appointment]] = defaultdict(list)
        query = Appointment.select().where(
            (Appointment.status == "completed") & Appointment.deleted_at.is_null()
        )
        for appointment in query.order_by(Appointment.start_at):
            appointment.service_code = codes.get(appointment.type_id, "")
            attended = appointment.completed_at or appointment.end_at
            by_day[attended.astimezone(self.zone).date()].append(appointment)
        return dict(by_day)

    def history_patients(self, sessions: dict[date, list[Appointment]]) -> list[str]:
        """Patients for the older courses, a returned brace and an unused pack: people not
        seen in the book's weeks first, so their accounts tell one story each."""
        seen = {a.patient_id for day in sessions.values() for a in day}
        ids = [
            p.id
            for p in Patient.select(Patient.id)
            .where(Patient.deleted_at.is_null())
            .order_by(Patient.mrn)
        ]
        unseen = [pid for pid in ids if pid not in seen]
        others = [pid for pid in ids if pid in seen]
        self.rng.shuffle(unseen)
        self.rng.shuffle(others)
        return unseen + others

    def plan_packs(self, sessions, history: list[date], people: list[str]) -> None:
        """Packs for the patients with most sessions, sold on their first session's day."""
        first_day: dict[str, date] = {}
        count: Counter[str] = Counter()
        for day in sorted(sessions):
            for appointment in sessions[day]:
                if appointment.service_code == "PT45":
                    count[appointment.patient_id] += 1
                    first_day.setdefault(appointment.patient_id, day)
        buyers = [pid for pid, _ in sorted(count.items(), key=lambda x: (-x[1], first_day[x[0]]))]
        for pid, code in zip(buyers[:3], ("PT45X10", "PT45X6", "PT45X6"), strict=False):
            self.packs[first_day[pid]].append((code, pid))
        if len(buyers) > 3 and history:
            # Bought a month ago and still being used.
            self.packs[history[-1]].append(("PT45X10", buyers[3]))
        unused = people[len(HISTORY_DAYS) * 3 + 1 : len(HISTORY_DAYS) * 3 + 2]
        if unused and history:
            self.packs[history[-2]].append(("PT45X6", unused[0]))  # not used so far

    def plan_scripts(self, sessions, recent: list[date], people: list[str]) -> None:
        past = [d for d in recent if d < self.today]
        if len(past) < 6:
            return
        later = {a.patient_id for d in past[4:] for a in sessions[d]}
        earlier = {a.patient_id for d in past[:3] for a in sessions[d]}
        advance = next((pid for pid in sorted(later - earlier)), None)
        if advance:
            self.scripts[past[1]].append(lambda day, pid=advance: self.advance(day, pid))
        buyer = people[len(HISTORY_DAYS) * 3 : len(HISTORY_DAYS) * 3 + 1]
        if buyer:
            brace = buyer[0]
            sale: list[Invoice] = []
            self.scripts[past[2]].append(lambda day: sale.append(self.sell_brace(day, brace)))
            self.scripts[past[4]].append(lambda day: self.brace_returned(day, sale))
        self.scripts[past[0]].append(lambda day: self.old_dues_paid(day, 0, "cash"))
        self.scripts[past[3]].append(lambda day: self.old_dues_paid(day, 1, "insurance"))
        self.scripts[past[5]].append(self.write_off_oldest)

    def sell_pack(self, day: date, code: str, patient_id: str) -> None:
        invoice = self.invoice(day, patient_id, [LineRequest(code)])
        self.counts["packages"] += 1
        mode = "card" if code.endswith("X10") else "upi"
        self.receive(day, patient_id, [self.tender(mode, invoice.total, day)], [invoice.id])

    def bill_sessions(self, day: date, attended: list[Appointment]) -> None:
        waiting: dict[str, list[Visit]] = defaultdict(list)
        for appointment in attended:
            visit = visits.record_attendance(
                visits.ACTOR,
                appointment_id=appointment.id,
                patient_id=appointment.patient_id,
                practitioner_id=appointment.practitioner_id,
                service_code=appointment.service_code,
                attended_at=appointment.completed_at or appointment.end_at,
                timezone=str(self.zone),
            )
            if visit.invoice_id is None and visit.package_use_id is None:
                waiting[visit.patient_id].append(visit)
        share = BILLED_SHARE_TODAY if day == self.today else BILLED_SHARE
        for patient_id, patient_visits in waiting.items():
            if self.rng.random() > share:
                continue  # Still at checkout: the desk has not billed it yet.
            lines = [LineRequest(v.service_code, 1, v.id) for v in patient_visits]
            if self.rng.random() < 0.12:
                lines.append(LineRequest(self.rng.choice(PRODUCTS)))
            discount = None
            if self.rng.random() < 0.05:
                discount = Discount(percent_bp=1000, reason=self.rng.choice(DISCOUNT_REASONS))
            self.settle_at_desk(day, self.invoice(day, patient_id, lines, discount))

    def course_invoices(self, day: date, patient_ids: list[str]) -> None:
        """An older course of treatment billed at its end; the first one is paid only in part."""
        for number, patient_id in enumerate(patient_ids):
            lines = [LineRequest("ASSESS60"), LineRequest("PT45", self.rng.randint(2, 6))]
            if self.rng.random() < 0.4:
                lines.append(LineRequest(self.rng.choice(PRODUCTS)))
            invoice = self.invoice(day, patient_id, lines)
            if number == 0:
                self.partly_paid_history.append(invoice)
                self.receive(day, patient_id, [self.tender("cash", _part(invoice.total), day)])
            else:
                self.settle_at_desk(day, invoice)

    def settle_at_desk(self, day: date, invoice: Invoice) -> None:
        """Use any advance first; then most pay in full, some in part, a few not yet."""
        owing = invoice.total
        if ledger.patient_credit(invoice.patient_id) > 0:
            owing -= payments.apply_credit(self.front, self.policy, invoice, today=day)
        roll = self.rng.random()
        if not owing or roll < 0.04:
            return
        amount = _part(owing) if roll < 0.14 else owing
        if roll > 0.92 and amount >= 20000:  # Split: some cash, the rest by UPI.
            cash = amount // 2 // 10000 * 10000
            tenders = [self.tender("cash", cash, day), self.tender("upi", amount - cash, day)]
        else:
            tenders = [self.tender(self.pick_mode(), amount, day)]
        self.receive(day, invoice.patient_id, tenders, [invoice.id])

    # --- the scripted moments -----------------------------------------------------------------

    def advance(self, day: date, patient_id: str) -> None:
        """An advance for a treatment plan, kept as credit and used at later checkouts."""
        tender = self.tender("upi", 300000, day)
        self.receive(day, patient_id, [tender], notes="Advance for the treatment plan")

    def sell_brace(self, day: date, patient_id: str) -> Invoice:
        invoice = self.invoice(day, patient_id, [LineRequest("KNEE")])
        self.receive(day, patient_id, [self.tender("cash", invoice.total, day)], [invoice.id])
        return invoice

    def brace_returned(self, day: date, sale: list[Invoice]) -> None:
        """The brace came back unopened: credit note, and the cash handed back."""
        invoice = sale[0]
        invoicing.cancel_invoice(
            self.accounts,
            self.policy,
            invoice,
            "Knee brace returned unopened (wrong size).",
            today=day,
        )
        self.counts["credit_notes"] += 1
        payments.refund(
            self.accounts,
            self.policy,
            invoice.patient_id,
            Tender("cash", invoice.total),
            "Returned knee brace, refunded in cash.",
            today=day,
        )
        self.counts["refunds"] += 1

    def old_dues_paid(self, day: date, which: int, mode: str) -> None:
        """A patient of an older course clears what they owed (oldest first)."""
        if len(self.partly_paid_history) <= which + 2:
            return
        invoice = self.partly_paid_history[-1 - which]  # the youngest of the old dues
        owing = invoicing.due(invoice)
        if owing > 0:
            self.receive(day, invoice.patient_id, [self.tender(mode, owing, day)], [invoice.id])

    def write_off_oldest(self, day: date) -> None:
        if not self.partly_paid_history:
            return
        invoice = self.partly_paid_history[0]
        owing = invoicing.due(invoice)
        if not owing:
            return
        invoicing.write_off(
            self.manager,
            self.policy,
            invoice,
            owing // 2,
            "Patient moved abroad; half the balance waived by the branch manager.",
            today=day,
        )
        self.counts["write_offs"] += 1

    def close(self, day: date, index: int) -> None:
        expected = dayend.expected_takings(day)
        difference, reason = DRAWER_DIFFERENCES[index % len(DRAWER_DIFFERENCES)]
        counted: dict[str, int] = {}
        if index % 4 == 1 and expected["cash"] + difference >= 0:
            counted = {"cash": expected["cash"] + difference}
        else:
            reason = ""
        dayend.close_day(self.accounts, self.policy, day, counted, reason)
        self.counts["days_closed"] += 1

    # --- small helpers ------------------------------------------------------------------------

    def invoice(
        self, day: date, patient_id: str, lines: list[LineRequest], discount: Discount | None = None
    ) -> Invoice:
        invoice = invoicing.issue_invoice(
            self.front, self.policy, patient_id, lines, discount, today=day
        )
        self.counts["invoices"] += 1
        return invoice

    def receive(
        self,
        day: date,
        patient_id: str,
        tenders: list[Tender],
        invoice_ids: Sequence[str] = (),
        notes: str = "",
    ) -> None:
        payments.take_payment(
            self.front, self.policy, patient_id, tenders, invoice_ids, notes, today=day
        )
        self.counts["receipts"] += 1

    def pick_mode(self) -> str:
        """Every mode early on, then as a clinic in a city sees them."""
        for mode in ("upi", "cash", "card", "bank", "insurance"):
            if mode not in self.modes_used:
                return mode
        return self.rng.choices(
            ("cash", "upi", "card", "bank", "insurance"), weights=(35, 40, 17, 4, 4)
        )[0]

    def tender(self, mode: str, amount: int, day: date) -> Tender:
        self.modes_used.add(mode)
        return Tender(mode, amount, tender_reference(self.rng, mode, day))


def tender_reference(rng: random.Random, mode: str, day: date) -> str:
    """A payment's reference as the desk notes it: the UPI transaction number, the card's last
    digits and approval code, the bank transfer's UTR, the insurer's claim; cash has none."""
    if mode == "upi":
        return f"UPI {rng.randrange(10**11, 10**12)}"
    if mode == "card":
        return f"Card xx{rng.randrange(1000, 10000)}, approval {rng.randrange(10**5, 10**6)}"
    if mode == "bank":
        return f"NEFT UTR HDFCN{day:%Y%m%d}{rng.randrange(10**5, 10**6)}"
    if mode == "insurance":
        return f"{rng.choice(INSURERS)} claim CL{rng.randrange(10**7, 10**8)}"
    return ""


def _part(amount: int) -> int:
    """What a patient pays now of ``amount``: about half, in whole hundreds of rupees."""
    return max(10000, amount * 5 // 10 // 10000 * 10000) if amount > 10000 else amount
