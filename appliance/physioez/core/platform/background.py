"""Long work off the request path (exports, month-end packs), with progress people can watch.

A view calls :func:`start` with a function that builds a file; the function runs in a small
thread pool while the person's screen shows its progress. :class:`Progress` stores how far
it got in the ``background_job`` table (a few writes a second at most, since each takes the
one write lock) and publishes :class:`~physioez.core.kernel.events.JobProgressed` to the person who
started the job, and to nobody else.

Results are files in ``<data dir>/exports/``, downloadable by their owner only and removed a
day after the job ends. Job state is a table, so after a crash or restart a job that was queued
or running is marked failed at the next start instead of spinning forever (both in
``job_retention``).

Branch-local housekeeping: the table never replicates and its rows are not audited (the
download is: see ``core/web/jobs.py``). No Flask here, so modules' services can start jobs.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import close_database, database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput, ServiceError
from physioez.core.kernel.events import JobProgressed, bus
from physioez.core.kernel.ids import uuid7_str
from physioez.core.kernel.models import format_utc, parse_utc, utcnow
from physioez.core.kernel.node import current_node

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed")
ACTIVE_STATES = ("queued", "running")

FAILED = "Building this file failed. Try again; if it fails again, tell IT (job {job_id})."

# Two workers: a month-end pack and a day-end export can build side by side, while the
# gthread worker's request threads keep the front desk responsive on a two-core box.
WORKERS = 2
# One person clicking "Build" repeatedly must not fill the queue for everyone else.
MAX_ACTIVE_PER_STAFF = 3
# Progress writes take the process-wide write lock; a few a second is plenty for a bar.
WRITE_EVERY_SECONDS = 0.4
_monotonic = time.monotonic  # Replaced by tests to step through the throttle.

_COLUMNS = (
    "id, kind, title, staff_id, state, done, total, note, error, result_path, download_name, "
    "created_at, finished_at"
)


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    title: str
    staff_id: str
    state: str
    done: int
    total: int
    note: str
    error: str
    result_path: str | None  # Relative to the data directory: "exports/<id>.zip".
    download_name: str
    created_at: datetime
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def percent(self) -> int | None:
        """How far along, 0-100; None while the total is not known yet."""
        if self.state == "done":
            return 100
        if self.total <= 0:
            return None
        return max(0, min(100, self.done * 100 // self.total))

    def public(self) -> dict[str, Any]:
        """What the owner's screen needs: no file path, nothing personal beyond the title."""
        return {
            "job_id": self.id,
            "kind": self.kind,
            "title": self.title,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "percent": self.percent,
            "note": self.note,
            "error": self.error,
            "download_name": self.download_name,
            "created_at": format_utc(self.created_at),
            "finished_at": format_utc(self.finished_at) if self.finished_at else None,
        }


_JOB_FIELDS = tuple(field.name for field in dataclasses.fields(Job))


def _job(row: tuple) -> Job:
    """A ``background_job`` row (its columns in the order of :class:`Job`'s fields) as a Job."""
    values = dict(zip(_JOB_FIELDS, row, strict=True))
    values["created_at"] = parse_utc(values["created_at"])
    values["finished_at"] = parse_utc(values["finished_at"]) if values["finished_at"] else None
    return Job(**values)


# --- where results live and the pool that builds them ---------------------------------------


class _Runner:
    def __init__(self) -> None:
        self.data_dir: Path | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: str, task: Callable[[], None]) -> None:
        with self._lock:
            if self._executor is None:
                # Made on first use, so creating the app (tests, CLI) starts no threads.
                self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="physioez-job")
            future = self._executor.submit(task)
            self._futures[job_id] = future
        future.add_done_callback(lambda _: self._forget(job_id))

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def future(self, job_id: str) -> Future | None:
        with self._lock:
            return self._futures.get(job_id)


_runner = _Runner()


def configure(data_dir: Path) -> None:
    """Where results go: ``<data_dir>/exports``, made private to the service's user."""
    (data_dir / "exports").mkdir(parents=True, exist_ok=True, mode=0o700)
    _runner.data_dir = data_dir


