"""Signing in with a username and a password or PIN: the per-account lockout (stored) and the
per-address rate limit (in memory), with a message for the person at the screen."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from physioez.core.kernel.audit import Actor, record_security
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Forbidden, InvalidInput, TooManyAttempts
from physioez.core.kernel.identity import find_staff_by_username, spend_hash_time, verify_secret
from physioez.core.kernel.models import LoginThrottle, Staff, utcnow


@dataclass(frozen=True)
class SignInPolicy:
    lockout_threshold: int
    lockout_minutes: int
    ip_attempts_per_window: int
    ip_window_minutes: int


class IpRateLimiter:
    """Counts failed sign-ins per client address in a sliding window, in memory.

    In memory is enough: the appliance runs one process, and a restart forgiving a few
    failures is harmless next to the per-account lockout, which is stored.
    """

    def __init__(self, attempts: int, window_seconds: float) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, ip: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(ip, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, ip: str) -> int:
        """Seconds until ``ip`` may try again; 0 when it may try now."""
        now = time.monotonic()
        with self._lock:
            failures = self._prune(ip, now)
            if len(failures) < self.attempts:
                return 0
            return max(1, int(failures[0] + self.window - now) + 1)

    def fail(self, ip: str) -> None:
        with self._lock:
            self._prune(ip, time.monotonic()).append(time.monotonic())

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


class SignInGuard:
    """Checks a username and secret (password or PIN) against lockout and rate limits."""

    def __init__(self, policy: SignInPolicy) -> None:
        self.policy = policy
        self.ip_limiter = IpRateLimiter(
            policy.ip_attempts_per_window, policy.ip_window_minutes * 60
        )

    def sign_in(self, actor: Actor, username: str, secret: str, *, with_pin: bool) -> Staff:
        """Return the staff member, or raise with a message for the person at the screen."""
        method = "pin" if with_pin else "password"
        wait = self.ip_limiter.retry_after(actor.ip)
        if wait:
            record_security(actor, "auth.ip_rate_limited", "ip", actor.ip, {"method": method})
            minutes = max(1, round(wait / 60))
            raise TooManyAttempts(
                "Too many failed sign-ins from this device. "
                f"Wait {minutes} minute{'s' if minutes != 1 else ''} and try again."
            )
        staff = find_staff_by_username(username)
        if staff is None or not staff.is_active:
            spend_hash_time(secret)
            self.ip_limiter.fail(actor.ip)
            record_security(
                actor,
                "auth.sign_in_failed",
                "staff",
                username.strip().lower()[:64] or "-",
                {"method": method, "reason": "unknown or inactive account"},
            )
            raise InvalidInput(_wrong_secret_message(with_pin))
        locked_until = account_locked_until(staff)
        if locked_until:
            self.ip_limiter.fail(actor.ip)
            record_security(
                actor, "auth.sign_in_refused_locked", "staff", staff.id, {"method": method}
            )
            raise Forbidden(_locked_message(locked_until))
        stored = staff.pin_hash if with_pin else staff.password_hash
        if with_pin and not stored:
            self.ip_limiter.fail(actor.ip)
            record_security(
                actor,
                "auth.sign_in_failed",
                "staff",
                staff.id,
                {"method": method, "reason": "no PIN set"},
            )
            raise InvalidInput(
                "You have no PIN yet. Sign in with your password and set one in your profile."
            )
        if not verify_secret(stored, secret):
            self.ip_limiter.fail(actor.ip)
            locked_until = self._count_failure(actor, staff, method)
            if locked_until:
                raise Forbidden(_locked_message(locked_until))
            raise InvalidInput(_wrong_secret_message(with_pin))
        forget_failures(staff.id)
        record_security(
            Actor(staff.id, tuple(staff.role_codes), actor.ip, actor.device),
            "auth.unlocked_with_pin" if with_pin else "auth.signed_in",
            "staff",
            staff.id,
        )
        return staff

    def _count_failure(self, actor: Actor, staff: Staff, method: str) -> datetime | None:
        with write_transaction():
            throttle, _ = LoginThrottle.get_or_create(staff=staff.id)
            if throttle.locked_until and throttle.locked_until <= utcnow():
                throttle.failures = 0  # An expired lock starts a fresh count.
                throttle.locked_until = None
            throttle.failures += 1
            locked = throttle.failures >= self.policy.lockout_threshold
            if locked:
                throttle.locked_until = utcnow() + timedelta(minutes=self.policy.lockout_minutes)
            throttle.save()
        record_security(
            actor,
            "auth.sign_in_failed",
            "staff",
            staff.id,
            {"method": method, "failures": throttle.failures},
        )
        if locked:
            record_security(
                actor,
                "auth.account_locked",
                "staff",
                staff.id,
                {"until": throttle.locked_until.isoformat()},
            )
            return throttle.locked_until
        return None


def _wrong_secret_message(with_pin: bool) -> str:
    if with_pin:
        return "Wrong username or PIN."
    return "Wrong username or password. Check Caps Lock, or ask a manager to reset it."


def _locked_message(until: datetime) -> str:
    minutes = max(1, round((until - utcnow()).total_seconds() / 60))
    return (
        "This account is locked after too many failed sign-ins. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or ask a manager to unlock it."
    )


def account_locked_until(staff: Staff) -> datetime | None:
    throttle = LoginThrottle.get_or_none(LoginThrottle.staff == staff.id)
    if throttle and throttle.locked_until and throttle.locked_until > utcnow():
        return throttle.locked_until
    return None


def forget_failures(staff_id: str) -> int:
    """Clear an account's failed sign-ins and any lock; how many counters there were."""
    with write_transaction():
        return LoginThrottle.delete().where(LoginThrottle.staff == staff_id).execute()
