"""The no-climbing rule: nobody hands out, or borrows through someone else's account,
governance permissions they do not hold, so no role can climb to owner.

Which permissions are governance is declared with them (``Permission(governance=True)`` in
each module's ``MODULE``); the appliance itself (CLI, start-up) is not bounded.
"""

from __future__ import annotations

from collections.abc import Iterable

from physioez.core.kernel.audit import Actor
from physioez.core.kernel.errors import Forbidden
from physioez.core.kernel.identity import actor_permissions, permissions_for_roles
from physioez.core.kernel.models import Staff
from physioez.core.kernel.permissions import is_governance


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
