"""The one registry of permissions and the default roles built from them.

A permission is a dotted string ``<module>.<subject>.<verb>``. Views and API routes declare
one of these; the role -> permission mapping is data (the ``role`` table) that an admin can
edit, and these defaults only seed it. Declaring an unknown permission fails at import, so
a typo cannot silently open or close a route.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    code: str
    description: str
    # When a box that predates this permission first sees it, every role holding
    # ``granted_with`` receives it too (custom roles included), so carving a narrower right
    # out of an existing one takes nothing away from anybody on upgrade day.
    granted_with: str | None = None

    @property
    def module(self) -> str:
        return self.code.split(".", 1)[0]


# Marks routes that need no sign-in: sign-in itself, health, static assets.
PUBLIC = "public"

_ALL = [
    Permission("core.shell.use", "Use the staff app: home, profile, own password and PIN"),
    Permission("admin.staff.read", "See staff accounts and their roles"),
    Permission("admin.staff.manage", "Create staff, assign roles, reset passwords, deactivate"),
    Permission("admin.roles.manage", "Change which permissions each role has"),
    Permission("admin.tokens.manage", "Create and revoke API tokens"),
    Permission("admin.audit.read", "Read the audit log and verify its chain"),
    Permission("reception.frontdesk.view", "Open the front desk"),
    Permission("reception.patients.read", "Find and view patients"),
    Permission("reception.patients.write", "Register and edit patients, upload their documents"),
    Permission("reception.patients.merge", "Merge duplicate patient records"),
    Permission(
        "reception.documents.identity.read",
        "Open patients' identity documents (ID card scans)",
        granted_with="reception.patients.write",
    ),
    Permission(
        "reception.documents.clinical.read",
        "Open patients' clinical documents: reports, scans and referral letters",
        granted_with="clinical.notes.read",
    ),
    Permission("reception.appointments.read", "See the appointment book"),
    Permission("reception.appointments.write", "Book, move and cancel appointments"),
    Permission(
        "reception.appointments.any_practitioner",
        "Book, move, cancel and check in any practitioner's appointments, not only one's own",
        granted_with="reception.appointments.write",
    ),
    Permission("reception.attendance.write", "Check patients in and mark sessions and no-shows"),
    Permission(
        "reception.feeds.manage",
        "Make and revoke calendar links to one's own diary (every diary with schedule rights)",
        granted_with="reception.appointments.read",
    ),
    Permission("reception.inquiries.manage", "Take inquiries, follow them up, convert them"),
    Permission(
        "reception.schedule.manage", "Set hours, leave, rooms, appointment types, clash rules"
    ),
    Permission("clinical.notes.read", "Read clinical records"),
    Permission("clinical.notes.write", "Write assessments and session notes"),
    Permission("clinical.notes.sign", "Sign session notes"),
    Permission("clinical.notes.cosign", "Co-sign notes of junior therapists"),
    Permission("billing.invoices.read", "See invoices, payments and dues"),
    Permission("billing.checkout", "Check out patients: bill attended sessions, take payments"),
    Permission("billing.invoices.write", "Raise invoices by hand and cancel them by credit note"),
    Permission("billing.writeoff", "Write off dues and refund patients' credit"),
    Permission("billing.ledger.read", "Open the ledger and the trial balance"),
    Permission("billing.expenses.manage", "Record expenses and petty cash"),
    Permission("billing.prices.manage", "Change the price list and patients' concessions"),
    Permission("billing.exports.download", "Export invoices, receipts, expenses and reports"),
    Permission("billing.dayend.close", "Close the day and lock the cash drawer"),
    Permission("analytics.branch.view", "See this branch's reports"),
    Permission("analytics.network.view", "See consolidated reports of all branches"),
    Permission("system.appliance.manage", "Manage the appliance: printers, backups, network"),
]

REGISTRY: dict[str, Permission] = {p.code: p for p in _ALL}

# Permissions over people, roles and the box itself. Only someone who holds one may hand it
# out or manage a person who holds it, so no role can climb to owner; day-to-day clinical,
# front-desk and billing rights stay grantable by whoever manages staff.
GOVERNANCE_PREFIXES = ("admin.", "system.")


def is_governance(code: str) -> bool:
    return code.startswith(GOVERNANCE_PREFIXES)


def require_known(code: str) -> str:
    if code != PUBLIC and code not in REGISTRY:
        raise KeyError(f"Permission {code!r} is not in core.permissions.REGISTRY")
    return code


def _with_prefixes(*prefixes: str) -> list[str]:
    return [code for code in REGISTRY if code.startswith(prefixes)]


@dataclass(frozen=True)
class DefaultRole:
    code: str
    name: str
    description: str
    permissions: tuple[str, ...]
    head_office: bool = False


_SHELL = ("core.shell.use",)
# Clinicians read the book and run their own sessions (start, end) from it; without
# reception.appointments.any_practitioner that is their own appointments only. They open
# reports and referral letters, not identity scans.
_CLINICIAN = (
    "reception.patients.read",
    "reception.appointments.read",
    "reception.attendance.write",
    "reception.feeds.manage",
    "reception.documents.clinical.read",
)
# Front-desk roles that are not clinicians: everything of reception's they are given except
# clinical documents, which only clinicians (and whoever runs the branch) open.
_DESK_EXCLUDED = ("reception.documents.clinical.read",)

DEFAULT_ROLES: tuple[DefaultRole, ...] = (
    DefaultRole("owner", "Owner", "Everything, in every module", tuple(REGISTRY)),
    DefaultRole(
        "branch_manager",
        "Branch manager",
        "Runs the branch: staff, front desk, billing and reports",
        (
            *_SHELL,
            *_with_prefixes("admin.staff", "admin.roles", "admin.audit"),
            *_with_prefixes("reception.", "billing.", "analytics.branch"),
            "clinical.notes.read",
        ),
    ),
    DefaultRole(
        "clinic_admin",
        "Clinic administrator",
        "Staff accounts, front desk and the audit log",
        (
            *_SHELL,
            *_with_prefixes("admin.staff", "admin.audit"),
            *(code for code in _with_prefixes("reception.") if code not in _DESK_EXCLUDED),
            "analytics.branch.view",
        ),
    ),
    DefaultRole(
        "receptionist",
        "Receptionist",
        "Front desk: patients, appointments, check-in",
        (
            *_SHELL,
            *(
                code
                for code in _with_prefixes("reception.")
                if code
                not in ("reception.patients.merge", "reception.schedule.manage", *_DESK_EXCLUDED)
            ),
            # The desk checks patients out: bills sessions, takes money, prints receipts.
            "billing.invoices.read",
            "billing.checkout",
        ),
    ),
    DefaultRole(
        "therapist",
        "Therapist",
        "Clinical records, own appointment book, co-signs juniors",
        (*_SHELL, *_CLINICIAN, *_with_prefixes("clinical.")),
    ),
    DefaultRole(
        "junior_therapist",
        "Junior therapist",
        "Writes notes that a therapist co-signs",
        (*_SHELL, *_CLINICIAN, "clinical.notes.read", "clinical.notes.write"),
    ),
    DefaultRole(
        "billing",
        "Billing",
        "Invoices, payments, dues and the day-end close",
        (*_SHELL, "reception.patients.read", *_with_prefixes("billing."), "analytics.branch.view"),
    ),
    DefaultRole(
        "it_admin",
        "Branch IT",
        "The appliance, staff sign-in problems and API tokens",
        (
            *_SHELL,
            "system.appliance.manage",
            *_with_prefixes("admin.staff", "admin.tokens", "admin.audit"),
        ),
    ),
    DefaultRole(
        "finance_lead",
        "Finance lead (head office)",
        "Reads billing and reports of every branch",
        (*_SHELL, "billing.invoices.read", *_with_prefixes("analytics."), "admin.audit.read"),
        head_office=True,
    ),
    DefaultRole(
        "network_ops",
        "Network operations (head office)",
        "Keeps every branch's appliance healthy",
        (*_SHELL, "system.appliance.manage", "analytics.network.view", "admin.audit.read"),
        head_office=True,
    ),
)

DEFAULT_ROLE_CODES = tuple(role.code for role in DEFAULT_ROLES)

for _role in DEFAULT_ROLES:
    for _code in _role.permissions:
        require_known(_code)
for _permission in _ALL:
    if _permission.granted_with is not None:
        require_known(_permission.granted_with)
