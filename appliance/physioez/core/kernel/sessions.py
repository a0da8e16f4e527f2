"""Signed-in sessions, kept on the box rather than trusted from the cookie.

The cookie only names a session (``sid``); whether it is still signed in, locked, or idle is
decided here. So signing out, locking a shared tablet and the idle lock cannot be undone by
replaying an older copy of the cookie, and a session can be ended from outside it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.models import format_utc, parse_utc, utcnow

# last_seen is written at most this often per session: the idle lock needs minutes, not
# seconds, and a write per request would put every page view behind the write lock.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SessionState:
    sid: str
    staff_id: str
    created_at: datetime
    last_seen_at: datetime
    locked: bool
    ended: bool


def start(staff_id: str, ip: str, device: str) -> str:
    sid = secrets.token_urlsafe(24)
    now = format_utc(utcnow())
    with write_transaction():
        database.execute_sql(
            "INSERT INTO staff_session (sid, staff_id, created_at, last_seen_at, ip, device) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (sid, staff_id, now, now, ip[:64], device[:256]),
        )
    return sid


def get(sid: str | None) -> SessionState | None:
    if not sid:
        return None
    row = database.execute_sql(
        "SELECT sid, staff_id, created_at, last_seen_at, locked, ended_at FROM staff_session "
        "WHERE sid = ?",
        (sid,),
    ).fetchone()
    if row is None:
        return None
    return SessionState(
        row[0], row[1], parse_utc(row[2]), parse_utc(row[3]), bool(row[4]), row[5] is not None
    )


def touch(state: SessionState, now: datetime) -> None:
    if now - state.last_seen_at >= TOUCH_EVERY:
        with write_transaction():
            database.execute_sql(
                "UPDATE staff_session SET last_seen_at = ? WHERE sid = ?",
                (format_utc(now), state.sid),
            )


def set_locked(sid: str | None, locked: bool) -> None:
    if not sid:
        return  # Token requests have no session to lock.
    with write_transaction():
        database.execute_sql(
            "UPDATE staff_session SET locked = ?, last_seen_at = ? WHERE sid = ?",
            (int(locked), format_utc(utcnow()), sid),
        )


def end(sid: str | None) -> None:
    if not sid:
        return
    with write_transaction():
        database.execute_sql(
            "UPDATE staff_session SET ended_at = ? WHERE sid = ? AND ended_at IS NULL",
            (format_utc(utcnow()), sid),
        )


def end_all_for(staff_id: str, keep: str | None = None) -> int:
    """End a staff member's sessions (password reset, deactivation), optionally but one."""
    with write_transaction():
        cursor = database.execute_sql(
            "UPDATE staff_session SET ended_at = ? "
            "WHERE staff_id = ? AND ended_at IS NULL AND sid IS NOT ?",
            (format_utc(utcnow()), staff_id, keep),
        )
        return database.rows_affected(cursor)


def prune(older_than: timedelta) -> int:
    """Forget sessions that ended, or went quiet, longer ago than ``older_than``."""
    cutoff = format_utc(utcnow() - older_than)
    with write_transaction():
        cursor = database.execute_sql(
            "DELETE FROM staff_session WHERE COALESCE(ended_at, last_seen_at) < ?", (cutoff,)
        )
        return database.rows_affected(cursor)
