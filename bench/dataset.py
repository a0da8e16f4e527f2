"""Ten-year branch benchmark: reads against a big, realistic database.

Builds (once, then cached) a branch with ten years of history by bulk SQL inserts into a
database made by ``physioez migrate``: 60,000 patients, 30 practitioners with hours, 300,000
appointments, ten years of billing behind them (an invoice per completed appointment with its
payments, settlements and ledger postings) and 1,000,000 hash-chained audit events. Then
serves a copy of it with ``physioez serve`` and measures, signed in as an owner, the desk's hot
reads:

* patient search by name prefix, phone digits and MRN (``GET /api/v1/patients?q=``)
* the day view of a busy day (``GET /reception/book?day=`` and ``GET /api/v1/appointments``)

against p95 <= 50 ms, and times billing's monthly revenue report for several months (goal
p95 <= 500 ms).
See bench/README.md.

    .venv/bin/python bench/dataset.py [--rebuild] [--requests 300] [--audit-events N]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import (
    MAX_CLIENTS,
    MAX_REQUESTS,
    PASSWORD,
    USERNAME,
    BenchError,
    Client,
    Response,
    Server,
    bench_env,
    check_levels,
    free_port,
    goal_line,
    machine_info,
    machine_load,
    percentile,
    physioez_command,
    print_line,
    run_level,
    run_setup,
    start_server,
    summarise,
    write_config,
    write_report,
)

BUILDER_VERSION = 3  # Bump when the generated data changes shape: old caches are then ignored.
BRANCH = "BR01"
TIMEZONE = "Asia/Kolkata"
RESULTS = Path(__file__).resolve().parent / "results"
MIGRATE_TIMEOUT_S = 120.0
FINISH_TIMEOUT_S = 120.0
VERIFY_TIMEOUT_S = 900.0
WARMUP_REQUESTS = 10
GOAL_READ_P95_MS = 50.0
GOAL_REVENUE_MS = 500.0
REVENUE_RUNS = 5
REVENUE_RECENT_MONTHS = 12
CHUNK = 20_000  # Rows per executemany.

UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_MS = 60_000
DAY_MS = 86_400_000
SLOTS = 20  # Half-hour slots a practitioner works: 09:00-13:00 and 14:00-20:00.
WORK_WEEKDAYS = range(6)  # Monday to Saturday.
SHIFTS = (("09:00", "13:00"), ("14:00", "20:00"))
SHIFT_OPENS = tuple(datetime.strptime(opens, "%H:%M").time() for opens, _ in SHIFTS)
HTML = {"Accept": "text/html"}
DEVICE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@dataclass(frozen=True)
class Params:
    patients: int
    practitioners: int
    appointments: int
    audit_events: int
    years: int
    seed: int

    def key(self) -> str:
        """Names the cache: these parameters, the builder and the app's schema."""
        from physioez.app import all_migrations

        schema = [m.checksum for m in all_migrations()]
        blob = json.dumps(
            {**asdict(self), "builder": BUILDER_VERSION, "schema": schema}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# --- small fast formatters ------------------------------------------------------------------


def utc_text(ms: int) -> str:
    """``%Y-%m-%dT%H:%M:%S.%fZ`` (physioez.core.kernel.models.format_utc) from epoch ms."""
    d = UTC_EPOCH + timedelta(milliseconds=ms)
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:"
        f"{d.second:02d}.{d.microsecond:06d}Z"
    )


def hlc_text(ms: int, counter: int = 0) -> str:
    """HlcTimestamp.encode(): 13-digit wall ms, 5-digit counter, node."""
    return f"{ms:013d}-{counter:05d}-{BRANCH}"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- the generated branch -------------------------------------------------------------------


@dataclass
class Staffer:
    id: str
    username: str
    full_name: str
    role: str
    created_ms: int


class Appt:
    """One appointment and what happened to it, in order (index 0 is the booking)."""

    __slots__ = (
        "end_ms",
        "events",
        "id",
        "patient",
        "practitioner",
        "resources",
        "start_ms",
        "type",
    )

    def __init__(self, practitioner, patient, type_id, resources, start_ms, end_ms):
        self.id = ""
        self.practitioner = practitioner
        self.patient = patient
        self.type = type_id
        self.resources = resources
        self.start_ms = start_ms
        self.end_ms = end_ms
        # (ms, action, changes, actor) with actor a Staffer or None for the system.
        self.events: list[tuple[int, str, dict, Staffer | None]] = []


