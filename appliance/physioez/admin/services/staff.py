"""Governing staff accounts: create, assign roles, reset a password, (de)activate, edit,
unlock; the no-climbing rule and the last-owner rule on each. One's own password and PIN are
the kernel's (``core.kernel.identity``), since signing in needs them without this module."""

from __future__ import annotations

import re
from collections.abc import Iterable

from physioez.admin.services.governance import refuse_beyond_actor, refuse_if_outranks
from physioez.core.kernel import records, sessions
from physioez.core.kernel.audit import Actor, record_security
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Conflict, Forbidden, InvalidInput
from physioez.core.kernel.events import StaffChanged, bus
from physioez.core.kernel.identity import (
    PIN_RE,
    hash_secret,
    permissions_for_roles,
    validate_password,
)
from physioez.core.kernel.models import Role, Staff
from physioez.core.kernel.node import current_node
from physioez.core.kernel.signin import forget_failures

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


def list_staff(search: str = "", role: str = "", include_inactive: bool = False) -> list[Staff]:
    query = Staff.live().order_by(Staff.full_name)
    if not include_inactive:
        query = query.where(Staff.active == True)  # noqa: E712
    if search.strip():
        pattern = f"%{search.strip()}%"
        query = query.where(Staff.full_name**pattern | Staff.username**pattern)
    staff = list(query)
    if role:
        staff = [member for member in staff if role in member.role_codes]
    return staff


def validate_roles(role_codes: Iterable[str]) -> list[str]:
    codes = sorted(set(role_codes))
    if not codes:
        raise InvalidInput("Choose at least one role.", field="roles")
    known = {code for (code,) in Role.live().select(Role.code).tuples()}
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise InvalidInput(f"Unknown role: {', '.join(unknown)}.", field="roles")
    return codes


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
        forget_failures(staff.id)
        sessions.end_all_for(staff.id)
    return staff


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


def unlock_account(actor: Actor, staff: Staff) -> None:
    """Lift a sign-in lockout before it runs out (the per-address limit is not touched)."""
    refuse_if_outranks(actor, staff, "unlock")
    if forget_failures(staff.id):
        record_security(actor, "auth.account_unlocked", "staff", staff.id)


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
