"""Background jobs of the appliance, run by APScheduler in the serving process.

Started and stopped with the web server (``physioez serve``), never by merely creating the
app, so tests and CLI commands do not grow stray threads. Jobs must be idempotent and
short; a missed run is coalesced into one.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from physioez.core.db import checkpoint, close_database, database
from physioez.core.settings import Settings

log = logging.getLogger(__name__)


def wal_checkpoint_job() -> None:
    """Fold the WAL back into the database file off the request path."""
    try:
        database.connect(reuse_if_open=True)
        frames, done = checkpoint()
        if frames and done < frames:
            log.info("WAL checkpoint left %d of %d frames (readers active)", frames - done, frames)
    finally:
        close_database()  # This pool thread's connection; request threads keep theirs.


def start_scheduler(settings: Settings) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    if settings.database.checkpoint_seconds:
        scheduler.add_job(
            wal_checkpoint_job,
            "interval",
            seconds=settings.database.checkpoint_seconds,
            id="wal-checkpoint",
        )
    scheduler.start()
    return scheduler
