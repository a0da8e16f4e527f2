"""Governance: staff and roles, permissions, API tokens, the audit log viewer."""

from __future__ import annotations

from physioez.core.kernel.modules import Module
from physioez.core.kernel.permissions import Permission

_STAFF_MANAGERS = ("branch_manager", "clinic_admin", "it_admin")
_AUDITORS = (*_STAFF_MANAGERS, "finance_lead", "network_ops")

MODULE = Module(
    name="admin",
    description="Governance: staff and roles, API tokens, the audit log",
    permissions=(
        Permission("admin.staff.read", "See staff accounts and their roles", _STAFF_MANAGERS, True),
        Permission(
            "admin.staff.manage",
            "Create staff, assign roles, reset passwords, deactivate",
            _STAFF_MANAGERS,
            True,
        ),
        Permission(
            "admin.roles.manage",
            "Change which permissions each role has",
            ("branch_manager",),
            True,
        ),
        Permission("admin.tokens.manage", "Create and revoke API tokens", ("it_admin",), True),
        Permission("admin.audit.read", "Read the audit log and verify its chain", _AUDITORS, True),
    ),
    web="physioez.admin.web:WEB",
)
