"""The front desk: patients, inquiries, the appointment book, check-in."""

from __future__ import annotations

from physioez.core.kernel.modules import Module
from physioez.core.kernel.permissions import Permission
from physioez.reception.events import EVENTS
from physioez.reception.migrations import MIGRATIONS
from physioez.reception.settings import ReceptionSettings

_DESK = ("branch_manager", "clinic_admin", "receptionist")
_CLINICIANS = ("therapist", "junior_therapist")
_MANAGERS = ("branch_manager", "clinic_admin")

MODULE = Module(
    name="reception",
    description="The front desk: patients, inquiries, the appointment book, check-in",
    permissions=(
        Permission("reception.frontdesk.view", "Open the front desk", _DESK),
        Permission(
            "reception.patients.read", "Find and view patients", (*_DESK, *_CLINICIANS, "billing")
        ),
        Permission(
            "reception.patients.write", "Register and edit patients, upload their documents", _DESK
        ),
        Permission("reception.patients.merge", "Merge duplicate patient records", _MANAGERS),
        Permission(
            "reception.documents.identity.read",
            "Open patients' identity documents (ID card scans)",
            _DESK,
            granted_with="reception.patients.write",
        ),
        # Reports and referral letters: clinicians and whoever runs the branch, not the desk.
        Permission(
            "reception.documents.clinical.read",
            "Open patients' clinical documents: reports, scans and referral letters",
            ("branch_manager", *_CLINICIANS),
            granted_with="clinical.notes.read",
        ),
        Permission(
            "reception.appointments.read", "See the appointment book", (*_DESK, *_CLINICIANS)
        ),
        Permission("reception.appointments.write", "Book, move and cancel appointments", _DESK),
        # Without it, a person changes only the appointments of their own diary.
        Permission(
            "reception.appointments.any_practitioner",
            "Book, move, cancel and check in any practitioner's appointments, not only one's own",
            _DESK,
            granted_with="reception.appointments.write",
        ),
        # Clinicians run their own sessions (start, end) from the book.
        Permission(
            "reception.attendance.write",
            "Check patients in and mark sessions and no-shows",
            (*_DESK, *_CLINICIANS),
        ),
        Permission(
            "reception.feeds.manage",
            "Make and revoke calendar links to one's own diary (every diary with schedule rights)",
            (*_DESK, *_CLINICIANS),
            granted_with="reception.appointments.read",
        ),
        Permission(
            "reception.inquiries.manage", "Take inquiries, follow them up, convert them", _DESK
        ),
        Permission(
            "reception.schedule.manage",
            "Set hours, leave, rooms, appointment types, clash rules",
            _MANAGERS,
        ),
    ),
    settings=ReceptionSettings,
    policies={
        "late_cancel_hours": "A cancellation this close to the start is flagged late",
        "auto_no_show": "Mark patients who never arrived as no-shows at day end",
        "required_documents": "Documents every patient should have",
    },
    events=EVENTS,
    migrations=MIGRATIONS,
    web="physioez.reception.web:WEB",
    jobs="physioez.reception.jobs:jobs",
    start="physioez.reception.services:start",
    demo="physioez.demo.reception:seed",
)
