"""The front desk's scheduled work: tomorrow's reminders, and the day-end no-show sweep."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from physioez.core.kernel import policies
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.settings import Settings
from physioez.core.platform.scheduler import ScheduledJob
from physioez.reception.services import appointments, reminders

ACTOR = Actor.system("scheduler:reception")


def jobs(settings: Settings) -> list[ScheduledJob]:
    zone = settings.branch.timezone

    def queue_tomorrow() -> None:
        tomorrow = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
        reminders.queue_for_day(ACTOR, tomorrow, zone)

    def sweep_no_shows() -> None:
        # Decided at each run, not at start: head office may switch it on or off for the
        # chain (core.policies) while the box runs.
        if not policies.apply(settings).reception.auto_no_show:
            return
        today = datetime.now(ZoneInfo(zone)).date()
        appointments.mark_day_no_shows(ACTOR, today, zone)

    return [
        ScheduledJob(
            "reception-reminders",
            queue_tomorrow,
            "cron",
            {"hour": 17, "minute": 0, "timezone": zone},
        ),
        ScheduledJob(
            "reception-no-shows",
            sweep_no_shows,
            "cron",
            {"hour": 23, "minute": 30, "timezone": zone},
        ),
    ]
