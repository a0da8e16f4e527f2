"""Admin pages: staff and roles, API tokens, the audit log viewer. Thin over services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from physioez.admin.api import schemas
from physioez.admin.services import audit, roles, tokens
from physioez.admin.services import staff as staff_accounts
from physioez.core.kernel import identity
from physioez.core.kernel.audit import state_at, verify_chain
from physioez.core.kernel.errors import InvalidInput, NotFound, ServiceError
from physioez.core.kernel.models import ApiToken
from physioez.core.kernel.permissions import REGISTRY
from physioez.core.kernel.signin import account_locked_until
from physioez.core.web.access import current_actor, requires
from physioez.core.web.boundary import parse_form
from physioez.core.web.branch import branch_zone, current_settings
from physioez.core.web.nav import NavItem

bp = Blueprint("admin", __name__, url_prefix="/admin")

NAV = (
    NavItem("Admin", "Staff", "admin.staff_list", "admin.staff.read"),
    NavItem("Admin", "Roles", "admin.role_list", "admin.staff.read"),
    NavItem("Admin", "API tokens", "admin.token_list", "admin.tokens.manage"),
    NavItem("Admin", "Audit log", "admin.audit_log", "admin.audit.read"),
)


def _min_password() -> int:
    return current_settings().auth.password_min_length


def _parse_local(value: str, field: str) -> datetime | None:
    """Times typed into forms are branch-local; storage and queries are UTC."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=branch_zone())
    except ValueError:
        raise InvalidInput("Enter a date and time like 2026-11-23 14:30.", field=field) from None


# --- staff --------------------------------------------------------------------------------


@bp.get("/staff")
@requires("admin.staff.read")
def staff_list():
    search = request.args.get("search", "")[:100]
    role = request.args.get("role", "")[:40]
    include_inactive = request.args.get("inactive") == "1"
    return render_template(
        "admin/staff_list.html",
        staff=staff_accounts.list_staff(search, role, include_inactive),
        roles=roles.list_roles(),
        search=search,
        role=role,
        include_inactive=include_inactive,
    )


def _staff_form(error: ServiceError | None = None, status: int = 200):
    """The new-account form, after a refusal as typed (the password left out), each problem
    at its box."""
    return render_template(
        "admin/staff_new.html",
        roles=roles.list_roles(),
        values=request.form,
        error=error.message if error else None,
        problems=error.fields if error else {},
        min_password=_min_password(),
    ), status


@bp.route("/staff/new", methods=["GET", "POST"])
@requires("admin.staff.manage")
def staff_new():
    if request.method == "GET":
        return _staff_form()
    try:
        wanted = parse_form(schemas.StaffCreateIn)
        staff = staff_accounts.create_staff(
            current_actor(),
            username=wanted.username,
            full_name=wanted.full_name,
            email=wanted.email,
            phone=wanted.phone,
            role_codes=wanted.roles,
            password=wanted.password,
            min_password_length=_min_password(),
        )
    except ServiceError as exc:
        return _staff_form(exc, exc.status)
    flash(
        f"{staff.full_name} can now sign in as '{staff.username}' with the temporary password "
        "and will be asked to choose their own.",
        "success",
    )
    return redirect(url_for("admin.staff_detail", staff_id=staff.id))


def _staff_page(
    staff, error: ServiceError | None = None, status: int = 200, failed: str | None = None
):
    """A staff member's page; ``failed``: the form ("roles") refused, shown as ticked."""
    return render_template(
        "admin/staff_detail.html",
        staff=staff,
        roles=roles.list_roles(),
        locked_until=account_locked_until(staff),
        history=audit.search_audit(
            audit.AuditFilter(entity_type="staff", entity_id=staff.id), limit=20
        ).events,
        names=audit.staff_names(),
        error=error.message if error else None,
        problems=error.fields if error else {},
        checked=request.form.getlist("roles") if failed == "roles" else staff.role_codes,
        min_password=_min_password(),
    ), status


@bp.get("/staff/<staff_id>")
@requires("admin.staff.read")
def staff_detail(staff_id: str):
    return _staff_page(identity.get_staff(staff_id))


@bp.post("/staff/<staff_id>/roles")
@requires("admin.staff.manage")
def staff_roles(staff_id: str):
    staff = identity.get_staff(staff_id)
    try:
        wanted = parse_form(schemas.StaffRolesIn)
        staff_accounts.assign_roles(current_actor(), staff, wanted.roles)
    except ServiceError as exc:
        return _staff_page(identity.get_staff(staff_id), exc, exc.status, failed="roles")
    flash(f"Roles of {staff.full_name} saved.", "success")
    return redirect(url_for("admin.staff_detail", staff_id=staff_id))


@bp.post("/staff/<staff_id>/password")
@requires("admin.staff.manage")
def staff_password(staff_id: str):
    staff = identity.get_staff(staff_id)
    try:
        wanted = parse_form(schemas.PasswordResetIn)
        staff_accounts.reset_password(current_actor(), staff, wanted.password, _min_password())
    except ServiceError as exc:
        return _staff_page(staff, exc, exc.status)
    flash(
        f"Temporary password set. {staff.full_name} must choose a new one at next sign-in; "
        "their other sessions have ended.",
        "success",
    )
    return redirect(url_for("admin.staff_detail", staff_id=staff_id))


@bp.post("/staff/<staff_id>/active")
@requires("admin.staff.manage")
def staff_active(staff_id: str):
    staff = identity.get_staff(staff_id)
    try:
        active = parse_form(schemas.StaffActiveIn).active
        staff_accounts.set_active(current_actor(), staff, active)
    except ServiceError as exc:
        return _staff_page(staff, exc, exc.status)
    flash(f"{staff.full_name} is {'active again' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.staff_detail", staff_id=staff_id))


