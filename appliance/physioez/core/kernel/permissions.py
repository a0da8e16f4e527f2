"""The one registry of permissions and the default roles built from them.

A permission is a dotted string ``<module>.<subject>.<verb>``, declared by its module (its
:class:`~physioez.core.kernel.modules.Module`) with the default roles that hold it. Views and
API routes declare one of these; the role -> permission mapping is data (the ``role`` table)
that an admin can edit, and these defaults only seed it. Declaring an unknown permission fails
at import, so a typo cannot silently open or close a route.
"""

from __future__ import annotations

from dataclasses import dataclass

# Marks routes that need no sign-in: sign-in itself, health, static assets.
PUBLIC = "public"


@dataclass(frozen=True)
class Permission:
    code: str
    description: str
    # Default roles that hold it (the owner holds every permission); seeds the role table.
    roles: tuple[str, ...] = ()
    # Over people, roles or the box itself: only someone who holds it may hand it out or
    # manage a person who holds it, so no role can climb to owner. Day-to-day clinical,
    # front-desk and billing rights stay grantable by whoever manages staff.
    governance: bool = False
    # When a box that predates this permission first sees it, every role holding
    # ``granted_with`` receives it too (custom roles included), so carving a narrower right
    # out of an existing one takes nothing away from anybody on upgrade day. It may name a
    # code of a module not installed here: roles keep the codes they were given.
    granted_with: str | None = None

    @property
    def module(self) -> str:
        return self.code.split(".", 1)[0]


REGISTRY: dict[str, Permission] = {}


def register(*permissions: Permission) -> None:
    for permission in permissions:
        held = REGISTRY.get(permission.code)
        if held is not None and held != permission:
            raise ValueError(f"Permission {permission.code!r} is declared twice, differently.")
        unknown = sorted(set(permission.roles) - set(DEFAULT_ROLE_CODES))
        if unknown:
            raise ValueError(f"Permission {permission.code!r} names unknown roles {unknown}.")
        REGISTRY[permission.code] = permission


def unregister(*permissions: Permission) -> None:
    for permission in permissions:
        REGISTRY.pop(permission.code, None)


def is_governance(code: str) -> bool:
    permission = REGISTRY.get(code)
    return permission is not None and permission.governance


def require_known(code: str) -> str:
    if code != PUBLIC and code not in REGISTRY:
        raise KeyError(f"Permission {code!r} is not declared by any installed module")
    return code


@dataclass(frozen=True)
class DefaultRole:
    code: str
    name: str
    description: str
    head_office: bool = False

    @property
    def permissions(self) -> tuple[str, ...]:
        """What the role holds by default: every permission for the owner, else those that
        name it, from the modules declared so far."""
        return tuple(
            code
            for code, permission in REGISTRY.items()
            if self.code == "owner" or self.code in permission.roles
        )


DEFAULT_ROLES: tuple[DefaultRole, ...] = (
    DefaultRole("owner", "Owner", "Everything, in every module"),
    DefaultRole(
        "branch_manager",
        "Branch manager",
        "Runs the branch: staff, front desk, billing and reports",
    ),
    DefaultRole(
        "clinic_admin", "Clinic administrator", "Staff accounts, front desk and the audit log"
    ),
    DefaultRole("receptionist", "Receptionist", "Front desk: patients, appointments, check-in"),
    DefaultRole(
        "therapist", "Therapist", "Clinical records, own appointment book, co-signs juniors"
    ),
    DefaultRole("junior_therapist", "Junior therapist", "Writes notes that a therapist co-signs"),
    DefaultRole("billing", "Billing", "Invoices, payments, dues and the day-end close"),
    DefaultRole("it_admin", "Branch IT", "The appliance, staff sign-in problems and API tokens"),
    DefaultRole(
        "finance_lead",
        "Finance lead (head office)",
        "Reads billing and reports of every branch",
        head_office=True,
    ),
    DefaultRole(
        "network_ops",
        "Network operations (head office)",
        "Keeps every branch's appliance healthy",
        head_office=True,
    ),
)

DEFAULT_ROLE_CODES = tuple(role.code for role in DEFAULT_ROLES)
EVERY_ROLE = tuple(code for code in DEFAULT_ROLE_CODES if code != "owner")

# The kernel's own permission: using the staff app at all.
register(
    Permission(
        "core.shell.use", "Use the staff app: home, profile, own password and PIN", EVERY_ROLE
    )
)
