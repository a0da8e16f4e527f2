"""Roles and what each may do: the owner keeps role management, a role without sign-in is
saved only on purpose, and nobody grants governance permissions they lack."""

from __future__ import annotations

from collections.abc import Iterable

from physioez.admin.services.governance import refuse_beyond_actor
from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.errors import Forbidden, InvalidInput
from physioez.core.kernel.events import RolesChanged, bus
from physioez.core.kernel.models import Role
from physioez.core.kernel.node import current_node
from physioez.core.kernel.permissions import REGISTRY


def list_roles() -> list[Role]:
    return list(Role.live().order_by(Role.head_office, Role.name))


def get_role(code: str) -> Role | None:
    return Role.live().where(Role.code == code).first()


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
