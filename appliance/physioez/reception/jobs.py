"""The front desk's scheduled work: tomorrow's reminders, and the day-end no-show sweep."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from physioez.core.audit import Actor
from physioez.core.scheduler import ScheduledJob
from physioez.core.settings import Settings
from physioez.reception.services import appointments, reminders

ACTOR = Actor.system("scheduler:reception")


def jobs(settings: Settings) -> list[ScheduledJob]:
    zone = settings.branch.timezone

    def queue_tomorrow() -> None:
        tomorrow = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
        reminders.queue_for_day(ACTOR, tomorrow, zone)

    def sweep_no_shows() -> None:
        today = datetime.now(ZoneInfo(zone)).date()
        appointments.mark_day_no_shows(ACTOR, today, zone)

    made = [
        ScheduledJob(
            "reception-reminders",
            queue_tomorrow,
            "cron",
            {"hour": 17, "minute": 0, "timezone": zone},
        )
    ]
    if settings.reception.auto_no_show:
        made.append(
            ScheduledJob(
                "reception-no-shows",
                sweep_no_shows,
                "cron",
                {"hour": 23, "minute": 30, "timezone": zone},
            )
        )
    return made
