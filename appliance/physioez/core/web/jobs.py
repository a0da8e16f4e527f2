"""Background jobs on the web: their progress, the finished file, the person's recent list.

Every route declares ``core.shell.use``, which every default role holds: a job is seen by
the person who started it and by nobody else, and that ownership check (not a role) is what
guards it. Someone else's job, or a job that never existed, is answered with the same 404,
so ids cannot be probed. Who may *start* an export is decided by the module that offers it
(billing's own permission on its export pages).
"""

from __future__ import annotations

import mimetypes

from flask import Blueprint, abort, jsonify, render_template, send_file, url_for
from flask_login import current_user

from physioez.core.kernel import audit
from physioez.core.platform import background, job_retention
from physioez.core.web.access import current_actor, requires

bp = Blueprint("jobs", __name__)

# The types our exports produce, so the answer does not depend on the box's mime.types.
MIMETYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".zip": "application/zip",
    ".pdf": "application/pdf",
}
NOT_FOUND = "There is no such file for you. Files are kept for a day after they are built."


def mimetype_for(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return MIMETYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _own_job(job_id: str) -> background.Job:
    job = background.for_staff(current_user.id, job_id)
    if job is None:
        abort(404, description=NOT_FOUND)
    return job


def job_status(job: background.Job) -> dict:
    status = job.public()
    status["status_url"] = url_for("jobs.status", job_id=job.id)
    status["download_url"] = (
        url_for("jobs.download", job_id=job.id) if job.state == "done" else None
    )
    return status


@bp.route("/jobs", methods=["GET"])
@requires("core.shell.use")
def list_jobs():
    jobs = background.recent(current_user.id)
    return render_template(
        "shell/jobs.html", jobs=jobs, keep_hours=int(job_retention.KEEP_FOR.total_seconds() // 3600)
    )


@bp.route("/jobs/<job_id>", methods=["GET"])
@requires("core.shell.use")
def status(job_id: str):
    job = background.for_staff(current_user.id, job_id)
    if job is None:
        # JSON for the page's script, whatever it asked for; the same answer as for a stranger's.
        return jsonify(error=NOT_FOUND, fields={}), 404
    return jsonify(job_status(job))


@bp.route("/jobs/<job_id>/download", methods=["GET"])
@requires("core.shell.use")
def download(job_id: str):
    job = _own_job(job_id)
    path = background.result_file(job)
    if path is None:
        abort(404, description=NOT_FOUND)
    # The moment data leaves the box: who took which export is in the audit log.
    audit.record_read(current_actor(), "background_job", job.id, purpose=f"download {job.kind}")
    response = send_file(
        path,
        mimetype=mimetype_for(job.download_name),
        as_attachment=True,
        download_name=job.download_name,
        conditional=False,
        max_age=0,
    )
    # Exports hold patient and money data: never kept by a shared tablet's browser cache.
    response.headers["Cache-Control"] = "no-store"
    return response
