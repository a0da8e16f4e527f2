"""Front-desk pages: one blueprint, a module per area."""

from __future__ import annotations

from flask import Blueprint

from physioez.core.web.nav import NavItem

bp = Blueprint("reception", __name__, url_prefix="/reception")

NAV = (
    NavItem("Front desk", "Front desk", "reception.frontdesk", "reception.frontdesk.view"),
    NavItem("Front desk", "Today", "reception.today", "reception.appointments.read"),
    NavItem("Front desk", "Appointment book", "reception.day_book", "reception.appointments.read"),
    NavItem("Front desk", "Patients", "reception.patient_list", "reception.patients.read"),
    NavItem("Front desk", "Inquiries", "reception.inquiry_list", "reception.inquiries.manage"),
    NavItem("Front desk", "Waitlist", "reception.waitlist_page", "reception.appointments.write"),
    NavItem("Front desk", "Reminders", "reception.reminder_queue", "reception.appointments.write"),
    NavItem("Front desk", "Calendar links", "reception.feed_list", "reception.appointments.read"),
    NavItem("Front desk", "Book set-up", "reception.setup", "reception.schedule.manage"),
)

# Importing the area modules registers their routes on ``bp``.
from physioez.reception.views import (  # noqa: E402, F401
    appointment,
    book,
    feeds,
    frontdesk,
    inquiries,
    patients,
    queues,
    setup,
)