class Builder:
    def __init__(self, params: Params, now_ms: int):
        from faker import Faker

        from physioez.core.kernel.ids import Uuid7Generator

        self.p = params
        self.rng = random.Random(params.seed)
        self.fake = Faker("en_IN")
        self.fake.seed_instance(params.seed)
        self.zone = ZoneInfo(TIMEZONE)
        self.now_ms = now_ms
        today = (UTC_EPOCH + timedelta(milliseconds=now_ms)).astimezone(self.zone).date()
        self.today = today
        self.first_day = today.replace(year=today.year - params.years, day=min(today.day, 28))
        self.last_day = today + timedelta(days=28)  # Bookings run four weeks ahead.
        self.start_ms = epoch_ms(datetime.combine(self.first_day, datetime.min.time(), self.zone))
        self._gen = Uuid7Generator  # One generator per table: ids follow creation times.
        self.password_hash = ""

    def ids(self) -> Callable[[int], str]:
        gen = self._gen()
        return lambda ms: str(gen.new(ms))

    # staff, practitioners, hours, rooms, types ---------------------------------------------

    def staff(self) -> tuple[list[Staffer], list[Staffer]]:
        new_id = self.ids()
        therapists, desk = [], []
        for n in range(self.p.practitioners):
            ms = self.start_ms - 30 * DAY_MS + n * MINUTE_MS
            name = f"{self.fake.first_name()} {self.fake.last_name()}"
            therapists.append(Staffer(new_id(ms), f"therapist{n + 1:02d}", name, "therapist", ms))
        for n in range(8):
            ms = self.start_ms - 29 * DAY_MS + n * MINUTE_MS
            name = f"{self.fake.first_name()} {self.fake.last_name()}"
            desk.append(Staffer(new_id(ms), f"reception{n + 1:02d}", name, "receptionist", ms))
        return therapists, desk

    def staff_rows(self, people: list[Staffer]) -> Iterator[tuple]:
        for s in people:
            at = utc_text(s.created_ms)
            first = s.full_name.split()[0].lower()
            yield (
                s.id,
                BRANCH,
                hlc_text(s.created_ms),
                1,
                at,
                at,
                None,
                s.username,
                s.full_name,
                f"{first}.{s.username}@branch.physioez.invalid",
                f"+91 9{self.rng.randrange(10**8, 10**9)}",
                json.dumps([s.role]),
                self.password_hash,
                None,
                0,
                1,
                0,
            )

    # patients ------------------------------------------------------------------------------

    def growth_ms(self, count: int, end_ms: int) -> list[int]:
        """``count`` sorted times from the branch's start to ``end_ms``, busier as it grew."""
        span = end_ms - self.start_ms
        # Density rising linearly from 0.4 to 1.6: inverse-CDF sampling of that ramp.
        a, b = 0.4, 1.2
        times = []
        for _ in range(count):
            u = self.rng.random()
            x = (-a + (a * a + 2 * b * u * (a + b / 2)) ** 0.5) / b
            times.append(self.start_ms + int(x * span))
        times.sort()
        return times

    def patients(self) -> tuple[list[tuple], list[int], list[str]]:
        new_id = self.ids()
        created = self.growth_ms(self.p.patients, self.now_ms - DAY_MS)
        rows, ids = [], []
        fake, rng = self.fake, self.rng
        streets = [fake.street_name() for _ in range(400)]
        cities = [fake.city() for _ in range(60)]
        referrals = ["", "", "", "walk-in", "doctor", "google", "friend", "insurer"]
        for n, ms in enumerate(created, start=1):
            sex = "female" if rng.random() < 0.52 else "male"
            first = fake.first_name_female() if sex == "female" else fake.first_name_male()
            last = fake.last_name()
            born = date(
                self.today.year - rng.randint(4, 88), rng.randint(1, 12), rng.randint(1, 28)
            )
            key = f"{rng.choice('6789')}{rng.randrange(10**8, 10**9)}"
            phone = f"+91 {key[:5]} {key[5:]}"
            at = utc_text(ms)
            patient_id = new_id(ms)
            snapshot = {
                "id": patient_id,
                "origin_branch": BRANCH,
                "hlc": hlc_text(ms),
                "version": 1,
                "created_at": at,
                "updated_at": at,
                "deleted_at": None,
                "mrn": f"{BRANCH}-{n:06d}",
                "first_name": first,
                "last_name": last,
                "sex": sex,
                "date_of_birth": born.isoformat(),
                "dob_estimated": rng.random() < 0.05,
                "phone": phone,
                "phone_key": key,
                "phone_alt": "",
                "email": f"{first}.{last}{n % 97}@mail.example.in".lower()
                if rng.random() < 0.35
                else "",
                "address": f"{rng.randint(1, 400)}, {rng.choice(streets)}, {rng.choice(cities)}",
                "emergency_name": "",
                "emergency_phone": "",
                "emergency_relation": "",
                "referral_source": rng.choice(referrals),
                "referring_doctor": "",
                "alerts": ["Diabetic"] if rng.random() < 0.04 else [],
                "merged_into": None,
            }
            rows.append(snapshot)
            ids.append(patient_id)
        return rows, created, ids

    # appointments --------------------------------------------------------------------------

    def day_counts(self, days: list[date]) -> list[int]:
        """Appointments per working day, summing to the total, rising with the years."""
        total = self.p.appointments
        n = len(days)
        # The book fills up as a day comes near: days ahead are only partly booked yet.
        weights = [
            (0.4 + 1.2 * i / max(1, n - 1)) * max(0.1, min(1.0, 1 - (d - self.today).days / 28))
            for i, d in enumerate(days)
        ]
        scale = total / sum(weights)
        capacity = self.p.practitioners * SLOTS // 2  # Half the book: a busy but real day.
        counts, carry = [], 0.0
        for w in weights:
            carry += w * scale
            c = min(capacity, int(carry))
            carry -= c
            counts.append(c)
        short = total - sum(counts)
        i = n - 1
        while short > 0 and i >= 0:  # Top up the latest days (capacity permitting).
            room = capacity - counts[i]
            add = min(room, short)
            counts[i] += add
            short -= add
            i -= 1
        if short > 0:
            raise BenchError("too many appointments for the practitioners and years asked")
        return counts

    def appointments(
        self,
        practitioners: list[str],
        desk: list[Staffer],
        types: dict[str, tuple[int, list[str]]],
        patient_created: list[int],
        patient_ids: list[str],
    ) -> list[Appt]:
        rng = self.rng
        days = []
        day = self.first_day
        while day <= self.last_day:
            if day.weekday() in WORK_WEEKDAYS:
                days.append(day)
            day += timedelta(days=1)
        counts = self.day_counts(days)
        session, assessment, gym = "session", "assessment", "gym"
        appts: list[Appt] = []
        cells = list(range(len(practitioners) * SLOTS))
        first_patient_ms = patient_created[0]
        for day, count in zip(days, counts, strict=True):
            if not count:
                continue
            base = {
                shift: epoch_ms(
                    datetime.combine(
                        day, datetime.strptime(SHIFTS[shift][0], "%H:%M").time(), self.zone
                    )
                )
                for shift in (0, 1)
            }
            rng.shuffle(cells)
            taken: set[int] = set()
            gym_use: dict[int, int] = {}
            used_patients: set[int] = set()
            placed = 0
            for cell in cells:
                if placed == count:
                    break
                if cell in taken:
                    continue
                practitioner, slot = divmod(cell, SLOTS)
                shift, offset = (0, slot) if slot < 8 else (1, slot - 8)
                start_ms = base[shift] + offset * 30 * MINUTE_MS
                roll = rng.random()
                kind = session
                if roll < 0.12 and slot not in (7, SLOTS - 1) and cell + 1 not in taken:
                    kind = assessment
                    taken.add(cell + 1)
                elif roll < 0.24 and gym_use.get(slot, 0) < 6:
                    kind = gym
                    gym_use[slot] = gym_use.get(slot, 0) + 1
                taken.add(cell)
                minutes, resources = types[kind]
                end_ms = start_ms + minutes * MINUTE_MS
                # Booked some days ahead (never in the future), by a patient registered then.
                lead = min(int(rng.expovariate(1 / 3)), 30) * DAY_MS + rng.randrange(8 * 3600_000)
                booked_ms = min(start_ms - lead, self.now_ms - rng.randrange(60_000, 7_200_000))
                booked_ms = max(booked_ms, first_patient_ms + 1000)
                registered = bisect.bisect_right(patient_created, booked_ms)
                patient = -1
                for _ in range(20):
                    if rng.random() < 0.75:  # Mostly patients in an episode of care.
                        pick = registered - 1 - min(int(rng.expovariate(1 / 150)), registered - 1)
                    else:
                        pick = rng.randrange(registered)
                    if pick not in used_patients:
                        patient = pick
                        break
                if patient < 0:
                    continue
                used_patients.add(patient)
                placed += 1
                appt = Appt(
                    practitioners[practitioner],
                    patient_ids[patient],
                    kind,
                    resources,
                    start_ms,
                    end_ms,
                )
                clerk = rng.choice(desk)
                appt.events.append((booked_ms, "create", {}, clerk))
                self.lifecycle(appt, booked_ms, rng.choice(desk))
                appts.append(appt)
        appts.sort(key=lambda a: a.events[0][0])
        new_id = self.ids()
        for appt in appts:
            appt.id = new_id(appt.events[0][0])
        return appts

    def lifecycle(self, appt: Appt, booked_ms: int, clerk: Staffer) -> None:
        """What happened after the booking, up to the time of the build (never later)."""
        rng, now = self.rng, self.now_ms
        start, end = appt.start_ms, appt.end_ms
        events = appt.events

        def status(ms: int, name: str, actor: Staffer | None, stamp: str = "", **extra) -> bool:
            ms = max(ms, events[-1][0] + 1000)
            if ms > now:
                return False
            changes = {
                "status": name,
                "status_changed_at": utc_text(ms),
                "status_changed_by": actor.id if actor else None,
                **extra,
            }
            if stamp:
                changes[stamp] = utc_text(ms)
            events.append((ms, name, changes, actor))
            return True

        roll = rng.random()
        if start > now:  # Still to come.
            if roll < 0.08:
                cancel_ms = booked_ms + int(rng.random() * (now - booked_ms))
                status(cancel_ms, "cancelled", clerk, **self.cancel_fields(cancel_ms, start))
            elif roll < 0.3:
                status(start - DAY_MS, "confirmed", clerk)
            return
        if roll < 0.09:
            cancel_ms = booked_ms + int(rng.random() * (start - booked_ms))
            status(cancel_ms, "cancelled", clerk, **self.cancel_fields(cancel_ms, start))
            return
        if roll < 0.15:
            status(start + 11 * 3600_000, "no_show", None)  # The day-end job, at night.
            return
        if roll < 0.35 and start - DAY_MS > booked_ms:
            status(start - DAY_MS + rng.randrange(3600_000), "confirmed", clerk)
        arrived = start - rng.randrange(1, 15) * MINUTE_MS
        if not status(arrived, "arrived", clerk, "arrived_at"):
            return
        began = start + rng.randrange(0, 5) * MINUTE_MS
        if not status(began, "in_session", clerk, "started_at"):
            return
        status(end + rng.randrange(0, 5) * MINUTE_MS, "completed", clerk, "completed_at")

    @staticmethod
    def cancel_fields(cancel_ms: int, start_ms: int) -> dict:
        return {
            "cancel_reason": "Patient asked to cancel",
            "late_cancel": start_ms - cancel_ms < 24 * 3600_000,
        }


