"""Front-desk demo data: practitioners with hours, rooms, types, patients, four weeks of book.

Everything goes through the same services the desk uses (clash-checked, audited, outboxed),
inside one transaction so a demo box fills in seconds and never half-fills.
"""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from faker import Faker

from physioez.admin.services.staff import create_staff
from physioez.core.kernel import identity, records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.models import utcnow
from physioez.core.kernel.settings import Settings
from physioez.reception.models import Appointment, Patient, Practitioner
from physioez.reception.services import appointments, patients, schedule_setup
from physioez.reception.services.patients import PatientDetails
from physioez.reception.services.slots import ClashRefused, Slot

REFERRALS = ("Dr Kulkarni (ortho)", "Dr Menon (GP)", "walk-in", "website", "Google", "friend")
ALERTS = (
    "Pacemaker: no electrotherapy",
    "Diabetic",
    "On blood thinners",
    "Recent hip surgery",
    "Hypertension",
    "Pregnant",
)
COMPLAINTS = (
    "low back pain",
    "neck pain",
    "frozen shoulder",
    "knee rehab after ACL repair",
    "tennis elbow",
    "ankle sprain",
)


def seed_reception(
    actor: Actor, today: date, timezone: str, *, patients_count: int = 300, seed: int = 2026
) -> dict[str, int]:
    """Create the demo front desk once; returns what was made (all zero when already there)."""
    if Practitioner.select().exists():
        return {"practitioners": 0, "patients": 0, "appointments": 0}
    rng = random.Random(seed)
    fake = Faker("en_IN")
    fake.seed_instance(seed)
    zone = ZoneInfo(timezone)
    with write_transaction():
        practitioners = _practitioners(actor, fake)
        _, types = _rooms_and_types(actor)
        people = _patients(actor, fake, rng, today, patients_count)
        booked = _book_four_weeks(actor, rng, today, zone, practitioners, types, people)
        booked += _patients_in_clinic_now(actor, zone, practitioners, types, people)
    return {"practitioners": len(practitioners), "patients": len(people), "appointments": booked}


def _practitioners(actor: Actor, fake: Faker) -> list[Practitioner]:
    staff = [identity.find_staff_by_username(name) for name in ("therapist", "junior")]
    for number in (1, 2):
        staff.append(
            create_staff(
                actor,
                username=f"physio{number}",
                full_name=fake.name(),
                role_codes=["therapist"],
                password=secrets.token_urlsafe(16),
                min_password_length=10,
                must_change_password=True,
            )
        )
    made = []
    colours = ("#0f766e", "#7c3aed", "#c2410c", "#2563eb")
    for member, colour in zip([s for s in staff if s], colours, strict=False):
        practitioner = schedule_setup.make_practitioner(actor, member, colour)
        for weekday in range(6):  # Monday to Saturday
            schedule_setup.add_weekly_hours(actor, practitioner, weekday, "09:00", "13:00")
            if weekday < 5:
                schedule_setup.add_weekly_hours(actor, practitioner, weekday, "14:00", "19:00")
        made.append(practitioner)
    return made


def _rooms_and_types(actor: Actor):
    rooms = [
        schedule_setup.create_resource(actor, kind="room", name=f"Treatment room {n}")
        for n in (1, 2, 3)
    ]
    gym = schedule_setup.create_resource(actor, kind="room", name="Gym", capacity=6)
    shockwave = schedule_setup.create_resource(actor, kind="equipment", name="Shockwave unit")
    types = {
        "assessment": schedule_setup.create_appointment_type(
            actor,
            name="Initial assessment",
            duration_minutes=60,
            service_code="ASSESS60",
            resource_ids=[],
        ),
        "session": schedule_setup.create_appointment_type(
            actor, name="Physiotherapy session", duration_minutes=45, service_code="PT45"
        ),
        "review": schedule_setup.create_appointment_type(
            actor, name="Review", duration_minutes=30, service_code="REV30"
        ),
        "shockwave": schedule_setup.create_appointment_type(
            actor,
            name="Shockwave therapy",
            duration_minutes=30,
            service_code="ESWT30",
            resource_ids=[shockwave.id],
        ),
        "class": schedule_setup.create_appointment_type(
            actor,
            name="Back-care class",
            duration_minutes=60,
            service_code="CLASS60",
            group_capacity=6,
            resource_ids=[gym.id],
        ),
    }
    return [*rooms, gym, shockwave], types


def _patients(
    actor: Actor, fake: Faker, rng: random.Random, today: date, count: int
) -> list[Patient]:
    made = []
    for _ in range(count):
        sex = rng.choice(("female", "male"))
        first = fake.first_name_female() if sex == "female" else fake.first_name_male()
        details = PatientDetails(
            first_name=first,
            last_name=fake.last_name(),
            sex=sex,
            date_of_birth=fake.date_of_birth(minimum_age=8, maximum_age=85),
            phone=f"9{rng.randrange(10**8, 10**9):09d}",
            email=f"{first.lower()}.{rng.randrange(1000)}@example.in" if rng.random() < 0.6 else "",
            address=fake.address().replace("\n", ", ") if rng.random() < 0.7 else "",
            referral_source=rng.choice(REFERRALS),
            alerts=[rng.choice(ALERTS)] if rng.random() < 0.12 else [],
            consents={
                "treatment": True,
                "reminders_sms": rng.random() < 0.8,
                "reminders_whatsapp": rng.random() < 0.6,
                "data_sharing": rng.random() < 0.4,
            },
        )
        made.append(patients.register(actor, details, today))
    return made


