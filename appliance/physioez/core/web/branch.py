"""The branch's wall clock for pages and the API: its time zone and its today."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def branch_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["PHYSIOEZ"].branch.timezone)


def branch_today() -> date:
    """'Today' at the clinic, not in UTC: ages, birthdays and business days are local."""
    return datetime.now(branch_zone()).date()