def appointment_states(appt: Appt) -> list[dict]:
    """The row as snapshotted after each of its events (records.create / update)."""
    ms = appt.events[0][0]
    at = utc_text(ms)
    state = {
        "id": appt.id,
        "origin_branch": BRANCH,
        "hlc": hlc_text(ms),
        "version": 1,
        "created_at": at,
        "updated_at": at,
        "deleted_at": None,
        "patient": appt.patient,
        "practitioner": appt.practitioner,
        "type": appt.type,
        "start_at": utc_text(appt.start_ms),
        "end_at": utc_text(appt.end_ms),
        "status": "booked",
        "resource_ids": list(appt.resources),
        "class_id": None,
        "series": None,
        "series_index": None,
        "notes": "",
        "override_reason": "",
        "cancel_reason": "",
        "late_cancel": False,
        "status_changed_at": None,
        "status_changed_by": None,
        "arrived_at": None,
        "started_at": None,
        "completed_at": None,
    }
    states = [state]
    for version, (ms, _, changes, _) in enumerate(appt.events[1:], start=2):
        state = {**state, **changes}
        state["version"] = version
        state["updated_at"] = utc_text(ms)
        state["hlc"] = hlc_text(ms)
        states.append(state)
    return states


APPOINTMENT_COLUMNS = (
    "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, patient_id, "
    "practitioner_id, type_id, start_at, end_at, status, resource_ids, class_id, series_id, "
    "series_index, notes, override_reason, cancel_reason, late_cancel, status_changed_at, "
    "status_changed_by, arrived_at, started_at, completed_at"
)


def appointment_row(s: dict) -> tuple:
    return (
        s["id"],
        s["origin_branch"],
        s["hlc"],
        s["version"],
        s["created_at"],
        s["updated_at"],
        None,
        s["patient"],
        s["practitioner"],
        s["type"],
        s["start_at"],
        s["end_at"],
        s["status"],
        json.dumps(s["resource_ids"]),
        None,
        None,
        None,
        "",
        "",
        s["cancel_reason"],
        int(s["late_cancel"]),
        s["status_changed_at"],
        s["status_changed_by"],
        s["arrived_at"],
        s["started_at"],
        s["completed_at"],
    )


PATIENT_COLUMNS = (
    "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, mrn, first_name, "
    "last_name, sex, date_of_birth, dob_estimated, phone, phone_key, phone_alt, email, address, "
    "emergency_name, emergency_phone, emergency_relation, referral_source, referring_doctor, "
    "alerts, merged_into"
)


def patient_row(s: dict) -> tuple:
    return (
        s["id"],
        s["origin_branch"],
        s["hlc"],
        1,
        s["created_at"],
        s["updated_at"],
        None,
        s["mrn"],
        s["first_name"],
        s["last_name"],
        s["sex"],
        s["date_of_birth"],
        int(s["dob_estimated"]),
        s["phone"],
        s["phone_key"],
        "",
        s["email"],
        s["address"],
        "",
        "",
        "",
        s["referral_source"],
        "",
        json.dumps(s["alerts"]),
        None,
    )


# --- ten years of billing ------------------------------------------------------------------

CURRENCY = "INR"
PRICE_RISE = 0.06  # every April, on the whole price list
SENIOR_PRICE = 0.75  # of the standard price, for sessions and gym rehab
SENIOR_AGE = 60
# code, name, kind, first year's price (paise), tax (basis points), SAC/HSN
BILLING_SERVICES = (
    ("PT30", "Physiotherapy session (30 min)", "service", 45000, 0, "999314"),
    ("PA60", "Initial assessment (60 min)", "service", 90000, 0, "999314"),
    ("GR30", "Gym rehab (30 min)", "service", 35000, 0, "999314"),
    ("TAPE", "Kinesiology tape", "product", 30000, 1200, "3005"),
    ("BAND", "Resistance band", "product", 25000, 1800, "9506"),
    ("KNEE", "Knee brace", "product", 70000, 1200, "9021"),
)
SENIOR_CODES = ("PT30", "GR30")
PRODUCT_CODES = ("TAPE", "BAND", "KNEE")
REPLICATED = "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, "
# Parents before children: the foreign keys are checked as rows go in.
BILLING_COLUMNS = {
    "billing_service": REPLICATED + "code, name, kind, tax_rate_bp, tax_code, active, "
    "package_service_code, package_sessions, package_validity_days",
    "billing_price": REPLICATED + "service_id, category, amount, valid_from",
    "patient_category": REPLICATED + "patient_id, category",
    "invoice": REPLICATED + "kind, number, fiscal_year, patient_id, issued_at, business_day, "
    "currency, lines, subtotal, discount_total, discount_reason, tax_total, total, visit_ids, "
    "cancels_id, reason, issued_by",
    "payment": REPLICATED + "kind, number, fiscal_year, patient_id, received_at, business_day, "
    "tenders, amount, currency, notes, received_by",
    "settlement": REPLICATED + "invoice_id, kind, amount, payment_id, credit_note_id, reason, "
    "business_day",
    "billing_visit": REPLICATED + "appointment_id, patient_id, practitioner_id, service_code, "
    "attended_at, business_day, invoice_id, package_use_id",
    "journal_entry": REPLICATED + "posted_at, business_day, kind, ref_id, memo, lines",
    "journal_line": "entry_id, line_no, account, patient_id, debit, credit, business_day",
    "billing_number_series": "series, fiscal_year, last_number",
}
BILLING_TABLES = tuple(BILLING_COLUMNS)


_last_text = [-1, ""]


def utc_text_again(ms: int) -> str:
    """``utc_text``, remembering the last answer: a document's rows share their time."""
    if _last_text[0] != ms:
        _last_text[:] = [ms, utc_text(ms)]
    return _last_text[1]


def replicated(row_id: str, ms: int, version: int = 1, created_ms: int | None = None) -> tuple:
    """The columns every replicated row starts with (core.kernel.migrations.REPLICATED_COLUMNS)."""
    at = utc_text_again(ms)
    created = at if created_ms is None else utc_text(created_ms)
    return (row_id, BRANCH, hlc_text(ms), version, created, at, None)


class Doc:
    """One billing document or settlement in time, made into rows once all are sorted."""

    __slots__ = ("data", "id", "kind", "ms")

    def __init__(self, ms: int, kind: str, **data):
        self.ms = ms
        self.kind = kind
        self.data = data
        self.id = ""


