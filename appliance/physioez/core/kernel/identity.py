"""Staff identity: passwords, PINs, sign-in with lockout and rate limits, roles, API tokens.

No Flask here: views pass an :class:`~physioez.core.kernel.audit.Actor` and plain values, and get
back models or a :class:`~physioez.core.kernel.errors.ServiceError` with a message for the person.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import nacl.exceptions
import nacl.pwhash

from physioez.core.kernel import records, sessions
from physioez.core.kernel.audit import Actor, record_security
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts
from physioez.core.kernel.events import RolesChanged, StaffChanged, bus
from physioez.core.kernel.models import ApiToken, LoginThrottle, Role, Staff, fetch_by_id, utcnow
from physioez.core.kernel.node import current_node
from physioez.core.kernel.permissions import DEFAULT_ROLES, REGISTRY, is_governance

# --- secret hashing -------------------------------------------------------------------------

_HASH_PROFILES = {
    "interactive": (
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ),
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "fast-insecure-for-tests": (
        nacl.pwhash.argon2id.OPSLIMIT_MIN,
        nacl.pwhash.argon2id.MEMLIMIT_MIN,
    ),
}
_hash_cost = _HASH_PROFILES["interactive"]


def configure_hashing(profile: str) -> None:
    global _hash_cost, _DUMMY_HASH
    _hash_cost = _HASH_PROFILES[profile]
    _DUMMY_HASH = None


def hash_secret(secret: str) -> str:
    ops, mem = _hash_cost
    return nacl.pwhash.argon2id.str(secret.encode(), opslimit=ops, memlimit=mem).decode()


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    if not stored_hash:
        return False
    try:
        return nacl.pwhash.verify(stored_hash.encode(), secret.encode())
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError, ValueError):
        return False


_DUMMY_HASH: str | None = None


def _spend_hash_time(secret: str) -> None:
    """Verify against a throwaway hash so 'no such user' takes as long as 'wrong password'."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_secret(secrets.token_hex(16))
    verify_secret(_DUMMY_HASH, secret)


# --- validation -----------------------------------------------------------------------------

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
PIN_RE = re.compile(r"^\d{4,8}$")


def validate_password(password: str, username: str, min_length: int) -> None:
    if len(password) < min_length:
        raise InvalidInput(
            f"The password needs at least {min_length} characters.", field="password"
        )
    if len(password) > 256:
        raise InvalidInput("The password can have at most 256 characters.", field="password")
    if password.strip().lower() == username.lower():
        raise InvalidInput("The password must not be the username.", field="password")


def validate_roles(role_codes: Iterable[str]) -> list[str]:
    codes = sorted(set(role_codes))
    if not codes:
        raise InvalidInput("Choose at least one role.", field="roles")
    known = {code for (code,) in Role.live().select(Role.code).tuples()}
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise InvalidInput(f"Unknown role: {', '.join(unknown)}.", field="roles")
    return codes


# --- roles and permissions ------------------------------------------------------------------


def ensure_default_roles(actor: Actor) -> int:
    """Create missing default roles and hand newly shipped permissions to roles.

    An admin may have taken a permission away from a role on purpose, so only permissions
    this box has never seen before (per ``permission_catalog``) are added on an upgrade: to
    the default roles that ship with them, and to any role holding the permission they were
    carved out of (``Permission.granted_with``). Returns how many roles were created or
    extended.
    """
    changed = 0
    with write_transaction():
        seen = {
            code
            for (code,) in database.execute_sql("SELECT code FROM permission_catalog").fetchall()
        }
        new_codes = set(REGISTRY) - seen
        roles = {role.code: role for role in Role.select()}
        defaults = {default.code: default for default in DEFAULT_ROLES}
        created = set()
        for default in DEFAULT_ROLES:
            if default.code not in roles:
                created.add(default.code)
                records.create(
                    Role,
                    actor,
                    code=default.code,
                    name=default.name,
                    description=default.description,
                    permissions=sorted(default.permissions),
                    head_office=default.head_office,
                    builtin=True,
                )
                changed += 1
        if seen and new_codes:
            for role in roles.values():
                if role.deleted_at is not None or role.code in created:
                    continue
                held = set(role.permissions)
                shipped = set(defaults[role.code].permissions) if role.code in defaults else set()
                added = {
                    code
                    for code in new_codes
                    if code in shipped or REGISTRY[code].granted_with in held
                } - held
                if added:
                    records.update(
                        role,
                        actor,
                        action="role.permissions_upgraded",
                        permissions=sorted(held | added),
                    )
                    changed += 1
        for code in sorted(new_codes):
            database.execute_sql("INSERT INTO permission_catalog (code) VALUES (?)", (code,))
    return changed


