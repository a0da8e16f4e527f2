"""Exports for the accountant: one table as CSV or XLSX now, or the month's pack built in the
background with its progress on screen."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import flash, redirect, render_template, request, send_file, url_for

from physioez.billing.request_policy import policy
from physioez.billing.services import exporting
from physioez.billing.views import bp
from physioez.core.kernel.errors import InvalidInput, NotFound, ServiceError
from physioez.core.platform import background
from physioez.core.platform.exports import Sheet, csv_chunks, write_xlsx
from physioez.core.web.access import current_actor, requires
from physioez.core.web.files import send_chunks


def _month() -> str:
    month = request.values.get("month") or policy().today().strftime("%Y-%m")
    exporting.month_span(month)
    return month


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/exports")
@requires("billing.exports.download")
def export_page():
    actor = current_actor()
    staff_id = actor.staff_id or ""  # a signed-in person always has one
    jobs = [job for job in background.recent(staff_id) if job.kind == "billing.month_pack"]
    return render_template(
        "billing/exports.html",
        month=_month(),
        tables=exporting.tables(policy(), _month()),
        jobs=jobs[:5],
    )


@bp.get("/exports/<table>.<fmt>")
@requires("billing.exports.download")
def export_table(table: str, fmt: str):
    month = _month()
    found = exporting.tables(policy(), month).get(table)
    if found is None or fmt not in ("csv", "xlsx"):
        raise NotFound("No such export.")
    name = f"{policy().branch_id}-{table}-{month}.{fmt}"
    if fmt == "csv":
        return send_chunks(
            csv_chunks(found.columns, found.rows(), zone=policy().timezone), name, "text/csv"
        )
    # XlsxWriter needs a real file; it is removed as soon as it is opened for sending.
    with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as handle:
        path = Path(handle.name)
    try:
        write_xlsx(
            [Sheet(found.title[:31], found.columns, found.rows())], path, zone=policy().timezone
        )
        data = path.open("rb")
    finally:
        path.unlink(missing_ok=True)
    return send_file(data, mimetype=XLSX, as_attachment=True, download_name=name)


@bp.post("/exports/pack")
@requires("billing.exports.download")
def export_pack():
    try:
        month = _month()
        exporting.start_month_pack(current_actor(), policy(), month)
    except (ServiceError, InvalidInput) as exc:
        flash(exc.message, "error")
        return redirect(url_for("billing.export_page"))
    flash(f"Building the pack for {month}. It stays here and on the Jobs page for a day.", "info")
    return redirect(url_for("billing.export_page", month=month))
