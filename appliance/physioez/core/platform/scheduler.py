"""Background jobs of the appliance, run by APScheduler in the serving process.

Started and stopped with the web server (``physioez serve``), never by merely creating the
app, so tests and CLI commands do not grow stray threads. Jobs must be idempotent and
short; a missed run is coalesced into one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from physioez.core.kernel import sessions
from physioez.core.kernel.db import checkpoint, close_database, database
from physioez.core.kernel.settings import Settings

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


def prune_sessions_job() -> None:
    """Forget sessions over a week past their end; sign-ins stay in the audit log."""
    try:
        database.connect(reuse_if_open=True)
        forgotten = sessions.prune(timedelta(days=7))
        if forgotten:
            log.info("forgot %d old sessions", forgotten)
    finally:
        close_database()


@dataclass(frozen=True)
class ScheduledJob:
    """A module's job: ``trigger`` and ``trigger_args`` as APScheduler's ``add_job`` takes them."""

    id: str
    func: Callable[[], object]  # what it returns is ignored
    trigger: str
    trigger_args: dict[str, Any]


def in_own_connection(func: Callable[[], object]) -> Callable[[], None]:
    """Run a job on the pool thread's own database connection, closed afterwards."""

    def run() -> None:
        try:
            database.connect(reuse_if_open=True)
            func()
        except Exception:
            log.exception("scheduled job %s failed", getattr(func, "__name__", func))
        finally:
            close_database()

    run.__name__ = getattr(func, "__name__", "job")
    return run


def start_scheduler(settings: Settings, jobs: Sequence[ScheduledJob] = ()) -> BackgroundScheduler:
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
    scheduler.add_job(prune_sessions_job, "interval", hours=6, id="prune-sessions")
    add_jobs(scheduler, jobs)
    scheduler.start()
    return scheduler


def add_jobs(scheduler: BackgroundScheduler, jobs: Sequence[ScheduledJob]) -> None:
    """Schedule ``jobs`` (also on a running scheduler: replication's start after the app's)."""
    for job in jobs:
        scheduler.add_job(in_own_connection(job.func), job.trigger, id=job.id, **job.trigger_args)
