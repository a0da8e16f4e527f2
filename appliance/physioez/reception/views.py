"""Front-desk pages."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, render_template

from physioez.core.web.access import requires
from physioez.core.web.nav import NavItem
from physioez.reception.services import directory

bp = Blueprint("reception", __name__, url_prefix="/reception")

NAV = (NavItem("Front desk", "Front desk", "reception.frontdesk", "reception.frontdesk.view"),)


@bp.get("/")
@requires("reception.frontdesk.view")
def frontdesk():
    return render_template(
        "reception/frontdesk.html", groups=directory.team_directory(), now=datetime.now(UTC)
    )
