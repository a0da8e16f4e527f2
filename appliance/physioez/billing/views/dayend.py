"""Day-end close and Z-report, the dues follow-up list, and the ledger."""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for

from physioez.billing.api import schemas
from physioez.billing.models import MODE_LABELS, DayClose, JournalEntry
from physioez.billing.request_policy import policy
from physioez.billing.services import dayend, dues, ledger
from physioez.billing.views import bp, refused, typed_in
from physioez.core.kernel.bounds import Day
from physioez.core.kernel.errors import NotFound, ServiceError
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import InputRefused, parse_form, validate_value


@bp.get("/day-end")
@requires("billing.dayend.close")
def day_end():
    text = request.args.get("day", "")
    return _day_end_page(validate_value(Day, text, "day") if text else policy().today())


def _posted_day() -> date:
    """The day a refused close was for, to show it again (today when that is the slip)."""
    try:
        return validate_value(Day, request.form.get("day") or "", "day")
    except InputRefused:
        return policy().today()


def _day_end_page(day: date, *, refusal: ServiceError | None = None) -> str:
    closed = DayClose.get_or_none(DayClose.business_day == day)
    return render_template(
        "billing/day_end.html",
        day=day,
        closed=closed,
        expected=dayend.expected_takings(day),
        report=closed.z_report if closed else dayend.z_report(day),
        history=dayend.closed_days(),
        modes=MODE_LABELS,
        **typed_in("close", refusal),
    )


@bp.post("/day-end")
@requires("billing.dayend.close")
def close_day():
    try:
        wanted = parse_form(schemas.DayCloseIn)
        day = wanted.day or policy().today()
        dayend.close_day(current_actor(), policy(), day, wanted.counted_by_mode(), wanted.reason)
    except ServiceError as exc:
        return refused(exc, _day_end_page, day=_posted_day())
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