def permissions_for_roles(role_codes: Iterable[str]) -> frozenset[str]:
    codes = list(role_codes)
    if not codes:
        return frozenset()
    # Runs on every request: plain SQL, since building it with peewee costs more than SQLite.
    placeholders = ",".join("?" * len(codes))
    rows = database.execute_sql(
        f"SELECT permissions FROM role WHERE deleted_at IS NULL AND code IN ({placeholders})",  # noqa: S608 - placeholders only
        codes,
    ).fetchall()
    return frozenset(code for (perms,) in rows for code in json.loads(perms) if code in REGISTRY)


def staff_for_session(staff_id: str) -> Staff | None:
    """The staff row behind a session cookie; on every request, so SQL built once."""
    staff = fetch_by_id(Staff, staff_id)
    return None if staff is None or staff.deleted_at is not None else staff


def actor_permissions(actor: Actor) -> frozenset[str] | None:
    """What ``actor`` may do; None for the appliance itself (CLI, start-up), which is unbounded."""
    if actor.staff_id is None:
        return None
    held = permissions_for_roles(actor.roles)
    return held if actor.permissions is None else held & actor.permissions


def refuse_beyond_actor(actor: Actor, permissions: Iterable[str], what: str, field: str) -> None:
    """Nobody hands out governance rights they do not hold, so no role can climb to owner."""
    held = actor_permissions(actor)
    if held is None:
        return
    beyond = sorted(code for code in set(permissions) - held if is_governance(code))
    if beyond:
        raise Forbidden(
            f"You cannot {what}: it carries administrative permissions you do not hold "
            f"({', '.join(beyond)}). Ask an owner.",
            field=field,
        )


def refuse_if_outranks(actor: Actor, staff: Staff, verb: str) -> None:
    """Managing someone with more governance rights would let you borrow them."""
    if staff.id == actor.staff_id:
        return
    refuse_beyond_actor(
        actor,
        permissions_for_roles(staff.role_codes),
        f"{verb} {staff.full_name}",
        field="staff_id",
    )


SIGN_IN = "core.shell.use"


def set_role_permissions(
    actor: Actor, role: Role, permissions: Iterable[str], *, allow_no_sign_in: bool = False
) -> Role:
    """Replace ``role``'s permissions. A role without ``core.shell.use`` lets nobody who holds
    only it sign in; that is saved only when the person says so (``allow_no_sign_in``)."""
    wanted = sorted(set(permissions))
    unknown = [code for code in wanted if code not in REGISTRY]
    if unknown:
        raise InvalidInput(f"Unknown permission: {', '.join(unknown)}.", field="permissions")
    refuse_beyond_actor(
        actor,
        set(wanted) | set(role.permissions),
        f"change the {role.name} role",
        field="permissions",
    )
    if role.code == "owner" and "admin.roles.manage" not in wanted:
        raise Forbidden(
            "The owner role must keep 'admin.roles.manage', or nobody could fix roles again."
        )
    if SIGN_IN not in wanted and not allow_no_sign_in:
        # Named as the roles page lists it, so the person can find the box they unticked.
        what = REGISTRY[SIGN_IN].description if SIGN_IN in REGISTRY else SIGN_IN
        raise InvalidInput(
            f"Without “{what}” ({SIGN_IN}) nobody who has only the {role.name} role "
            "can sign in. Tick that permission again, or tick 'Save without sign-in' if that "
            "is what you want.",
            field="allow_no_sign_in",
        )
    if wanted == sorted(role.permissions):
        return role  # nothing changes: no audit event, no outbox row, no refresh banner
    with write_transaction():
        records.update(role, actor, action="role.permissions_changed", permissions=wanted)
        bus.publish(RolesChanged(branch=current_node().branch_id, payload={"role": role.code}))
    return role


# --- staff ------------------------------------------------------------------------------------


def get_staff(staff_id: str) -> Staff:
    staff = Staff.get_or_none(Staff.id == staff_id)
    if staff is None or staff.deleted_at is not None:
        raise NotFound("No such staff member.")
    return staff


def find_staff_by_username(username: str) -> Staff | None:
    return Staff.live().where(Staff.username == username.strip().lower()).first()


def staff_who_can_unlock() -> list[Staff]:
    """Active staff with a PIN: the people a locked shared screen offers to switch to."""
    return list(
        Staff.live()
        .where(Staff.active == True, Staff.pin_hash.is_null(False))  # noqa: E712
        .order_by(Staff.full_name)
    )