class BillingHistory:
    """Ten years of the accounts desk behind the book: every completed appointment checked out.

    Each attended session becomes a visit and an invoice (a product now and then, a discount
    rarely, the senior price for patients of 60 and over), paid at the desk in the modes of its
    years (cash giving way to UPI), some in part or later, a few never (half written off after
    four months, or still owed); now and then an invoice is cancelled by a credit note and
    issued again. Rows, numbers and ledger postings are what billing's services write for the
    same events (``physioez.billing.services``), without their audit events and outbox rows.
    """

    def __init__(self, b: Builder):
        from physioez.billing.services import ledger, numbering
        from physioez.core.kernel.canonical import canonical_json
        from physioez.core.kernel.money import percent_of
        from physioez.demo.billing_desk import tender_reference

        self.b = b
        self.rng = random.Random(b.p.seed + 7)
        self.ledger, self.numbering = ledger, numbering
        self.json, self.percent_of = canonical_json, percent_of
        self.reference = tender_reference  # references written as the demo's desk writes them
        offset = b.zone.utcoffset(datetime(2020, 1, 1))
        self.offset_ms = int(offset.total_seconds() * 1000)  # the branch zone keeps no DST
        self._days: dict[int, date] = {}
        self.rows: dict[str, list[tuple]] = {table: [] for table in BILLING_TABLES}
        self.facts: Counter[str] = Counter()
        self.prices: dict[tuple[str, str, int], int] = {}
        self.services: dict[str, tuple] = {}

    def ids(self) -> Callable[[int], str]:
        """Like ``Builder.ids``, with the seeded generator's bytes instead of os.urandom."""
        from physioez.core.kernel.ids import Uuid7Generator

        gen = Uuid7Generator(random_bytes=self.rng.randbytes)
        return lambda ms: str(gen.new(ms))

    def day_of(self, ms: int) -> date:
        key = (ms + self.offset_ms) // DAY_MS
        day = self._days.get(key)
        if day is None:
            day = self._days[key] = date(1970, 1, 1) + timedelta(days=key)
        return day

    def fiscal(self, day: date) -> int:
        return self.numbering.fiscal_year(day, 4)

    # the price list and the seniors ---------------------------------------------------------

    def price_list(self) -> None:
        """Every service with a price per fiscal year (6 % more each April), seniors' too."""
        b = self.b
        ms = b.start_ms - 27 * DAY_MS
        new_id, price_id = self.ids(), self.ids()
        first_year = self.fiscal(b.first_day)
        for code, name, kind, base, tax_bp, tax_code in BILLING_SERVICES:
            service_id = new_id(ms)
            self.services[code] = (name, kind, tax_bp, tax_code)
            service = (code, name, kind, tax_bp, tax_code, 1, "", 0, 0)
            self.rows["billing_service"].append((*replicated(service_id, ms), *service))
            for year in range(first_year, self.fiscal(b.last_day) + 1):
                amount = round(base * (1 + PRICE_RISE) ** (year - first_year) / 1000) * 1000
                categories = [("", amount)]
                if code in SENIOR_CODES:
                    categories.append(("senior", round(amount * SENIOR_PRICE / 1000) * 1000))
                starts = max(b.first_day, date(year, 4, 1))
                # Set a month ahead of the April it starts in.
                set_ms = max(ms, epoch_ms(datetime.combine(starts, TEN_AM, b.zone)) - 30 * DAY_MS)
                for category, price in categories:
                    self.prices[(code, category, year)] = price
                    row = (service_id, category, price, starts.isoformat())
                    self.rows["billing_price"].append((*replicated(price_id(set_ms), set_ms), *row))

    def seniors(self, patients: list[dict], created: list[int]) -> set[str]:
        """Patients of 60 and over are billed in the ``senior`` category from registration."""
        new_id = self.ids()
        today = self.b.today
        seniors = set()
        for snapshot, ms in zip(patients, created, strict=True):
            born = date.fromisoformat(snapshot["date_of_birth"])
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            if age >= SENIOR_AGE:
                seniors.add(snapshot["id"])
                row = (snapshot["id"], "senior")
                self.rows["patient_category"].append((*replicated(new_id(ms + 1), ms + 1), *row))
        return seniors

    # what happened at the desk, in time order -----------------------------------------------

    def plan(self, appts: list[Appt], codes: dict[str, str], seniors: set[str]) -> list[Doc]:
        """Visits for the completed appointments, and the documents that followed them."""
        rng, b = self.rng, self.b
        done = [a for a in appts if a.events[-1][1] == "completed"]
        done.sort(key=lambda a: a.events[-1][0])
        visit_id = self.ids()
        docs: list[Doc] = []
        span = max(1, b.now_ms - b.start_ms)
        for appt in done:
            attended, _, _, clerk = appt.events[-1]
            day = self.day_of(attended)
            code = codes[appt.type]
            visit = {
                "id": visit_id(attended),
                "appointment": appt.id,
                "patient": appt.patient,
                "practitioner": appt.practitioner,
                "code": code,
                "ms": attended,
                "day": day,
                "invoice": None,
                "version": 1,
                "updated": attended,
            }
            self.facts["visits"] += 1
            year = self.fiscal(day)
            category = "senior" if appt.patient in seniors and code in SENIOR_CODES else ""
            lines = [self.line(code, year, category, visit["id"], appt.practitioner)]
            if rng.random() < 0.07:
                lines.append(self.line(rng.choice(PRODUCT_CODES), year, "", None, None))
            discount, reason = 0, ""
            if len(lines) == 1 and rng.random() < 0.03:
                discount = lines[0]["gross"] // 10
                reason = rng.choice(("Corporate tie-up", "Staff family", "Hardship"))
            self.finish(lines, discount)
            total = sum(line["total"] for line in lines)
            ms = attended + rng.randrange(60_000, 600_000)
            sale = {"visit": visit, "lines": lines, "reason": reason, "total": total}
            invoice = Doc(ms, "invoice", clerk=clerk, **sale)
            docs.append(invoice)
            share = (attended - b.start_ms) / span  # 0 at the branch's start, 1 now
            pay = []  # (when, amount, invoice)

            roll = rng.random()
            if roll < 0.002:  # The wrong invoice: cancelled by a credit note, issued again.
                docs.append(Doc(ms + 60_000, "credit_note", invoice=invoice, clerk=clerk))
                again = Doc(ms + 120_000, "invoice", clerk=clerk, **sale)
                docs.append(again)
                pay.append((ms + 180_000, total, again))
            elif roll < 0.006:  # Never paid: half written off after four months, or still owed.
                later = attended + 120 * DAY_MS
                if later < b.now_ms and rng.random() < 0.5:
                    docs.append(Doc(later, "write_off", invoice=invoice, amount=total // 2))
            elif roll < 0.021:  # Paid at a later visit.
                later = attended + rng.randint(3, 60) * DAY_MS
                if later < b.now_ms:
                    pay.append((later, total, invoice))
            elif roll < 0.051:  # Part now, the rest later.
                part = total // 2 // 10000 * 10000 or total
                pay.append((ms + 60_000, part, invoice))
                later = attended + rng.randint(1, 40) * DAY_MS
                if part < total and later < b.now_ms:
                    pay.append((later, total - part, invoice))
            else:
                pay.append((ms + 60_000, total, invoice))
            docs.extend(self.payment(at, of, amount, share, clerk) for at, amount, of in pay)
        docs.sort(key=lambda d: d.ms)
        return docs

    def line(self, code, year, category, visit_id, practitioner) -> dict:
        """An invoice line as invoicing._price_lines writes it (quantity 1)."""
        name, kind, tax_bp, tax_code = self.services[code]
        price = self.prices.get((code, category, year)) or self.prices[(code, "", year)]
        return {
            "service_code": code,
            "description": name,
            "kind": kind,
            "tax_code": tax_code,
            "tax_rate_bp": tax_bp,
            "quantity": 1,
            "unit_price": price,
            "concession": category if (code, category, year) in self.prices else "",
            "gross": price,
            "visit_id": visit_id,
            "practitioner_id": practitioner,
        }

    def finish(self, lines: list[dict], discount: int) -> None:
        """Discount (on a one-line invoice only), tax and total, as invoicing._finish_lines."""
        for n, line in enumerate(lines):
            line["discount"] = discount if n == 0 else 0
            line["taxable"] = line["gross"] - line["discount"]
            line["tax"] = self.percent_of(line["taxable"], line["tax_rate_bp"])
            line["total"] = line["taxable"] + line["tax"]

    def payment(self, ms: int, invoice: Doc, amount: int, share: float, clerk) -> Doc:
        rng = self.rng
        # Cash gives way to UPI over the years; cards, bank transfers and insurers stay.
        weights = (65 - 45 * share, 5 + 50 * share, 17, 3, 5)
        mode = rng.choices(("cash", "upi", "card", "bank", "insurance"), weights=weights)[0]
        day = self.day_of(ms)
        if amount >= 20000 and rng.random() < 0.04:  # Split: half in cash, the rest by UPI.
            cash = amount // 2 // 10000 * 10000
            tenders = [self.tender("cash", cash, day), self.tender("upi", amount - cash, day)]
        else:
            tenders = [self.tender(mode, amount, day)]
        return Doc(ms, "payment", invoice=invoice, tenders=tenders, clerk=clerk)

    def tender(self, mode: str, amount: int, day: date) -> dict:
        return {"mode": mode, "amount": amount, "reference": self.reference(self.rng, mode, day)}

    # the rows ---------------------------------------------------------------------------------

    def build_rows(self, docs: list[Doc]) -> None:
        """Number, settle and post the documents in time order, as the services would have."""
        ledger = self.ledger
        ids = {kind: self.ids() for kind in ("invoice", "payment", "settlement", "entry")}
        self.series: dict[tuple[str, int], int] = {}
        self.owing: dict[str, int] = {}
        visits: dict[str, dict] = {}
        for doc in docs:
            ms, data = doc.ms, doc.data
            day = self.day_of(ms)
            if doc.kind in ("invoice", "credit_note"):
                sale = data if doc.kind == "invoice" else data["invoice"].data
                visit, lines, total = sale["visit"], sale["lines"], sale["total"]
                patient = visit["patient"]
                doc.id = ids["invoice"](ms)
                number, year = self.number(doc.kind, day)
                sign = 1 if doc.kind == "invoice" else -1
                cancels = None if sign > 0 else data["invoice"].id
                self.rows["invoice"].append(
                    (
                        *replicated(doc.id, ms),
                        doc.kind,
                        number,
                        year,
                        patient,
                        utc_text_again(ms),
                        day.isoformat(),
                        CURRENCY,
                        self.json(lines),
                        sum(x["gross"] for x in lines),
                        sum(x["discount"] for x in lines),
                        sale["reason"] if sign > 0 else "",
                        sum(x["tax"] for x in lines),
                        total,
                        self.json([visit["id"]] if sign > 0 else []),
                        cancels,
                        "" if sign > 0 else "Billed the wrong service; issued again.",
                        data["clerk"].id,
                    )
                )
                # Dr the patient's dues, Cr revenue and tax; a credit note the other way.
                postings = [(ledger.RECEIVABLE, total, patient)]
                for x in lines:
                    revenue = ledger.REVENUE_PRODUCTS if x["kind"] == "product" else None
                    postings.append((revenue or ledger.REVENUE_SERVICES, -x["taxable"], None))
                    postings.append((ledger.TAX_PAYABLE, -x["tax"], None))
                self.post(ids["entry"], ms, day, doc.kind, doc.id, number, postings, sign)
                visit["version"] += 1
                visit["updated"] = ms
                if sign > 0:
                    self.owing[doc.id] = total
                    visit["invoice"] = doc.id
                    visits[visit["id"]] = visit
                    self.facts["invoices"] += 1
                else:  # Nothing was paid on it: the credit note settles all it owed.
                    self.settle(
                        ids, ms, day, cancels, "credit_note", self.owing[cancels], note=doc.id
                    )
                    visit["invoice"] = None
                    self.facts["credit_notes"] += 1
            elif doc.kind == "payment":
                invoice: Doc = data["invoice"]
                patient = invoice.data["visit"]["patient"]
                tenders = data["tenders"]
                amount = sum(t["amount"] for t in tenders)
                doc.id = ids["payment"](ms)
                number, year = self.number("receipt", day)
                self.rows["payment"].append(
                    (
                        *replicated(doc.id, ms),
                        "payment",
                        number,
                        year,
                        patient,
                        utc_text_again(ms),
                        day.isoformat(),
                        self.json(tenders),
                        amount,
                        CURRENCY,
                        "",
                        data["clerk"].id,
                    )
                )
                applied = min(amount, self.owing[invoice.id])
                self.settle(ids, ms, day, invoice.id, "payment", applied, payment=doc.id)
                self.facts["receipts"] += 1
                postings = [(ledger.MODE_ACCOUNTS[t["mode"]], t["amount"], None) for t in tenders]
                postings.append((ledger.RECEIVABLE, -applied, patient))
                postings.append((ledger.PATIENT_CREDIT, applied - amount, patient))
                self.post(ids["entry"], ms, day, "payment", doc.id, number, postings)
            else:  # write_off
                invoice = data["invoice"]
                patient = invoice.data["visit"]["patient"]
                reason = "Unreachable for four months; half written off."
                settled = self.settle(ids, ms, day, invoice.id, "write_off", data["amount"], reason)
                postings = [
                    (ledger.BAD_DEBTS, data["amount"], None),
                    (ledger.RECEIVABLE, -data["amount"], patient),
                ]
                self.post(ids["entry"], ms, day, "write_off", settled, reason, postings)
                self.facts["write_offs"] += 1
        for visit in sorted(visits.values(), key=lambda v: v["ms"]):
            meta = replicated(visit["id"], visit["updated"], visit["version"], visit["ms"])
            row = (visit["appointment"], visit["patient"], visit["practitioner"], visit["code"])
            row += (meta[4], visit["day"].isoformat(), visit["invoice"], None)  # attended_at
            self.rows["billing_visit"].append((*meta, *row))
        self.rows["billing_number_series"] = [
            (kind, year, last) for (kind, year), last in sorted(self.series.items())
        ]
        self.facts["invoices_owing"] = sum(1 for left in self.owing.values() if left > 0)

    def number(self, series: str, day: date) -> tuple[str, int]:
        """The next gap-free number of ``series`` in the fiscal year of ``day`` (numbering)."""
        year = self.fiscal(day)
        n = self.series[(series, year)] = self.series.get((series, year), 0) + 1
        label = self.numbering.fiscal_label(year, 4)
        return f"{BRANCH}/{self.numbering.PREFIXES[series]}{label}/{n:05d}", year

    def settle(self, ids, ms, day, invoice, kind, amount, reason="", payment=None, note=None):
        settlement = ids["settlement"](ms)
        row = (invoice, kind, amount, payment, note, reason, day.isoformat())
        self.rows["settlement"].append((*replicated(settlement, ms), *row))
        self.owing[invoice] -= amount
        return settlement

    def post(self, new_id, ms, day, kind, ref, memo, postings, sign: int = 1) -> None:
        """One journal entry (ledger.post): signed amounts, positive = debit; zeros dropped."""
        lines, texts = [], []
        for account, amount, patient in postings:
            amount *= sign
            if amount:
                debit, credit = (amount, 0) if amount > 0 else (0, -amount)
                lines.append((account, patient, debit, credit))
                # canonical_json of the line (sorted keys, no spaces), written out directly:
                # accounts and ids are plain ASCII.
                who = "null" if patient is None else f'"{patient}"'
                texts.append(
                    f'{{"account":"{account}","credit":{credit},"debit":{debit},'
                    f'"patient_id":{who}}}'
                )
        entry = new_id(ms)
        text = ",".join(texts)
        row = (utc_text_again(ms), day.isoformat(), kind, ref, memo, f"[{text}]")
        self.rows["journal_entry"].append((*replicated(entry, ms), *row))
        for n, line in enumerate(lines, start=1):
            self.rows["journal_line"].append((entry, n, *line, day.isoformat()))


TEN_AM = datetime.min.time().replace(hour=10)


# --- the bulk build -------------------------------------------------------------------------


def check_books(conn) -> dict:
    """The generated books must hold as the services keep them: balanced, dues = receivable."""
    debits, credits = conn.execute("SELECT SUM(debit), SUM(credit) FROM journal_line").fetchone()
    receivable = conn.execute(
        "SELECT SUM(debit - credit) FROM journal_line WHERE account = 'patient_receivable'"
    ).fetchone()[0]
    dues = conn.execute(
        "SELECT SUM(i.total - COALESCE(s.settled, 0)) FROM invoice i LEFT JOIN (SELECT "
        "invoice_id, SUM(amount) AS settled FROM settlement GROUP BY invoice_id) s "
        "ON s.invoice_id = i.id WHERE i.kind = 'invoice'"
    ).fetchone()[0]
    if debits != credits or receivable != dues:
        raise BenchError(
            f"generated books do not hold: debits {debits} credits {credits}, "
            f"receivable {receivable} dues {dues}"
        )
    return {"ledger_total": debits, "dues_total": dues}


def bulk_insert(db_path: Path, params: Params, log: Callable[[str], None]) -> dict:
    """Fill a freshly migrated database in one transaction; returns facts about it."""
    import apsw

    from physioez.core.kernel import identity
    from physioez.core.kernel.audit import GENESIS_HASH, _event_hash
    from physioez.core.kernel.canonical import canonical_json

    now_ms = (int(time.time()) // 60) * 60_000
    b = Builder(params, now_ms)
    identity.configure_hashing("interactive")
    b.password_hash = identity.hash_secret(os.urandom(16).hex())  # Bulk staff never sign in.
    started = time.perf_counter()

    conn = apsw.Connection(str(db_path))
    for pragma in (
        "PRAGMA journal_mode=OFF",
        "PRAGMA synchronous=OFF",
        "PRAGMA cache_size=-1000000",
        "PRAGMA temp_store=MEMORY",
        "PRAGMA foreign_keys=ON",
    ):
        conn.execute(pragma).fetchall()

    def insert(table: str, columns: str, rows) -> int:
        marks = ",".join("?" * (columns.count(",") + 1))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - fixed names
        count, batch = 0, []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                conn.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            conn.executemany(sql, batch)
            count += len(batch)
        return count

    staff_columns = (
        "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, username, "
        "full_name, email, phone, role_codes, password_hash, pin_hash, must_change_password, "
        "active, session_epoch"
    )
    facts: dict = {"now_utc": utc_text(now_ms), "first_day": b.first_day.isoformat()}
    with conn:
        therapists, desk = b.staff()
        insert("staff", staff_columns, b.staff_rows(therapists + desk))
        new_id = b.ids()
        colours = ["#0f766e", "#2563eb", "#9333ea", "#c2410c", "#be123c", "#4d7c0f"]
        practitioner_ids = []
        rule_rows = []
        practitioner_rows = []
        for n, s in enumerate(therapists):
            pid = new_id(s.created_ms + 1)
            practitioner_ids.append(pid)
            at = utc_text(s.created_ms + 1)
            practitioner_rows.append(
                (
                    pid,
                    BRANCH,
                    hlc_text(s.created_ms + 1),
                    1,
                    at,
                    at,
                    None,
                    s.id,
                    f"Dr {s.full_name}",
                    colours[n % len(colours)],
                    1,
                )
            )
        insert(
            "practitioner",
            "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, staff_id, "
            "display_name, colour, active",
            practitioner_rows,
        )
        for n, s in enumerate(therapists):
            for weekday in WORK_WEEKDAYS:
                for shift_start, shift_end in SHIFTS:
                    ms = s.created_ms + 2 + weekday
                    at = utc_text(ms)
                    rule_rows.append(
                        (
                            new_id(ms),
                            BRANCH,
                            hlc_text(ms),
                            1,
                            at,
                            at,
                            None,
                            practitioner_ids[n],
                            weekday,
                            shift_start,
                            shift_end,
                            None,
                            None,
                        )
                    )
        insert(
            "availability_rule",
            "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, "
            "practitioner_id, weekday, start_time, end_time, valid_from, valid_until",
            rule_rows,
        )
        ms = b.start_ms - 28 * DAY_MS
        at = utc_text(ms)
        gym_id = new_id(ms)
        rooms = [(gym_id, "room", "Gym", 6)] + [
            (new_id(ms), "room", f"Room {n}", 1) for n in range(1, 5)
        ]
        insert(
            "resource",
            "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, kind, name, "
            "capacity, active",
            [(r[0], BRANCH, hlc_text(ms), 1, at, at, None, r[1], r[2], r[3], 1) for r in rooms],
        )
        type_specs = {
            "session": ("Physiotherapy session", 30, "PT30", [], "#2563eb"),
            "assessment": ("Initial assessment", 60, "PA60", [], "#9333ea"),
            "gym": ("Gym rehab", 30, "GR30", [gym_id], "#0f766e"),
        }
        type_ids = {key: new_id(ms) for key in type_specs}
        insert(
            "appointment_type",
            "id, origin_branch, hlc, version, created_at, updated_at, deleted_at, name, "
            "duration_minutes, service_code, colour, group_capacity, resource_ids, active",
            [
                (
                    type_ids[k],
                    BRANCH,
                    hlc_text(ms),
                    1,
                    at,
                    at,
                    None,
                    name,
                    minutes,
                    code,
                    colour,
                    1,
                    json.dumps(res),
                    1,
                )
                for k, (name, minutes, code, res, colour) in type_specs.items()
            ],
        )
        types = {k: (spec[1], spec[3]) for k, spec in type_specs.items()}
        log("  staff, practitioners, hours, rooms, types done")

        patients, patient_created, patient_ids = b.patients()
        log(f"  {len(patients)} patients generated ({time.perf_counter() - started:.1f} s)")
        facts["patients"] = insert("patient", PATIENT_COLUMNS, (patient_row(s) for s in patients))
        conn.execute(
            "INSERT INTO mrn_sequence (branch, last_number) VALUES (?, ?)", (BRANCH, len(patients))
        )
        log(f"  patients inserted, FTS index filled ({time.perf_counter() - started:.1f} s)")

        appts = b.appointments(practitioner_ids, desk, types, patient_created, patient_ids)
        for appt in appts:
            appt.type = type_ids[appt.type]
        log(f"  {len(appts)} appointments generated ({time.perf_counter() - started:.1f} s)")
        facts["appointments"] = insert(
            "appointment",
            APPOINTMENT_COLUMNS,
            (appointment_row(appointment_states(a)[-1]) for a in appts),
        )
        log(f"  appointments inserted ({time.perf_counter() - started:.1f} s)")

        billing = BillingHistory(b)
        billing.price_list()
        seniors = billing.seniors(patients, patient_created)
        codes = {type_ids[key]: spec[2] for key, spec in type_specs.items()}
        billing.build_rows(billing.plan(appts, codes, seniors))
        log(f"  ten years of billing generated ({time.perf_counter() - started:.1f} s)")
        for table in BILLING_TABLES:
            facts[f"rows_{table}"] = insert(table, BILLING_COLUMNS[table], billing.rows[table])
            billing.rows[table] = []
        facts.update(billing.facts)
        facts.update(check_books(conn))
        log(
            f"  billing inserted: {facts['invoices']} invoices, {facts['receipts']} receipts, "
            f"{facts['rows_journal_line']} journal lines ({time.perf_counter() - started:.1f} s)"
        )

        # The audit chain: every creation and status change above, plus the staff's daily
        # sign-ins, in time order. Only the newest ``audit_events`` are kept (as if the
        # branch had started auditing later) or sign-ins are added up to that number.
        rng = b.rng
        staff_all = therapists + desk
        events: list[tuple[int, int, int, int]] = [
            (ms, 0, n, 0) for n, ms in enumerate(patient_created)
        ]
        for n, appt in enumerate(appts):
            for k, event in enumerate(appt.events):
                events.append((event[0], 1, n, k))
        day = b.first_day
        while day <= b.today:
            if day.weekday() in WORK_WEEKDAYS:
                morning = epoch_ms(datetime.combine(day, datetime.min.time(), b.zone))
                for n in range(len(therapists)):
                    events.append((morning + 8 * 3600_000 + rng.randrange(3600_000), 2, n, 0))
                for n in rng.sample(range(len(desk)), 3):
                    events.append((morning + 8 * 3600_000 + rng.randrange(3600_000), 2, -1 - n, 0))
            day += timedelta(days=1)
        events = [e for e in events if e[0] <= now_ms]
        natural = len(events)
        while len(events) < params.audit_events:
            ms = rng.randrange(b.start_ms, now_ms)
            events.append((ms, 2, rng.randrange(len(therapists)), 0))
        events.sort()
        events = events[-params.audit_events :] if params.audit_events else []
        facts["audit_events_natural"] = natural
        log(
            f"  {len(events)} audit events planned ({natural} from the history) "
            f"({time.perf_counter() - started:.1f} s)"
        )

        audit_id = b.ids()
        clerk_ip = {s.id: f"192.168.1.{20 + n}" for n, s in enumerate(staff_all)}
        state_cache: dict[int, list[dict]] = {}

        def audit_rows() -> Iterator[tuple]:
            prev = GENESIS_HASH
            for ms, kind, n, k in events:
                if kind == 0:
                    actor = desk[n % len(desk)]
                    fields = {
                        "kind": "mutation",
                        "action": "patient.create",
                        "entity_type": "patient",
                        "entity_id": patient_ids[n],
                        "before": None,
                        "after": canonical_json(patients[n]),
                        "detail": None,
                    }
                elif kind == 1:
                    appt = appts[n]
                    states = state_cache.get(n)
                    if states is None:  # Each state's JSON once: it is one event's after
                        states = [canonical_json(x) for x in appointment_states(appt)]
                        state_cache[n] = states  # and the next one's before.
                    _, action, _, actor = appt.events[k]
                    fields = {
                        "kind": "mutation",
                        "action": "appointment.create" if k == 0 else f"appointment.{action}",
                        "entity_type": "appointment",
                        "entity_id": appt.id,
                        "before": None if k == 0 else states[k - 1],
                        "after": states[k],
                        "detail": None,
                    }
                    if k == len(appt.events) - 1:
                        del state_cache[n]
                else:
                    actor = therapists[n] if n >= 0 else desk[-1 - n]
                    fields = {
                        "kind": "security",
                        "action": "auth.signed_in",
                        "entity_type": "staff",
                        "entity_id": actor.id,
                        "before": None,
                        "after": None,
                        "detail": None,
                    }
                if actor is None:
                    who = {"actor_id": None, "actor_roles": "system", "ip": "local"}
                    who["device"] = "scheduler:day-end"
                else:
                    who = {
                        "actor_id": actor.id,
                        "actor_roles": actor.role,
                        "ip": clerk_ip[actor.id],
                        "device": DEVICE,
                    }
                record = {"id": audit_id(ms), "at": utc_text(ms), **who, **fields}
                digest = _event_hash(prev, record)
                yield (
                    record["id"],
                    record["at"],
                    record["kind"],
                    record["actor_id"],
                    record["actor_roles"],
                    record["ip"],
                    record["device"],
                    record["action"],
                    record["entity_type"],
                    record["entity_id"],
                    record["before"],
                    record["after"],
                    record["detail"],
                    prev,
                    digest,
                )
                prev = digest

        facts["audit_events"] = insert(
            "audit_event",
            "id, at, kind, actor_id, actor_roles, ip, device, action, entity_type, entity_id, "
            "before, after, detail, prev_hash, hash",
            audit_rows(),
        )
        log(f"  audit chain inserted ({time.perf_counter() - started:.1f} s)")
        busy = conn.execute(
            "SELECT substr(start_at, 1, 10) AS d, count(*) FROM appointment "
            "GROUP BY d ORDER BY 2 DESC LIMIT 40"
        ).fetchall()
        facts["busy_days"] = [day for day, _ in busy]
        facts["busiest_day_appointments"] = busy[0][1] if busy else 0
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.close()
    facts["bulk_s"] = round(time.perf_counter() - started, 1)
    return facts


def finish() -> dict:
    """Run through the app: boot (default roles) and the owner account the bench signs in as."""
    from physioez.admin.services.staff import create_staff
    from physioez.app import boot
    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.db import close_database, database
    from physioez.core.kernel.settings import load_settings

    settings = load_settings()
    boot(settings)
    create_staff(
        Actor.system("bench:dataset"),
        username=USERNAME,
        full_name="Bench Owner",
        role_codes=["owner"],
        password=PASSWORD,
        min_password_length=settings.auth.password_min_length,
        must_change_password=False,
    )
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    close_database()
    return {"owner": USERNAME}


def build(params: Params, target: Path, command: Path) -> dict:
    """Migrate a fresh database, fill it, finish it through the app, move it to ``target``."""
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    started = time.perf_counter()

    def log(message: str) -> None:
        print(message, flush=True)

    try:
        config = write_config(
            work / "build.toml",
            port=free_port(),
            data_dir=work / "data",
            key_file=work / "keys" / "kek",
            branch=BRANCH,
            written_by="bench/dataset.py (build)",
        )
        env = bench_env(config)
        done = subprocess.run(
            [str(command), "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=MIGRATE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"physioez migrate failed: {done.stderr[-800:]}")
        database = work / "data" / "physioez.sqlite3"
        log(f"  migrated a fresh database ({time.perf_counter() - started:.1f} s)")
        facts = bulk_insert(database, params, log)
        run_setup(Path(__file__).resolve(), ["--finish-internal"], env, FINISH_TIMEOUT_S)
        for extra in ("-wal", "-shm"):
            leftover = Path(f"{database}{extra}")
            if leftover.exists() and extra == "-wal" and leftover.stat().st_size:
                raise BenchError("the built database still has a non-empty WAL")
            leftover.unlink(missing_ok=True)
        os.replace(database, target)
        facts["build_s"] = round(time.perf_counter() - started, 1)
        facts["size_mib"] = round(target.stat().st_size / 2**20, 1)
        facts["params"] = asdict(params)
        target.with_suffix(".json").write_text(json.dumps(facts, indent=2) + "\n", "utf-8")
        return facts
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the measurements -----------------------------------------------------------------------


@dataclass
class Samples:
    names: list[str]
    phones: list[str]
    mrns: list[str]
    days: list[str]


def open_immutable(database: Path):
    """Read the cache without touching it: no locks, no -wal or -shm files beside it."""
    import apsw

    flags = apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    return apsw.Connection(f"file:{database}?immutable=1", flags=flags)


def pick_samples(database: Path, facts: dict, count: int, seed: int) -> Samples:
    """Queries a desk would type, taken from real rows (read-only, before serving)."""

    rng = random.Random(seed + 1)
    conn = open_immutable(database)
    try:
        top = conn.execute("SELECT max(rowid) FROM patient").fetchone()[0]
        rows = []
        for _ in range(count):
            row = conn.execute(
                "SELECT first_name, last_name, phone_key, mrn FROM patient WHERE rowid = ?",
                (rng.randint(1, top),),
            ).fetchone()
            if row:
                rows.append(row)
    finally:
        conn.close()
    names, phones, mrns = [], [], []
    for n, (first, last, key, mrn) in enumerate(rows):
        if n % 3 == 0:
            names.append(first[: rng.randint(3, 5)])  # "Aar"
        elif n % 3 == 1:
            names.append(f"{first} {last[: rng.randint(2, 4)]}")  # "Aarav Sh"
        else:
            names.append(last[: rng.randint(3, 6)])
        phones.append(key if n % 2 else key[: rng.randint(5, 7)])  # full, or the first digits
        branch, _, number = mrn.partition("-")
        mrns.append(mrn if n % 2 else f"{branch.lower()}-{int(number)}")  # "br01-1234"
    return Samples(names, phones, mrns, facts["busy_days"])


def cycle(items: list[str]) -> Callable[[], str]:
    state = [0]

    def take() -> str:
        item = items[state[0] % len(items)]
        state[0] += 1
        return item

    return take


def scenarios(samples: Samples) -> list[tuple[str, Callable[[Client], tuple[Response, int]], str]]:
    from urllib.parse import quote

    name, phone, mrn = cycle(samples.names), cycle(samples.phones), cycle(samples.mrns)
    day_page, day_api = cycle(samples.days), cycle(samples.days)

    def search(take: Callable[[], str]) -> Callable[[Client], tuple[Response, int]]:
        return lambda c: (c.request("GET", f"/api/v1/patients?q={quote(take())}"), 200)

    return [
        ("search-name", search(name), "/api/v1/patients"),
        ("search-phone", search(phone), "/api/v1/patients"),
        ("search-mrn", search(mrn), "/api/v1/patients"),
        (
            "day-page",
            lambda c: (c.request("GET", f"/reception/book?day={day_page()}", headers=HTML), 200),
            "/reception/book",
        ),
        (
            "day-api",
            lambda c: (c.request("GET", f"/api/v1/appointments?day={day_api()}"), 200),
            "/api/v1/appointments",
        ),
    ]


def print_revenue(revenue: dict) -> None:
    months = revenue["months"]
    print(
        f"monthly revenue report ({len(months)} months, {months[-1]['month']} to "
        f"{months[0]['month']}, {revenue['runs_per_month']} runs each): "
        f"p50 {revenue['p50_ms']} ms, p95 {revenue['p95_ms']} ms, max {revenue['max_ms']} ms",
        flush=True,
    )
    print(json.dumps(revenue["report"], indent=2), flush=True)


def revenue_months(facts: dict, recent: int) -> list[date]:
    """This month, the ``recent`` full months before it, and one month 3, 6 and 9 years back."""
    current = date.fromisoformat(facts["now_utc"][:10]).replace(day=1)
    months = [current]
    for _ in range(recent):
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    first = date.fromisoformat(facts["first_day"])
    months += [
        current.replace(year=current.year - years)
        for years in (3, 6, 9)
        if current.replace(year=current.year - years) > first
    ]
    return months


def time_revenue(database: Path, months: list[date], runs: int) -> dict:
    """``billing.services.reports.monthly_revenue`` on a copy, through the app's data layer
    (its pragmas and 32 MiB page cache), ``runs`` times per month; the JSON of the last full
    month's report as the app returns it."""
    from physioez.billing.services import reports
    from physioez.core.kernel.db import close_database, open_database

    open_database(database)
    try:
        times: list[float] = []
        per_month = []
        shown = None
        for month in months:
            mine = []
            for _ in range(runs):
                started = time.perf_counter()
                result = reports.monthly_revenue(month)
                mine.append((time.perf_counter() - started) * 1000)
            times += mine
            per_month.append(
                {
                    "month": result.month,
                    "first_ms": round(mine[0], 2),
                    "median_ms": round(sorted(mine)[len(mine) // 2], 2),
                    "invoiced": result.invoiced,
                    "revenue": result.revenue,
                }
            )
            if shown is None and len(per_month) == 2:  # the last full month
                shown = {**asdict(result), "revenue": result.revenue}
    finally:
        close_database()
    times.sort()
    return {
        "runs_per_month": runs,
        "n": len(times),
        "p50_ms": round(percentile(times, 50), 2),
        "p95_ms": round(percentile(times, 95), 2),
        "max_ms": round(times[-1], 2),
        "months": per_month,
        "report": shown or {**asdict(result), "revenue": result.revenue},
    }


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=60_000)
    parser.add_argument("--practitioners", type=int, default=30)
    parser.add_argument("--appointments", type=int, default=300_000)
    parser.add_argument("--audit-events", type=int, default=1_000_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--rebuild", action="store_true", help="build even when cached")
    parser.add_argument("--requests", type=int, default=300, help="requests per scenario")
    parser.add_argument("--clients", default="1", help="concurrency levels (default 1)")
    parser.add_argument("--duration-cap", type=float, default=60.0, help="seconds per level")
    parser.add_argument(
        "--verify-audit", action="store_true", help="also time `physioez audit verify`"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/dataset.json"))
    parser.add_argument("--keep-tmp", action="store_true", help="keep the served copy and log")
    parser.add_argument("--finish-internal", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.levels = check_levels(args.clients)
    except ValueError as exc:
        parser.error(f"--clients: {exc}")
    if args.levels[-1] > MAX_CLIENTS:
        parser.error(f"--clients: at most {MAX_CLIENTS}")
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be between 1 and {MAX_REQUESTS}")
    if not 0 < args.duration_cap <= 3600:
        parser.error("--duration-cap must be between 0 and 3600 seconds")
    bounds = {
        "patients": (1000, 1_000_000),
        "practitioners": (2, 200),
        "appointments": (1000, 5_000_000),
        "audit_events": (0, 20_000_000),
        "years": (1, 30),
    }
    for name, (low, high) in bounds.items():
        if not low <= getattr(args, name) <= high:
            parser.error(f"--{name.replace('_', '-')} must be between {low} and {high}")
    return args


def ensure_dataset(params: Params, command: Path, *, rebuild: bool) -> tuple[Path, dict]:
    """The cached dataset of ``params`` (built now when missing or asked), and its facts."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = RESULTS / f"dataset-{params.key()}.sqlite3"
    if cache.exists() and not rebuild:
        facts = json.loads(cache.with_suffix(".json").read_text("utf-8"))
        print(f"using cached dataset {cache} (built {facts['now_utc']}; --rebuild to redo)")
        return cache, {"cached": True, **facts}
    print(f"building the ten-year dataset into {cache} ...", flush=True)
    facts = build(params, cache, command)
    print(
        f"built in {facts['build_s']} s: {facts['patients']} patients, "
        f"{facts['appointments']} appointments, {facts['invoices']} invoices, "
        f"{facts['receipts']} receipts, {facts['rows_journal_line']} journal lines, "
        f"{facts['audit_events']} audit events, {facts['size_mib']} MiB",
        flush=True,
    )
    return cache, {"cached": False, **facts}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.finish_internal:
        print(json.dumps(finish()))
        return 0
    try:
        command = physioez_command()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = Params(
        args.patients,
        args.practitioners,
        args.appointments,
        args.audit_events,
        args.years,
        args.seed,
    )
    report: dict = {"machine": machine_info(), "load": {"before": machine_load()}}
    tmp = Path(tempfile.mkdtemp(prefix="physioez-dataset-"))
    server: Server | None = None
    clients: list[Client] = []
    results: list[dict] = []
    goals: list[dict] = []
    status = 0
    try:
        cache, report["build"] = ensure_dataset(params, command, rebuild=args.rebuild)
        facts = report["build"]
        samples = pick_samples(cache, facts, args.requests, args.seed)
        data_dir = tmp / "data"
        data_dir.mkdir()
        copied = time.perf_counter()
        shutil.copyfile(cache, data_dir / "physioez.sqlite3")
        report["copy_s"] = round(time.perf_counter() - copied, 2)
        revenue = time_revenue(
            data_dir / "physioez.sqlite3",
            revenue_months(facts, REVENUE_RECENT_MONTHS),
            REVENUE_RUNS,
        )
        report["monthly_revenue"] = revenue
        print_revenue(revenue)
        port = free_port()
        config = write_config(
            tmp / "physioez.bench.toml",
            port=port,
            data_dir=data_dir,
            key_file=tmp / "keys" / "kek",
            branch=BRANCH,
            written_by="bench/dataset.py",
        )
        log_path = tmp / "server.log"
        log_path.touch()
        env = bench_env(config)
        server = Server(command, env, log_path, port)
        spawned = time.perf_counter()
        start_server(server)
        report["cold_start_s"] = round(time.perf_counter() - spawned, 2)
        print(
            f"copy {report['copy_s']} s; server up in {report['cold_start_s']} s on the copy; "
            "signing in ...",
            flush=True,
        )
        for number in range(1, args.levels[-1] + 1):
            client = Client(number, port)
            client.sign_in()
            clients.append(client)
        for name, call, prefix in scenarios(samples):
            clients[0].reconnect()
            for _ in range(WARMUP_REQUESTS):
                resp, expected = call(clients[0])
                if resp.status != expected:
                    raise BenchError(
                        f"warm-up {name} answered {resp.status}: "
                        f"{resp.body[:400].decode('utf-8', 'replace')}"
                    )
            for level in args.levels:
                run = run_level(
                    name, clients[:level], call, args.requests, args.duration_cap, log_path, prefix
                )
                summary = summarise(run)
                results.append(summary)
                print_line(summary)
        report["rss_after_mib"] = server.rss_mib()
        report["load"]["after"] = machine_load()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    finally:
        for client in clients:
            client.close()
        if server is not None:
            server.stop()
    if status == 0 and args.verify_audit:
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [str(command), "audit", "verify"],
                env=bench_env(tmp / "physioez.bench.toml"),
                capture_output=True,
                text=True,
                timeout=VERIFY_TIMEOUT_S,
                check=False,
            )
            verdict = (done.stdout + done.stderr).strip().splitlines()[-1:]
            report["audit_verify"] = {
                "ok": done.returncode == 0,
                "output": verdict,
                "s": round(time.perf_counter() - started, 1),
            }
        except subprocess.TimeoutExpired:
            report["audit_verify"] = {"ok": False, "output": ["timed out"]}
        print(f"audit verify: {report['audit_verify']}", flush=True)
        if not report["audit_verify"]["ok"]:
            status = 1
    if status == 0:
        print("goals:")
        for summary in results:
            if summary["clients"] == 1:
                goals.append(
                    goal_line(
                        f"{summary['scenario']} p95 at 1 client",
                        summary["latency_ms"]["p95"],
                        GOAL_READ_P95_MS,
                        "ms",
                        higher=False,
                    )
                )
        goals.append(
            goal_line(
                "monthly revenue report p95",
                report["monthly_revenue"]["p95_ms"],
                GOAL_REVENUE_MS,
                "ms",
                higher=False,
            )
        )
        if any(r["errors"] for r in results):
            print("  MISS  some requests failed (see first error above)")
            status = 1
    report.update(
        {
            "config": {
                "params": asdict(params),
                "cache": str(cache),
                "clients": args.levels,
                "requests_per_scenario": args.requests,
                "warmup_requests": WARMUP_REQUESTS,
                "duration_cap_s": args.duration_cap,
                "server": "physioez serve (gunicorn, 1 process, gthread) on a copy of the cache",
            },
            "results": results,
            "goals": goals,
            "ok": status == 0,
        }
    )
    write_report(args.out, report, tmp, keep=args.keep_tmp)
    return status


if __name__ == "__main__":
    sys.exit(main())
