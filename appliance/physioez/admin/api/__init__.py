"""The admin API: staff, roles, permissions, API tokens and the audit log."""

from __future__ import annotations

from physioez.admin.api import schemas
from physioez.admin.services import audit, roles, tokens
from physioez.admin.services import staff as staff_accounts
from physioez.core.kernel import identity
from physioez.core.kernel.audit import verify_chain
from physioez.core.kernel.errors import NotFound
from physioez.core.kernel.models import ApiToken
from physioez.core.kernel.permissions import REGISTRY
from physioez.core.web.access import current_actor
from physioez.core.web.api import Api
from physioez.core.web.branch import current_settings

api = Api("admin", tag="Admin")


def _min_password() -> int:
    return current_settings().auth.password_min_length


@api.route(
    "/staff",
    "GET",
    permission="admin.staff.read",
    summary="List staff",
    query=schemas.StaffQuery,
    response=schemas.StaffList,
)
def list_staff(query: schemas.StaffQuery):
    found = staff_accounts.list_staff(query.search, query.role, query.include_inactive)
    return schemas.StaffList(staff=[schemas.StaffOut.of(s) for s in found])


@api.route(
    "/staff",
    "POST",
    permission="admin.staff.manage",
    summary="Create a staff account",
    body=schemas.StaffCreateIn,
    response=schemas.StaffOut,
    status=201,
    errors=(409,),
)
def create_staff(body: schemas.StaffCreateIn):
    staff = staff_accounts.create_staff(
        current_actor(),
        username=body.username,
        full_name=body.full_name,
        role_codes=body.roles,
        password=body.password,
        email=body.email,
        phone=body.phone,
        min_password_length=_min_password(),
    )
    return schemas.StaffOut.of(staff)


@api.route(
    "/staff/<staff_id>",
    "GET",
    permission="admin.staff.read",
    summary="One staff account",
    response=schemas.StaffOut,
)
def get_staff(staff_id: str):
    return schemas.StaffOut.of(identity.get_staff(staff_id))


@api.route(
    "/staff/<staff_id>/roles",
    "PUT",
    permission="admin.staff.manage",
    summary="Replace a staff member's roles",
    body=schemas.StaffRolesIn,
    response=schemas.StaffOut,
)
def set_staff_roles(staff_id: str, body: schemas.StaffRolesIn):
    staff = staff_accounts.assign_roles(current_actor(), identity.get_staff(staff_id), body.roles)
    return schemas.StaffOut.of(staff)


@api.route(
    "/staff/<staff_id>/password-reset",
    "POST",
    permission="admin.staff.manage",
    summary="Set a temporary password (changed at next sign-in)",
    body=schemas.PasswordResetIn,
    response=schemas.StaffOut,
)
def reset_staff_password(staff_id: str, body: schemas.PasswordResetIn):
    staff = staff_accounts.reset_password(
        current_actor(), identity.get_staff(staff_id), body.password, _min_password()
    )
    return schemas.StaffOut.of(staff)


@api.route(
    "/staff/<staff_id>/active",
    "PUT",
    permission="admin.staff.manage",
    summary="Activate or deactivate an account",
    body=schemas.StaffActiveIn,
    response=schemas.StaffOut,
)
def set_staff_active(staff_id: str, body: schemas.StaffActiveIn):
    staff = staff_accounts.set_active(current_actor(), identity.get_staff(staff_id), body.active)
    return schemas.StaffOut.of(staff)


@api.route(
    "/roles",
    "GET",
    permission="admin.staff.read",
    summary="Roles and their permissions",
    response=schemas.RoleList,
)
def list_roles():
    return schemas.RoleList(roles=[schemas.RoleOut.of(r) for r in roles.list_roles()])


@api.route(
    "/roles/<code>/permissions",
    "PUT",
    permission="admin.roles.manage",
    summary="Replace a role's permissions",
    body=schemas.RolePermissionsIn,
    response=schemas.RoleOut,
)
def set_role_permissions(code: str, body: schemas.RolePermissionsIn):
    role = roles.get_role(code)
    if role is None:
        raise NotFound(f"No role with code '{code}'.")
    return schemas.RoleOut.of(
        roles.set_role_permissions(
            current_actor(), role, body.permissions, allow_no_sign_in=body.allow_no_sign_in
        )
    )


@api.route(
    "/permissions",
    "GET",
    permission="admin.staff.read",
    summary="Every permission in the registry",
    response=schemas.PermissionList,
)
def list_permissions():
    return schemas.PermissionList(
        permissions=[
            schemas.PermissionOut(code=p.code, description=p.description) for p in REGISTRY.values()
        ]
    )


@api.route(
    "/tokens",
    "GET",
    permission="admin.tokens.manage",
    summary="Active API tokens",
    response=schemas.TokenList,
)
def list_tokens():
    return schemas.TokenList(tokens=[schemas.TokenOut.of(t) for t in tokens.list_tokens()])


@api.route(
    "/tokens",
    "POST",
    permission="admin.tokens.manage",
    summary="Create an API token (its secret is returned once)",
    body=schemas.TokenCreateIn,
    response=schemas.TokenCreatedOut,
    status=201,
    errors=(404,),
)
def create_token(body: schemas.TokenCreateIn):
    token, secret = tokens.create_api_token(
        current_actor(),
        identity.get_staff(body.staff_id),
        name=body.name,
        scopes=body.scopes,
        expires_days=body.expires_days,
    )
    return schemas.TokenCreatedOut(token=schemas.TokenOut.of(token), secret=secret)


@api.route(
    "/tokens/<token_id>",
    "DELETE",
    permission="admin.tokens.manage",
    summary="Revoke an API token",
    response=schemas.TokenOut,
    errors=(409,),
)
def revoke_token(token_id: str):
    token = ApiToken.get_or_none(ApiToken.id == token_id)
    if token is None:
        raise NotFound("No such API token.")
    return schemas.TokenOut.of(tokens.revoke_api_token(current_actor(), token))


@api.route(
    "/audit",
    "GET",
    permission="admin.audit.read",
    summary="Search the audit log",
    query=schemas.AuditQuery,
    response=schemas.AuditPageOut,
)
def search_audit(query: schemas.AuditQuery):
    page = audit.search_audit(
        audit.AuditFilter(
            actor_id=query.actor_id,
            action=query.action,
            entity_type=query.entity_type,
            entity_id=query.entity_id,
            kind=query.kind,
            since=query.since,
            until=query.until,
        ),
        before_seq=query.before_seq,
        limit=query.limit,
    )
    return schemas.AuditPageOut(
        events=[schemas.AuditEventOut.of(e, audit.decoded(e)) for e in page.events],
        next_before_seq=page.next_before,
    )


@api.route(
    "/audit/verify",
    "GET",
    permission="admin.audit.read",
    summary="Verify the audit hash chain",
    response=schemas.VerifyOut,
)
def verify_audit():
    result = verify_chain()
    bad = result.first_break
    return schemas.VerifyOut(
        ok=result.ok,
        checked=result.checked,
        first_bad_seq=bad.seq if bad else None,
        first_bad_event=bad.event_id if bad else None,
        reason=bad.reason if bad else None,
    )
