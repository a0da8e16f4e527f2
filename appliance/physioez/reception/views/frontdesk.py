"""The front desk's start page."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template

from physioez.core.web.access import requires
from physioez.reception.services import directory
from physioez.reception.views import bp


@bp.get("/")
@requires("reception.frontdesk.view")
def frontdesk():
    return render_template(
        "reception/frontdesk.html", groups=directory.team_directory(), now=datetime.now(UTC)
    )
