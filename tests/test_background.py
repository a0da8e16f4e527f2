"""Background jobs: they run off the request path, report progress to their owner alone,
fail with words for people, survive restarts as failures, are cleaned up after a day, and
their files are downloadable by the person who started them and nobody else."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from physioez.app import create_app, module_jobs
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.core.kernel.models import AuditEvent, format_utc, utcnow
from physioez.core.platform import background, job_retention
from physioez.core.platform.exports import Column, write_csv
from physioez.core.web.realtime import socketio

CSV_MIME = "text/csv"


def actor_for(staff) -> Actor:
    return Actor(staff.id, tuple(staff.role_codes), "127.0.0.1", "tests")


def csv_work(rows: int = 3):
    def work(progress: background.Progress) -> Path:
        path = progress.output(".csv")
        with path.open("wb") as stream:
            write_csv([Column("n", "integer")], ((i,) for i in range(rows)), stream)
        progress.update(rows, rows, "Written")
        return path

    return work


def run(staff, work, *, kind="tests.export", title="Test export", name="march.csv"):
    job_id = background.start(actor_for(staff), kind, title, work, download_name=name)
    job = background.wait(job_id, timeout=30)
    assert job is not None
    return job


@pytest.fixture
def owner_client(client_for):
    return client_for("receptionist")


# --- running ---------------------------------------------------------------------------------


def test_a_job_runs_off_the_request_thread_and_keeps_its_file(app, owner_client):
    threads = []

    def work(progress):
        threads.append(threading.current_thread().name)
        return csv_work()(progress)

    job = run(owner_client.staff, work)
    assert threads[0].startswith("physioez-job") and threads[0] != threading.current_thread().name
    assert (job.state, job.done, job.total, job.error) == ("done", 3, 3, "")
    assert job.finished_at is not None and job.percent == 100
    path = background.result_file(job)
    assert path == background.exports_dir().resolve() / f"{job.id}.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbfn\r\n0\r\n")
    assert job.result_path == f"exports/{job.id}.csv"


def test_progress_is_stored_throttled_and_sent_to_the_owner_only(
    app, client_for, owner_client, monkeypatch
):
    colleague = client_for("receptionist")  # Same role, same branch: must still hear nothing.
    manager = client_for("owner")
    owner_socket = socketio.test_client(app, flask_test_client=owner_client)
    colleague_socket = socketio.test_client(app, flask_test_client=colleague)
    manager_socket = socketio.test_client(app, flask_test_client=manager)
    for sock in (owner_socket, colleague_socket, manager_socket):
        assert sock.is_connected()
        sock.get_received()

    clock = [100.0]
    monkeypatch.setattr(background, "_monotonic", lambda: clock[0])
    stored = []

    def work(progress):
        def seen():
            job = background.get(progress.job_id)
            stored.append((job.state, job.done, job.total, job.note))

        progress.update(0, 4, "Invoices")
        seen()
        progress.update(1, 4, "Payments")  # Within the throttle window: not written.
        progress.update(2, 4, "Expenses")
        seen()
        clock[0] += background.WRITE_EVERY_SECONDS
        progress.update(3, 4, "Dues")
        seen()
        progress.update(4, 4, "Zipping")  # Throttled again; the end writes it.
        return csv_work()(progress)

    job = run(owner_client.staff, work)
    assert stored == [
        ("running", 0, 4, "Invoices"),
        ("running", 0, 4, "Invoices"),
        ("running", 3, 4, "Dues"),
    ]
    assert (job.state, job.done, job.total) == ("done", 3, 3)  # The work's last word.

    heard = [m["args"][0] for m in owner_socket.get_received() if m["name"] == "job.progress"]
    assert [(m["state"], m["done"], m["total"], m["note"]) for m in heard] == [
        ("running", 0, 0, ""),
        ("running", 0, 4, "Invoices"),
        ("running", 3, 4, "Dues"),
        ("done", 3, 3, "Written"),
    ]
    assert {m["job_id"] for m in heard} == {job.id}
    assert heard[-1]["percent"] == 100 and "result_path" not in heard[-1]
    assert colleague_socket.get_received() == []
    assert manager_socket.get_received() == []
    for sock in (owner_socket, colleague_socket, manager_socket):
        sock.disconnect()


def test_a_service_error_is_the_message_people_see(app, owner_client):
    from physioez.core.kernel.errors import ServiceError

    def work(progress):
        progress.output(".zip").write_bytes(b"half a zip")
        raise ServiceError("There are no invoices in March to export.")

    job = run(owner_client.staff, work)
    assert (job.state, job.error) == ("failed", "There are no invoices in March to export.")
    assert background.result_file(job) is None
    assert list(background.exports_dir().iterdir()) == []  # The half-written file is gone.


def test_a_crash_gives_a_plain_message_and_logs_the_traceback(app, owner_client, caplog):
    def work(progress):
        raise KeyError("invoice_total")

    with caplog.at_level(logging.ERROR, logger="physioez.core.platform.background"):
        job = run(owner_client.staff, work)
    assert job.state == "failed"
    assert job.error == background.FAILED.format(job_id=job.id)
    assert "invoice_total" not in job.error
    record = next(r for r in caplog.records if job.id in r.getMessage())
    assert record.exc_info and "invoice_total" in str(record.exc_info[1])


def test_a_result_outside_the_exports_folder_is_refused(app, owner_client, tmp_path):
    stray = tmp_path / "elsewhere.csv"
    stray.write_text("x")
    job = run(owner_client.staff, lambda progress: stray)
    assert job.state == "failed" and job.result_path is None


def test_work_that_reports_nothing_still_ends_complete(app, owner_client):
    def work(progress):
        path = progress.output(".csv")
        path.write_text("n\r\n")
        return path

    job = run(owner_client.staff, work)
    assert (job.state, job.done, job.total, job.percent) == ("done", 1, 1, 100)


def test_starting_needs_a_person_a_title_and_a_file_name(app, owner_client, system_actor):
    with pytest.raises(ValueError, match="staff member"):
        background.start(system_actor, "x", "X", csv_work(), download_name="x.csv")
    actor = actor_for(owner_client.staff)
    with pytest.raises(InvalidInput):
        background.start(actor, "x", "  ", csv_work(), download_name="x.csv")
    for bad in ("", "noext", ".hidden", "a" * 130 + ".csv"):
        with pytest.raises(ValueError, match="download name"):
            background.start(actor, "x", "X", csv_work(), download_name=bad)
    # A path is reduced to its file name: the browser is never told a directory.
    job = run(owner_client.staff, csv_work(), name="../../etc/march.csv")
    assert job.download_name == "march.csv"


def test_one_person_cannot_fill_the_queue(app, owner_client, client_for):
    release = threading.Event()

    def blocked(progress):
        release.wait(30)
        return csv_work()(progress)

    actor = actor_for(owner_client.staff)
    ids = [
        background.start(actor, "x", f"Export {n}", blocked, download_name="x.csv")
        for n in range(background.MAX_ACTIVE_PER_STAFF)
    ]
    try:
        deadline = time.monotonic() + 10
        while [background.get(i).state for i in ids].count("running") < background.WORKERS:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Two workers: the third waits its turn.
        assert background.get(ids[-1]).state == "queued"
        with pytest.raises(Conflict, match="already have 3"):
            background.start(actor, "x", "One more", blocked, download_name="x.csv")
        # Someone else is not held up by this person's queue.
        other = background.start(
            actor_for(client_for("billing").staff), "x", "Theirs", csv_work(), download_name="t.csv"
        )
    finally:
        release.set()
    assert [background.wait(i, timeout=30).state for i in [*ids, other]] == ["done"] * 4


# --- restarts and retention ------------------------------------------------------------------


def _insert(job_id: str, staff_id: str, state: str, finished_at=None, created_at=None) -> None:
    with write_transaction():
        database.execute_sql(
            "INSERT INTO background_job (id, kind, title, staff_id, state, download_name,"
            " created_at, finished_at) VALUES (?, 'tests', 'T', ?, ?, 't.csv', ?, ?)",
            (job_id, staff_id, state, format_utc(created_at or utcnow()), finished_at),
        )


def test_a_restart_marks_queued_and_running_jobs_failed(app, settings, owner_client):
    staff_id = owner_client.staff.id
    _insert("job-running", staff_id, "running")
    _insert("job-queued", staff_id, "queued")
    done = run(owner_client.staff, csv_work())
    partial = background.exports_dir() / "job-running.zip"
    partial.write_bytes(b"half")

    create_app(settings)  # What `physioez serve` does when it starts again.

    for job_id in ("job-running", "job-queued"):
        job = background.get(job_id)
        assert job.state == "failed"
        assert job.error == "The appliance restarted while this was being built; start it again."
        assert job.finished_at is not None
    assert not partial.exists()
    assert background.get(done.id).state == "done"
    assert background.result_file(background.get(done.id)) is not None


def test_cleanup_removes_jobs_and_files_a_day_after_they_end(app, owner_client):
    staff = owner_client.staff
    old = run(staff, csv_work())
    old_failed = run(staff, lambda progress: (_ for _ in ()).throw(RuntimeError("x")))
    folder = background.exports_dir()
    # A half-written zip from a crash, and scratch files: old ones go, recent ones stay.
    stray_old, stray_new = folder / ".zip-abc", folder / "tmp123"
    stray_old.write_bytes(b"x")
    stray_new.write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    os.utime(stray_old, (day_ago, day_ago))
    _insert("job-active", staff.id, "running")
    active_file = folder / "job-active.zip"
    active_file.write_bytes(b"building")
    os.utime(active_file, (day_ago, day_ago))

    assert job_retention.cleanup() == 0  # Nothing is a day old yet.
    assert background.result_file(background.get(old.id)) is not None

    later = utcnow() + timedelta(hours=24, minutes=1)
    recent = (later - timedelta(hours=1)).timestamp()
    os.utime(stray_new, (recent, recent))
    assert job_retention.cleanup(now=later) == 2
    assert background.get(old.id) is None and background.get(old_failed.id) is None
    assert not (folder / f"{old.id}.csv").exists()
    assert not stray_old.exists()
    assert stray_new.exists()
    assert active_file.exists() and background.get("job-active").state == "running"


def test_cleanup_is_scheduled_hourly(settings, app):
    jobs = {job.id: job for job in module_jobs(settings)}
    cleanup = jobs["core-exports-cleanup"]
    assert cleanup.func is job_retention.cleanup
    assert (cleanup.trigger, cleanup.trigger_args) == ("interval", {"hours": 1})


# --- the web side ----------------------------------------------------------------------------


def test_the_owner_sees_progress_and_downloads_the_file(app, owner_client):
    job = run(owner_client.staff, csv_work(), title="Payments, March 2027")
    status = owner_client.get(f"/jobs/{job.id}")
    assert status.status_code == 200
    body = status.get_json()
    assert body["state"] == "done" and body["title"] == "Payments, March 2027"
    assert body["download_url"] == f"/jobs/{job.id}/download"
    assert "result_path" not in body

    response = owner_client.get(f"/jobs/{job.id}/download")
    assert response.status_code == 200
    assert response.mimetype == CSV_MIME
    assert response.headers["Content-Disposition"] == "attachment; filename=march.csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data == background.result_file(job).read_bytes()
    read = AuditEvent.get(AuditEvent.entity_id == job.id)
    assert (read.action, read.actor_id) == ("background_job.read", owner_client.staff.id)


def test_xlsx_and_zip_answers_carry_their_own_types(app, owner_client):
    def work(suffix):
        def build(progress):
            path = progress.output(suffix)
            path.write_bytes(b"PK\x03\x04")
            return path

        return build

    for name, mime in (
        ("pack.zip", "application/zip"),
        ("day.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ):
        job = run(owner_client.staff, work(name[name.index(".") :]), name=name)
        response = owner_client.get(f"/jobs/{job.id}/download")
        assert response.mimetype == mime
        assert response.headers["Content-Disposition"] == f"attachment; filename={name}"


def test_everyone_else_gets_404_for_status_and_download(app, owner_client, client_for):
    job = run(owner_client.staff, csv_work())
    for role in ("receptionist", "owner", "branch_manager", "it_admin"):
        other = client_for(role)
        assert other.get(f"/jobs/{job.id}").status_code == 404
        assert other.get(f"/jobs/{job.id}/download").status_code == 404
        assert job.id not in other.get("/jobs").get_data(as_text=True)
    # A job that never existed answers the same as someone else's.
    missing = owner_client.get("/jobs/no-such-job")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == owner_client.get(f"/jobs/{job.id}x").get_json()["error"]
    assert AuditEvent.select().where(AuditEvent.entity_id == job.id).count() == 0


def test_nothing_to_download_until_done_or_after_cleanup(app, owner_client):
    _insert("job-queued", owner_client.staff.id, "queued")
    assert owner_client.get("/jobs/job-queued").get_json()["download_url"] is None
    assert owner_client.get("/jobs/job-queued/download").status_code == 404
    job = run(owner_client.staff, csv_work())
    background.result_file(job).unlink()
    assert owner_client.get(f"/jobs/{job.id}/download").status_code == 404


def test_the_jobs_page_lists_the_persons_own_jobs(app, owner_client, client_for):
    mine = run(owner_client.staff, csv_work(), title="Payments, March 2027")
    failed = run(owner_client.staff, lambda progress: 1 / 0, title="Dues, March 2027")
    theirs = run(client_for("billing").staff, csv_work(), title="Someone else's export")
    html = owner_client.get("/jobs").get_data(as_text=True)
    assert f'data-job-id="{mine.id}"' in html and f'data-job-id="{failed.id}"' in html
    assert theirs.id not in html and "Someone else" not in html
    assert f'href="/jobs/{mine.id}/download"' in html
    assert background.FAILED.format(job_id=failed.id) in html
    assert html.index(failed.id) < html.index(mine.id)  # Newest first.
    empty = client_for("therapist").get("/jobs")
    assert empty.status_code == 200 and "Nothing built for you" in empty.get_data(as_text=True)