def exports_dir() -> Path:
    if _runner.data_dir is None:
        raise RuntimeError("background.configure(data_dir) must run before jobs are used")
    return _runner.data_dir / "exports"


def result_file(job: Job) -> Path | None:
    """The finished file of ``job``, if it is done and the file is still there."""
    if job.state != "done" or not job.result_path:
        return None
    path = (exports_dir().parent / job.result_path).resolve()
    if path.parent != exports_dir().resolve() or not path.is_file():
        return None
    return path


# --- progress -------------------------------------------------------------------------------


class Progress:
    """Handed to a job's work: where to write, and how to say how far it got."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.id
        self._staff_id = job.staff_id
        self._done = 0
        self._total = 0
        self._note = ""
        self._written_at: float | None = None
        self._unwritten = False

    def output(self, suffix: str) -> Path:
        """The path of this job's result file in the exports folder, e.g. ``.zip``."""
        if not suffix.startswith(".") or "/" in suffix or "\\" in suffix:
            raise ValueError(f"suffix {suffix!r} must look like '.zip'")
        return exports_dir() / f"{self.job_id}{suffix}"

    def update(self, done: int, total: int, note: str = "") -> None:
        """Record that ``done`` of ``total`` steps are finished; ``note`` says what is next.

        Written and sent to the person's screens at most every ``WRITE_EVERY_SECONDS``; the
        latest values are always written when the job ends.
        """
        if done < 0 or total < 0:
            raise ValueError("progress counts cannot be negative")
        self._done, self._total, self._note = done, total, note[:200]
        now = _monotonic()
        if self._written_at is not None and now - self._written_at < WRITE_EVERY_SECONDS:
            self._unwritten = True
            return
        self._written_at = now
        self._unwritten = False
        _save(self.job_id, done=done, total=total, note=self._note)

    def _final(self) -> dict[str, Any]:
        return {"done": self._done, "total": self._total, "note": self._note}


def _save(job_id: str, **changes: Any) -> Job:
    """Change a job's row and tell its owner's screens, after the change commits."""
    assignments = ", ".join(f"{column} = ?" for column in changes)
    with write_transaction():
        database.execute_sql(
            f"UPDATE background_job SET {assignments} WHERE id = ?",  # noqa: S608 - our names
            (*changes.values(), job_id),
        )
        job = get(job_id)
        if job is None:
            raise LookupError(f"background job {job_id} vanished")
        bus.publish(
            JobProgressed(
                branch=current_node().branch_id,
                payload=job.public(),
                audience_staff=(job.staff_id,),
            )
        )
    return job


# --- starting and running ------------------------------------------------------------------


Work = Callable[[Progress], Path]


def _clean_download_name(name: str) -> str:
    cleaned = Path(name.strip().replace("\\", "/")).name
    if not cleaned or cleaned.startswith(".") or len(cleaned) > 120 or "." not in cleaned:
        raise ValueError(f"download name {name!r} must be a file name such as 'march.zip'")
    return cleaned


def start(actor: Actor, kind: str, title: str, work: Work, *, download_name: str) -> str:
    """Queue ``work`` to build a file for ``actor``; returns the job id at once.

    ``work(progress)`` runs in a pool thread with its own database connection and no request:
    give it plain values, not Flask objects. It writes its file at ``progress.output(".zip")``
    (or another suffix) and returns that path. A ``ServiceError`` it raises becomes the message
    the person sees; any other exception is logged with its traceback and the person is told
    the build failed. ``kind`` names the export in logs (``billing.month_pack``); ``title`` is
    shown to the person; ``download_name`` is the file name their browser saves. The title and
    progress notes travel over Socket.IO and stay in the table for a day: name the export
    ("Payments, March 2027"), never a patient.
    """
    if actor.staff_id is None:
        raise ValueError("a background job belongs to the staff member who started it")
    name = _clean_download_name(download_name)
    if not title.strip():
        raise InvalidInput("A job needs a title that says what it builds.", field="title")
    exports_dir()  # Refuse now, not in the worker, when configure() never ran.
    job_id = uuid7_str()
    with write_transaction():
        active = database.execute_sql(
            "SELECT COUNT(*) FROM background_job WHERE staff_id = ? AND state IN (?, ?)",
            (actor.staff_id, *ACTIVE_STATES),
        ).fetchone()[0]
        if active >= MAX_ACTIVE_PER_STAFF:
            raise Conflict(
                f"You already have {active} files being built. "
                "Wait for one to finish, then try again."
            )
        database.execute_sql(
            "INSERT INTO background_job (id, kind, title, staff_id, state, download_name, "
            "created_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
            (job_id, kind, title.strip()[:200], actor.staff_id, name, format_utc(utcnow())),
        )
    _runner.submit(job_id, lambda: _run(job_id, work))
    return job_id