def _book_four_weeks(actor, rng, today, zone, practitioners, types, people) -> int:
    start_day = today - timedelta(days=14)
    kinds = [types["session"]] * 6 + [types["assessment"], types["review"], types["shockwave"]]
    count = 0
    for offset in range(28):
        day = start_day + timedelta(days=offset)
        if day.weekday() == 6:
            continue
        if day.weekday() in (1, 3):  # The back-care class, Tuesday and Thursday evenings.
            for person in rng.sample(people, 5):
                count += _try_book(
                    actor, zone, day, "18:00", practitioners[0], types["class"], person, today, rng
                )
        for practitioner in practitioners:
            for clock in _day_slots(rng):
                count += _try_book(
                    actor,
                    zone,
                    day,
                    clock,
                    practitioner,
                    rng.choice(kinds),
                    rng.choice(people),
                    today,
                    rng,
                )
    return count


def _patients_in_clinic_now(actor, zone, practitioners, types, people) -> int:
    """Whatever the hour of the demo, someone is waiting and someone is with a therapist.

    The book is already full of demo bookings, so the slot just before now may clash for a
    given practitioner or patient: try others until each of the two is placed."""
    now = utcnow().astimezone(zone)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 5 + 10)
    made = 0
    used: set[str] = set()
    for statuses in (("arrived",), ("arrived", "in_session")):
        placed = False
        for practitioner in reversed(practitioners):
            if placed or practitioner.id in used:
                continue
            for person in reversed(people):
                try:
                    appointment = appointments.book(
                        actor,
                        Slot(
                            patient_id=person.id,
                            practitioner_id=practitioner.id,
                            type_id=types["review"].id,
                            start=start,
                        ),
                        str(zone),
                        override_reason="Demo: in the clinic right now",
                    )
                except ClashRefused:
                    continue
                for status in statuses:
                    appointments.set_status(actor, appointment, status)
                used.add(practitioner.id)
                made += 1
                placed = True
                break
    return made


def _day_slots(rng: random.Random) -> list[str]:
    slots = []
    for hour in (9, 10, 11, 12, 14, 15, 16, 17):
        if rng.random() < 0.7:
            slots.append(f"{hour:02d}:{rng.choice((0, 0, 15)):02d}")
    return slots


def _try_book(actor, zone, day, clock, practitioner, appointment_type, patient, today, rng) -> int:
    start = datetime.combine(day, time.fromisoformat(clock), zone)
    try:
        appointment = appointments.book(
            actor,
            Slot(
                patient_id=patient.id,
                practitioner_id=practitioner.id,
                type_id=appointment_type.id,
                start=start,
            ),
            str(zone),
            override_reason="",
        )
    except ClashRefused:
        return 0
    _play_out(actor, appointment, day, today, rng)
    return 1


def _play_out(
    actor: Actor, appointment: Appointment, day: date, today: date, rng: random.Random
) -> None:
    """Give past and present appointments the statuses a real day leaves behind."""
    start = appointment.start_at
    roll = rng.random()
    if day > today:
        if roll < 0.5:
            appointments.set_status(actor, appointment, "confirmed")
        elif roll < 0.58:
            appointments.cancel(
                actor,
                appointment,
                rng.choice(("Travelling", "Feeling better", "Work clash")),
                late_cancel_hours=24,
            )
        return
    if roll < 0.07:
        appointments.cancel(
            actor,
            appointment,
            rng.choice(("Unwell", "Transport problem", "Rescheduled by phone")),
            late_cancel_hours=24,
        )
        return
    if roll < 0.15:
        appointments.set_status(actor, appointment, "no_show")
        return
    steps = ["arrived", "in_session", "completed"]
    if day == today:
        # Today follows the clock: later patients are still expected, the current ones are
        # in the waiting room or with their therapist.
        now = utcnow()
        if appointment.start_at > now + timedelta(minutes=10):
            if roll < 0.6:
                appointments.set_status(actor, appointment, "confirmed")
            return
        if appointment.end_at > now:
            steps = steps[: rng.choice((1, 2))]
    for status in steps:
        appointments.set_status(actor, appointment, status)
    if steps:
        # The services stamp 'now'; a demo of past days needs the times of those days.
        times = {"arrived_at": start - timedelta(minutes=rng.choice((2, 5, 10)))}
        if "in_session" in steps:
            times["started_at"] = start + timedelta(minutes=rng.choice((0, 2, 5)))
        if "completed" in steps:
            times["completed_at"] = appointment.end_at
        records.update(appointment, actor, action="appointment.demo_times", **times)


def seed(actor: Actor, today: date, settings: Settings) -> str:
    """The front desk's demo (the installed modules' seeders run in order, in one transaction)."""
    made = seed_reception(actor, today, settings.branch.timezone)
    if not any(made.values()):
        return "front desk already there; left as it was."
    return (
        f"{made['practitioners']} practitioners, {made['patients']} patients, "
        f"{made['appointments']} appointments."
    )
