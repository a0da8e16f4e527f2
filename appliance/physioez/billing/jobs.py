"""The accounts desk's scheduled work: packs past their validity are marked expired."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from physioez.billing.services import visits
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.settings import Settings
from physioez.core.platform.scheduler import ScheduledJob

ACTOR = Actor.system("scheduler:billing")


def jobs(settings: Settings) -> list[ScheduledJob]:
    zone = settings.branch.timezone

    def expire_packages() -> None:
        visits.expire_packages(ACTOR, datetime.now(ZoneInfo(zone)).date())

    # Just after midnight, so a pack valid "to 30 Nov" is usable all of that day.
    return [
        ScheduledJob(
            "billing-expire-packages",
            expire_packages,
            "cron",
            {"hour": 0, "minute": 5, "timezone": zone},
        )
    ]
