"""How inquiries turn into patients: per source, the leads taken over a span of days and how
many of them were converted or lost so far."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import fn

from physioez.core.kernel.errors import InvalidInput
from physioez.core.kernel.node import current_node
from physioez.reception.models import INQUIRY_SOURCES, Inquiry


def _rate(converted: int, total: int) -> float:
    return round(converted / total, 4) if total else 0.0


def conversion_summary(since: date, until: date, timezone: str | None = None) -> dict[str, Any]:
    """Per source: inquiries taken in [since, until] (branch-local days, both included) and
    how many of those were converted or lost so far.

    Counted by the day the inquiry came in (a cohort), not the day it converted, so the rate
    stays between 0 and 1 and one source's month compares with another's.
    """
    if until < since:
        raise InvalidInput("The end date is before the start date.", field="until")
    zone = ZoneInfo(timezone or current_node().timezone)
    start = datetime.combine(since, time.min, zone)
    end = datetime.combine(until + timedelta(days=1), time.min, zone)
    rows = (
        Inquiry.live()
        .select(Inquiry.source, Inquiry.status, fn.COUNT(Inquiry.id))
        .where(Inquiry.created_at >= start, Inquiry.created_at < end)
        .group_by(Inquiry.source, Inquiry.status)
        .tuples()
    )
    # Counts are whole numbers; conversion_rate is a fraction, so the lines hold both.
    sources: dict[str, dict[str, Any]] = {
        source: {"inquiries": 0, "converted": 0, "lost": 0, "conversion_rate": 0.0}
        for source in INQUIRY_SOURCES
    }
    for source, status, count in rows:
        line = sources.setdefault(
            source, {"inquiries": 0, "converted": 0, "lost": 0, "conversion_rate": 0.0}
        )
        line["inquiries"] += count
        if status in ("converted", "lost"):
            line[status] += count
    total = {"inquiries": 0, "converted": 0, "lost": 0}
    for line in sources.values():
        line["conversion_rate"] = _rate(line["converted"], line["inquiries"])
        for key in total:
            total[key] += line[key]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "sources": sources,
        "total": {**total, "conversion_rate": _rate(total["converted"], total["inquiries"])},
    }
