"""Background jobs across restarts and over time: jobs a stopped process left queued or running
are marked failed at the next start (:func:`fail_interrupted`) instead of spinning forever, and
finished jobs go with their files a day after they end (:func:`cleanup`, scheduled hourly)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.models import format_utc, utcnow
from physioez.core.platform.background import (
    ACTIVE_STATES,
    exports_dir,
    now_text,
    remove_outputs,
    remove_path,
)
from physioez.core.platform.scheduler import ScheduledJob

log = logging.getLogger(__name__)

RESTARTED = "The appliance restarted while this was being built; start it again."
KEEP_FOR = timedelta(hours=24)


def fail_interrupted() -> int:
    """Mark jobs that were queued or running when the process stopped as failed.

    Call once when the serving process starts, before any job is submitted: the pool is
    in-process, so any job still active in the table belonged to a process that is gone.
    """
    with write_transaction():
        ids = [
            row[0]
            for row in database.execute_sql(
                "SELECT id FROM background_job WHERE state IN (?, ?)", ACTIVE_STATES
            ).fetchall()
        ]
        database.execute_sql(
            "UPDATE background_job SET state = 'failed', error = ?, finished_at = ? "
            "WHERE state IN (?, ?)",
            (RESTARTED, now_text(), *ACTIVE_STATES),
        )
    for job_id in ids:
        remove_outputs(job_id)
    if ids:
        log.warning("%d background jobs were interrupted by a restart", len(ids))
    return len(ids)


def cleanup(now: datetime | None = None) -> int:
    """Remove jobs that finished over ``KEEP_FOR`` ago with their files, and stray files.

    Stray files are what a crash can leave in the exports folder (a half-written zip,
    XlsxWriter's temporary files); any not belonging to an active job and older than
    ``KEEP_FOR`` go too. Returns the number of jobs removed.
    """
    cutoff = (now or utcnow()) - KEEP_FOR
    folder = exports_dir()
    with write_transaction():
        old = database.execute_sql(
            "SELECT id, result_path FROM background_job "
            "WHERE state IN ('done', 'failed') AND finished_at < ?",
            (format_utc(cutoff),),
        ).fetchall()
        database.execute_sql(
            "DELETE FROM background_job WHERE state IN ('done', 'failed') AND finished_at < ?",
            (format_utc(cutoff),),
        )
        active = [
            row[0]
            for row in database.execute_sql(
                "SELECT id FROM background_job WHERE state IN (?, ?)", ACTIVE_STATES
            ).fetchall()
        ]
    for job_id, _ in old:
        remove_outputs(job_id)
    for entry in folder.iterdir():
        if any(entry.name.startswith(job_id) for job_id in active):
            continue
        try:
            modified = datetime.fromtimestamp(entry.stat().st_mtime, tz=cutoff.tzinfo)
        except FileNotFoundError:
            continue
        if modified < cutoff:
            remove_path(entry)
    if old:
        log.info("removed %d finished background jobs and their files", len(old))
    return len(old)


def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("core-exports-cleanup", cleanup, "interval", {"hours": 1})]
