"""Staff identity as the kernel needs it to let anyone in: secret hashing, password and PIN
rules, the permissions of roles (and seeding the default roles at boot), looking staff up, and a
person changing their own password or PIN.

Sign-in with its lockout and rate limit is :mod:`~physioez.core.kernel.signin`, API-token
authentication :mod:`~physioez.core.kernel.api_tokens`; governing other people's accounts,
roles and tokens is the ``admin`` module's (``physioez.admin.services``).

No Flask here: views pass an :class:`~physioez.core.kernel.audit.Actor` and plain values, and get
back models or a :class:`~physioez.core.kernel.errors.ServiceError` with a message for the person.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable

import nacl.exceptions
import nacl.pwhash

from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.errors import InvalidInput, NotFound
from physioez.core.kernel.models import Role, Staff, fetch_by_id
from physioez.core.kernel.permissions import DEFAULT_ROLES, REGISTRY

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


def spend_hash_time(secret: str) -> None:
    """Verify against a throwaway hash so 'no such user' takes as long as 'wrong password'."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_secret(secrets.token_hex(16))
    verify_secret(_DUMMY_HASH, secret)


# --- validation -----------------------------------------------------------------------------

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


def actor_permissions(actor: Actor) -> frozenset[str] | None:
    """What ``actor`` may do; None for the appliance itself (CLI, start-up), which is unbounded."""
    if actor.staff_id is None:
        return None
    held = permissions_for_roles(actor.roles)
    return held if actor.permissions is None else held & actor.permissions


# --- lookups ---------------------------------------------------------------------------------


def staff_for_session(staff_id: str) -> Staff | None:
    """The staff row behind a session cookie; on every request, so SQL built once."""
    staff = fetch_by_id(Staff, staff_id)
    return None if staff is None or staff.deleted_at is not None else staff


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


# --- one's own account -----------------------------------------------------------------------


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
