"""Front-desk pages: one blueprint, a module per area."""

from __future__ import annotations

from flask import Blueprint

from physioez.core.web.nav import NavItem

bp = Blueprint("reception", __name__, url_prefix="/reception")

NAV = (
    NavItem("Front desk", "Front desk", "reception.frontdesk", "reception.frontdesk.view"),
    NavItem("Front desk", "Patients", "reception.patient_list", "reception.patients.read"),
)

# Importing the area modules registers their routes on ``bp``.
from physioez.reception.views import frontdesk, patients  # noqa: E402, F401