def create_staff(
    actor: Actor,
    *,
    username: str,
    full_name: str,
    role_codes: Iterable[str],
    password: str,
    min_password_length: int,
    email: str = "",
    phone: str = "",
    must_change_password: bool = True,
    pin: str | None = None,
) -> Staff:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            "Usernames are 2-32 lower-case letters, digits, '.', '_' or '-'.", field="username"
        )
    full_name = full_name.strip()
    if not full_name:
        raise InvalidInput("Enter the staff member's full name.", field="full_name")
    validate_password(password, username, min_password_length)
    if pin is not None and not PIN_RE.match(pin):
        raise InvalidInput("A PIN is 4 to 8 digits.", field="pin")
    # Hash before taking the write lock: argon2id costs ~0.1 s that no other write should wait.
    password_hash = hash_secret(password)
    pin_hash = hash_secret(pin) if pin else None
    with write_transaction():
        codes = validate_roles(role_codes)
        refuse_beyond_actor(actor, permissions_for_roles(codes), "give these roles", field="roles")
        if Staff.select().where(Staff.username == username).exists():
            raise Conflict(f"The username '{username}' is taken.", field="username")
        staff = records.create(
            Staff,
            actor,
            username=username,
            full_name=full_name,
            email=email.strip(),
            phone=phone.strip(),
            role_codes=codes,
            password_hash=password_hash,
            pin_hash=pin_hash,
            must_change_password=must_change_password,
        )
        _publish_staff_changed(staff, "created")
    return staff


def assign_roles(actor: Actor, staff: Staff, role_codes: Iterable[str]) -> Staff:
    with write_transaction():
        codes = validate_roles(role_codes)
        refuse_if_outranks(actor, staff, "change the roles of")
        refuse_beyond_actor(actor, permissions_for_roles(codes), "give these roles", field="roles")
        if "owner" in staff.role_codes and "owner" not in codes:
            _refuse_if_last_owner(staff, "take the owner role from")
        records.update(staff, actor, action="staff.roles_changed", role_codes=codes)
        _publish_staff_changed(staff, "roles_changed")
    return staff


def reset_password(actor: Actor, staff: Staff, new_password: str, min_length: int) -> Staff:
    """Admin sets a temporary password; the staff member must change it at next sign-in."""
    refuse_if_outranks(actor, staff, "reset the password of")
    validate_password(new_password, staff.username, min_length)
    password_hash = hash_secret(new_password)  # Outside the write lock; see create_staff.
    with write_transaction():
        records.update(
            staff,
            actor,
            action="staff.password_reset",
            password_hash=password_hash,
            must_change_password=True,
            session_epoch=staff.session_epoch + 1,
        )
        LoginThrottle.delete().where(LoginThrottle.staff == staff.id).execute()
        sessions.end_all_for(staff.id)
    return staff


def change_own_password(
    actor: Actor, staff: Staff, current: str, new_password: str, min_length: int
) -> Staff:
    if not verify_secret(staff.password_hash, current):
        raise InvalidInput("The current password is not right.", field="current_password")
    if current == new_password:
        raise InvalidInput("Choose a password different from the current one.", field="password")
    validate_password(new_password, staff.username, min_length)
    return records.update(
        staff,
        actor,
        action="staff.password_changed",
        password_hash=hash_secret(new_password),
        must_change_password=False,
        session_epoch=staff.session_epoch + 1,
    )


def set_own_pin(actor: Actor, staff: Staff, current_password: str, pin: str) -> Staff:
    if not verify_secret(staff.password_hash, current_password):
        raise InvalidInput("The current password is not right.", field="current_password")
    if not PIN_RE.match(pin):
        raise InvalidInput("A PIN is 4 to 8 digits.", field="pin")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise InvalidInput("Choose a PIN that is not a run or a repeated digit.", field="pin")
    return records.update(staff, actor, action="staff.pin_set", pin_hash=hash_secret(pin))


def set_active(actor: Actor, staff: Staff, active: bool) -> Staff:
    if not active and staff.id == actor.staff_id:
        raise Forbidden("You cannot deactivate your own account.")
    refuse_if_outranks(actor, staff, "deactivate" if not active else "reactivate")
    if staff.active == active:
        return staff  # nothing changes: no audit event, no outbox row, sessions kept
    with write_transaction():
        if not active and "owner" in staff.role_codes:
            _refuse_if_last_owner(staff, "deactivate")
        records.update(
            staff,
            actor,
            action="staff.activated" if active else "staff.deactivated",
            active=active,
            session_epoch=staff.session_epoch + 1,
        )
        if not active:
            sessions.end_all_for(staff.id)
        _publish_staff_changed(staff, "activated" if active else "deactivated")
    return staff


