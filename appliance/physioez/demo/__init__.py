"""Realistic demo data for trying the appliance: one staff account per default role.

Every module adds its own demo data here as it grows (patients, appointments, invoices).
Demo accounts use a shared, printed password: they exist for evaluation boxes only.
"""

from __future__ import annotations

from dataclasses import dataclass

from faker import Faker

from physioez.admin.services.staff import create_staff
from physioez.core.kernel import identity
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.models import Staff

DEMO_PASSWORD = "physioez-demo"  # noqa: S105 - printed for demo boxes on purpose


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    pin: str


DEMO_ACCOUNTS = (
    DemoAccount("owner", "owner", "4821"),
    DemoAccount("manager", "branch_manager", "5932"),
    DemoAccount("clinicadmin", "clinic_admin", "6143"),
    DemoAccount("reception", "receptionist", "7254"),
    DemoAccount("therapist", "therapist", "8365"),
    DemoAccount("junior", "junior_therapist", "9476"),
    DemoAccount("billing", "billing", "3587"),
    DemoAccount("itadmin", "it_admin", "2698"),
    DemoAccount("finance", "finance_lead", "1709"),
    DemoAccount("netops", "network_ops", "5810"),
)


def seed_demo(min_password_length: int, seed: int = 2026) -> list[tuple[DemoAccount, Staff]]:
    """Create the demo accounts that are missing; safe to run again."""
    fake = Faker("en_IN")
    fake.seed_instance(seed)
    actor = Actor.system("cli:seed-demo")
    created = []
    for account in DEMO_ACCOUNTS:
        name = fake.name()
        if identity.find_staff_by_username(account.username):
            continue
        first = name.split()[0].lower()
        staff = create_staff(
            actor,
            username=account.username,
            full_name=name,
            role_codes=[account.role],
            password=DEMO_PASSWORD,
            min_password_length=min_password_length,
            email=f"{first}.{account.username}@demo.physioez.invalid",
            phone=fake.phone_number(),
            must_change_password=False,
            pin=account.pin,
        )
        created.append((account, staff))
    return created
