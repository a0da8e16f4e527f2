"""Day-end close and Z-report, the dues follow-up list, and the ledger."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for

from physioez.billing.models import MODE_LABELS, TENDER_MODES, DayClose, JournalEntry
from physioez.billing.request_policy import policy
from physioez.billing.services import dayend, dues, ledger
from physioez.billing.views import bp, form_amount
from physioez.core.kernel.errors import InvalidInput, NotFound, ServiceError
from physioez.core.web.access import current_actor, requires


def _day(text: str | None) -> date:
    if not text:
        return policy().today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("Give the day as YYYY-MM-DD.", field="day") from None


@bp.get("/day-end")
@requires("billing.dayend.close")
def day_end():
    day = _day(request.args.get("day"))
    closed = DayClose.get_or_none(DayClose.business_day == day)
    return render_template(
        "billing/day_end.html",
        day=day,
        closed=closed,
        expected=dayend.expected_takings(day),
        report=closed.z_report if closed else dayend.z_report(day),
        history=dayend.closed_days(),
        modes=MODE_LABELS,
    )


@bp.post("/day-end")
@requires("billing.dayend.close")
def close_day():
    form = request.form
    day = _day(form.get("day"))
    try:
        counted = {
            mode: form_amount(form, f"counted_{mode}")
            for mode in TENDER_MODES
            if (form.get(f"counted_{mode}") or "").strip()
        }
        dayend.close_day(current_actor(), policy(), day, counted, form.get("reason", ""))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("billing.day_end", day=day.isoformat()))
    flash(f"{day:%d %b %Y} is closed. Its invoices and payments are locked.", "success")
    return redirect(url_for("billing.day_end", day=day.isoformat()))


@bp.get("/dues")
@requires("billing.invoices.read")
def dues_page():
    rows = dues.dues_by_patient(policy().today())
    return render_template(
        "billing/dues.html",
        rows=rows,
        totals=dues.ageing_totals(rows),
        buckets=dues.BUCKETS,
    )


@bp.get("/ledger")
@requires("billing.ledger.read")
def ledger_page():
    balances = [
        (account, ledger.account_name(account), debit, credit)
        for account, debit, credit in ledger.trial_balance()
    ]
    return render_template(
        "billing/ledger.html",
        balances=balances,
        total_debit=sum(row[2] for row in balances),
        total_credit=sum(row[3] for row in balances),
        entries=ledger.entries(limit=100, before=request.args.get("before")),
        account_name=ledger.account_name,
    )


@bp.get("/ledger/<entry_id>")
@requires("billing.ledger.read")
def ledger_entry(entry_id: str):
    entry = JournalEntry.get_or_none(JournalEntry.id == entry_id)
    if entry is None:
        raise NotFound("No such journal entry.")
    return render_template(
        "billing/ledger_entry.html", entry=entry, account_name=ledger.account_name
    )