def _run(job_id: str, work: Work) -> None:
    try:
        database.connect(reuse_if_open=True)
        job = _save(job_id, state="running")
        progress = Progress(job)
        try:
            result = _accept(job, work(progress))
        except ServiceError as exc:
            remove_outputs(job_id)
            _save(
                job_id,
                state="failed",
                error=exc.message,
                finished_at=now_text(),
                **progress._final(),
            )
        except Exception:
            log.exception("background job %s (%s) failed", job_id, job.kind)
            remove_outputs(job_id)
            _save(
                job_id,
                state="failed",
                error=FAILED.format(job_id=job_id),
                finished_at=now_text(),
                **progress._final(),
            )
        else:
            final = progress._final()
            if final["total"] == 0:
                final["done"] = final["total"] = 1  # Work that never said: one step, done.
            _save(job_id, state="done", result_path=result, finished_at=now_text(), **final)
    except Exception:
        # The pool would keep this to itself; the row stays active until the next restart.
        log.exception("background job %s could not record its outcome", job_id)
    finally:
        close_database()  # This pool thread's connection; request threads keep theirs.


def _accept(job: Job, result: Any) -> str:
    """The result as a path under the data directory; refuses files outside the exports folder."""
    path = Path(result).resolve()
    folder = exports_dir().resolve()
    if path.parent != folder or not path.name.startswith(job.id) or not path.is_file():
        raise RuntimeError(
            f"job {job.id} returned {result!r}; write the result at progress.output(suffix)"
        )
    return str(path.relative_to(folder.parent))


def now_text() -> str:
    return format_utc(utcnow())


def remove_outputs(job_id: str) -> None:
    """Files a failed or interrupted job left behind (its result, half written)."""
    for leftover in exports_dir().glob(f"{job_id}*"):
        remove_path(leftover)


def remove_path(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not remove %s", path, exc_info=True)


def wait(job_id: str, timeout: float | None = None) -> Job | None:
    """Block until ``job_id`` has run (for the CLI and tests); returns its final state."""
    future = _runner.future(job_id)
    if future is not None:
        future.result(timeout)
    return get(job_id)


# --- reading ----------------------------------------------------------------------------------


def get(job_id: str) -> Job | None:
    row = database.execute_sql(
        f"SELECT {_COLUMNS} FROM background_job WHERE id = ?",  # noqa: S608 - constant
        (job_id,),
    ).fetchone()
    return _job(row) if row else None


def for_staff(staff_id: str | None, job_id: str) -> Job | None:
    """The job if ``staff_id`` started it; None otherwise, so others cannot tell it exists."""
    job = get(job_id)
    return job if job is not None and staff_id is not None and job.staff_id == staff_id else None


def recent(staff_id: str, limit: int = 20) -> list[Job]:
    """The person's own jobs, newest first (at most a day old: older ones are cleaned up)."""
    rows = database.execute_sql(
        f"SELECT {_COLUMNS} FROM background_job WHERE staff_id = ? "  # noqa: S608 - constant
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        (staff_id, limit),
    ).fetchall()
    return [_job(row) for row in rows]