@bp.post("/staff/<staff_id>/unlock")
@requires("admin.staff.manage")
def staff_unlock(staff_id: str):
    staff = identity.get_staff(staff_id)
    staff_accounts.unlock_account(current_actor(), staff)
    flash(f"{staff.full_name} can sign in again.", "success")
    return redirect(url_for("admin.staff_detail", staff_id=staff_id))


# --- roles -------------------------------------------------------------------------------


@bp.get("/roles")
@requires("admin.staff.read")
def role_list():
    return render_template("admin/role_list.html", roles=roles.list_roles(), registry=REGISTRY)


def _role_page(
    role,
    error: str | None = None,
    status: int = 200,
    *,
    chosen: list[str] | None = None,
    ask_no_sign_in: bool = False,
):
    """The role's permissions page; after a refusal, with the boxes as the person ticked
    them and, when the role would let nobody sign in, the box that says so on purpose."""
    grouped: dict[str, list] = {}
    for permission in REGISTRY.values():
        grouped.setdefault(permission.module, []).append(permission)
    return (
        render_template(
            "admin/role_edit.html",
            role=role,
            grouped=grouped,
            error=error,
            checked=role.permissions if chosen is None else chosen,
            ask_no_sign_in=ask_no_sign_in,
        ),
        status,
    )


def _role_or_404(code: str):
    role = roles.get_role(code)
    if role is None:
        raise NotFound(f"No role with code '{code}'.")
    return role


@bp.get("/roles/<code>")
@requires("admin.staff.read")
def role_edit(code: str):
    return _role_page(_role_or_404(code))


@bp.post("/roles/<code>")
@requires("admin.roles.manage")
def role_save(code: str):
    role = _role_or_404(code)
    try:
        wanted = parse_form(schemas.RolePermissionsIn)
        roles.set_role_permissions(
            current_actor(), role, wanted.permissions, allow_no_sign_in=wanted.allow_no_sign_in
        )
    except ServiceError as exc:
        return _role_page(
            role,
            exc.message,
            exc.status,
            chosen=request.form.getlist("permissions"),
            ask_no_sign_in=exc.field == "allow_no_sign_in",
        )
    flash(f"Permissions of {role.name} saved. They apply from the next page load.", "success")
    return redirect(url_for("admin.role_edit", code=code))


# --- API tokens --------------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@requires("admin.tokens.manage")
def token_list():
    created_secret = None
    refused: ServiceError | None = None
    if request.method == "POST":
        try:
            wanted = parse_form(schemas.TokenCreateIn)
            _, created_secret = tokens.create_api_token(
                current_actor(),
                identity.get_staff(wanted.staff_id),
                name=wanted.name,
                scopes=wanted.scopes,
                expires_days=wanted.expires_days,
            )
        except ServiceError as exc:
            refused = exc
    return render_template(
        "admin/tokens.html",
        tokens=tokens.list_tokens(),
        staff=staff_accounts.list_staff(),
        registry=REGISTRY,
        created_secret=created_secret,
        error=refused.message if refused else None,
        # After a refusal the form comes back as typed, each problem at its box.
        values=request.form if refused else MultiDict(),
        problems=refused.fields if refused else {},
    ), refused.status if refused else 200


@bp.post("/tokens/<token_id>/revoke")
@requires("admin.tokens.manage")
def token_revoke(token_id: str):
    token = ApiToken.get_or_none(ApiToken.id == token_id)
    if token is None:
        raise NotFound("No such API token.")
    tokens.revoke_api_token(current_actor(), token)
    flash(f"Token '{token.name}' is revoked; anything using it stops working now.", "success")
    return redirect(url_for("admin.token_list"))


# --- audit log ---------------------------------------------------------------------------


@bp.get("/audit")
@requires("admin.audit.read")
def audit_log():
    args = request.args
    error = None
    page = audit.AuditPage([], None)
    try:
        filters = audit.AuditFilter(
            actor_id=args.get("actor_id", "")[:64],
            action=args.get("action", "")[:80],
            entity_type=args.get("entity_type", "")[:40],
            entity_id=args.get("entity_id", "")[:64],
            kind=args.get("kind", "")
            if args.get("kind") in ("mutation", "read", "security")
            else "",
            since=_parse_local(args.get("since", ""), "since"),
            until=_parse_local(args.get("until", ""), "until"),
        )
        before = args.get("before", "")
        page = audit.search_audit(filters, int(before) if before.isdigit() else None)
    except ServiceError as exc:
        error = exc.message
    older_url = None
    if page.next_before:
        kept: dict[str, Any] = {key: value for key, value in args.items() if key != "before"}
        older_url = url_for("admin.audit_log", before=page.next_before, **kept)
    return render_template(
        "admin/audit.html",
        page=page,
        older_url=older_url,
        args=args,
        error=error,
        names=audit.staff_names(),
        changed_fields=audit.changed_fields,
        decoded=audit.decoded,
    ), (422 if error else 200)


@bp.get("/audit/verify")
@requires("admin.audit.read")
def audit_verify():
    return render_template("admin/audit_verify.html", result=verify_chain())


@bp.get("/audit/history")
@requires("admin.audit.read")
def audit_history():
    entity_type = request.args.get("entity_type", "")[:40]
    entity_id = request.args.get("entity_id", "")[:64]
    at_text = request.args.get("at", "")
    state = None
    error = None
    if entity_type and entity_id:
        try:
            at = _parse_local(at_text, "at") or datetime.now(branch_zone())
            state = state_at(entity_type, entity_id, at)
        except ServiceError as exc:
            error = exc.message
    return render_template(
        "admin/audit_history.html",
        state=state,
        error=error,
        entity_type=entity_type,
        entity_id=entity_id,
        at=at_text,
    )
