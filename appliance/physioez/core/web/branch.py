"""The branch as pages and the API see it: the settings in force, its time zone and its today.

One place answers "what time is it at the clinic": times are stored in UTC and every page or
API answer that shows or reads a local date goes through these.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app

from physioez.core.kernel.settings import Settings


def current_settings() -> Settings:
    """The settings in force for this request: the file's, with head office's chain policies."""
    return current_app.config["PHYSIOEZ"]


def branch_timezone() -> str:
    """The branch's IANA time zone name (``branch.timezone``)."""
    return current_settings().branch.timezone


def branch_zone() -> ZoneInfo:
    return ZoneInfo(branch_timezone())


def branch_today() -> date:
    """'Today' at the clinic, not in UTC: ages, birthdays and business days are local."""
    return datetime.now(branch_zone()).date()