def update_profile(actor: Actor, staff: Staff, full_name: str, email: str, phone: str) -> Staff:
    if not full_name.strip():
        raise InvalidInput("Enter the staff member's full name.", field="full_name")
    refuse_if_outranks(actor, staff, "edit")
    with write_transaction():
        records.update(
            staff, actor, full_name=full_name.strip(), email=email.strip(), phone=phone.strip()
        )
        _publish_staff_changed(staff, "updated")
    return staff


def _refuse_if_last_owner(staff: Staff, verb: str) -> None:
    owners = [
        s
        for s in Staff.live().where(Staff.active == True)  # noqa: E712 (peewee expression)
        if "owner" in s.role_codes
    ]
    if len(owners) <= 1 and owners and owners[0].id == staff.id:
        raise Forbidden(f"You cannot {verb} the last active owner; make someone else owner first.")


def _publish_staff_changed(staff: Staff, change: str) -> None:
    bus.publish(
        StaffChanged(
            branch=current_node().branch_id,
            payload={"staff_id": staff.id, "change": change},
            audience_roles=("owner", "branch_manager", "clinic_admin", "it_admin"),
        )
    )


# --- sign-in: lockout and rate limit ----------------------------------------------------------


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
            _spend_hash_time(secret)
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
        with write_transaction():
            LoginThrottle.delete().where(LoginThrottle.staff == staff.id).execute()
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

    def unlock_account(self, actor: Actor, staff: Staff) -> None:
        refuse_if_outranks(actor, staff, "unlock")
        with write_transaction():
            deleted = LoginThrottle.delete().where(LoginThrottle.staff == staff.id).execute()
        if deleted:
            record_security(actor, "auth.account_unlocked", "staff", staff.id)


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


# --- API tokens -------------------------------------------------------------------------------

TOKEN_PREFIX = "pez_"  # noqa: S105 - a public marker, not a secret


def _token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; argon2 would cost every request.
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(
    actor: Actor,
    staff: Staff,
    *,
    name: str,
    scopes: Iterable[str],
    expires_days: int | None,
) -> tuple[ApiToken, str]:
    """Return the token row and its plaintext, which is shown once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the token a name that says what uses it.", field="name")
    wanted = sorted(set(scopes))
    if not wanted:
        raise InvalidInput("Choose at least one permission for the token.", field="scopes")
    unknown = [code for code in wanted if code not in REGISTRY]
    if unknown:
        raise InvalidInput(f"Unknown permission: {', '.join(unknown)}.", field="scopes")
    refuse_if_outranks(actor, staff, "make a token for")
    refuse_beyond_actor(actor, wanted, "make this token", field="scopes")
    held = permissions_for_roles(staff.role_codes)
    beyond = [code for code in wanted if code not in held]
    if beyond:
        raise InvalidInput(
            f"{staff.full_name} does not hold: {', '.join(beyond)}. "
            "A token can only carry permissions its owner has.",
            field="scopes",
        )
    if not staff.is_active:
        raise InvalidInput("Tokens can only be made for active staff.", field="staff_id")
    secret = secrets.token_urlsafe(32)
    plaintext = f"{TOKEN_PREFIX}{secret}"
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    token = records.create(
        ApiToken,
        actor,
        staff=staff.id,
        name=name,
        prefix=plaintext[:10],
        token_hash=_token_digest(plaintext),
        scopes=wanted,
        created_by=actor.label,
        expires_at=expires_at,
    )
    return token, plaintext


def revoke_api_token(actor: Actor, token: ApiToken) -> ApiToken:
    if token.revoked_at is not None:
        raise Conflict("This token was already revoked.")
    return records.update(token, actor, action="api_token.revoked", revoked_at=utcnow())


@dataclass(frozen=True)
class TokenIdentity:
    staff: Staff
    token: ApiToken
    permissions: frozenset[str]


def authenticate_token(plaintext: str) -> TokenIdentity | None:
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 128:
        return None
    token = ApiToken.get_or_none(ApiToken.token_hash == _token_digest(plaintext))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    staff = Staff.get_or_none(Staff.id == token.staff_id)
    if staff is None or not staff.is_active:
        return None
    # Constant-time compare on top of the indexed lookup keeps timing flat on the hash too.
    if not hmac.compare_digest(token.token_hash, _token_digest(plaintext)):
        return None
    _note_token_use(token, now)
    allowed = permissions_for_roles(staff.role_codes) & frozenset(token.scopes)
    return TokenIdentity(staff, token, allowed)


def _note_token_use(token: ApiToken, now: datetime) -> None:
    # Usage bookkeeping, not a change anyone made: at most one write an hour, and no audit
    # event, so a busy integration does not flood the log or the write lock.
    if token.last_used_at is None or now - token.last_used_at > timedelta(hours=1):
        with write_transaction():
            ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
