"""Request and response shapes of the admin API; they also generate its OpenAPI entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from physioez.core.kernel.bounds import Bounds, Checkbox, Inbound
from physioez.core.kernel.models import ApiToken, AuditEvent, Role, Staff


class StaffCreateIn(Inbound):
    username: str = Field(min_length=2, max_length=32, description="Sign-in name, lower case")
    full_name: str = Field(min_length=1, max_length=120)
    roles: list[str] = Field(min_length=1, description="Role codes, e.g. ['receptionist']")
    password: str = Field(min_length=1, max_length=256, description="Temporary password")
    email: str = Field("", max_length=200)
    phone: str = Field("", max_length=40)


class StaffRolesIn(Inbound):
    roles: list[str] = Field(min_length=1)


class PasswordResetIn(Inbound):
    password: str = Field(min_length=1, max_length=256, description="New temporary password")


class StaffActiveIn(Inbound):
    active: bool


class StaffQuery(Inbound):
    search: str = Field("", max_length=100)
    role: str = Field("", max_length=40)
    include_inactive: bool = False


class StaffOut(BaseModel):
    id: str
    username: str
    full_name: str
    email: str
    phone: str
    roles: list[str]
    active: bool
    must_change_password: bool
    has_pin: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, staff: Staff) -> StaffOut:
        return cls(
            id=staff.id,
            username=staff.username,
            full_name=staff.full_name,
            email=staff.email,
            phone=staff.phone,
            roles=staff.role_codes,
            active=staff.active,
            must_change_password=staff.must_change_password,
            has_pin=staff.pin_hash is not None,
            created_at=staff.created_at,
            updated_at=staff.updated_at,
            version=staff.version,
        )


class StaffList(BaseModel):
    staff: list[StaffOut]


class RoleOut(BaseModel):
    code: str
    name: str
    description: str
    permissions: list[str]
    head_office: bool

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        return cls(
            code=role.code,
            name=role.name,
            description=role.description,
            permissions=role.permissions,
            head_office=role.head_office,
        )


class RoleList(BaseModel):
    roles: list[RoleOut]


class RolePermissionsIn(Inbound):
    permissions: list[str] = Field(max_length=500)
    allow_no_sign_in: Checkbox = Field(
        False,
        description="Save even without core.shell.use, with which nobody holding only this "
        "role can sign in",
    )

    @classmethod
    def form_values(cls, form, bounds) -> dict:
        # No box ticked sends no permissions field at all.
        return {**super().form_values(form, bounds), "permissions": form.getlist("permissions")}


class PermissionOut(BaseModel):
    code: str
    description: str


class PermissionList(BaseModel):
    permissions: list[PermissionOut]


class TokenCreateIn(Inbound):
    staff_id: str = Field(min_length=1, max_length=64, description="Whose rights the token uses")
    name: str = Field(min_length=1, max_length=80, description="What uses it, e.g. 'HQ reports'")
    scopes: list[str] = Field(min_length=1, description="Permission codes the token may use")
    expires_days: int | None = Field(90, ge=1, le=3650, description="Null for no expiry")

    @classmethod
    def form_values(cls, form: Any, bounds: Bounds) -> dict[str, Any]:
        # The page asks for days with "0 = never"; the API says never with null.
        values = super().form_values(form, bounds)
        if str(values.get("expires_days", "")).strip() == "0":
            values["expires_days"] = None
        return values


class TokenOut(BaseModel):
    id: str
    staff_id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            staff_id=token.staff_id,
            name=token.name,
            prefix=token.prefix,
            scopes=token.scopes,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


class TokenList(BaseModel):
    tokens: list[TokenOut]


class TokenCreatedOut(BaseModel):
    token: TokenOut
    secret: str = Field(description="Shown once; store it where the integration runs")


class AuditQuery(Inbound):
    actor_id: str = Field("", max_length=64)
    action: str = Field("", max_length=80)
    entity_type: str = Field("", max_length=40)
    entity_id: str = Field("", max_length=64)
    kind: Literal["", "mutation", "read", "security"] = ""
    since: AwareDatetime | None = Field(None, description="ISO 8601 with a UTC offset")
    until: AwareDatetime | None = Field(None, description="ISO 8601 with a UTC offset")
    before_seq: int | None = Field(None, ge=1)
    limit: int = Field(50, ge=1, le=500)


class AuditEventOut(BaseModel):
    seq: int
    id: str
    at: str
    kind: str
    actor_id: str | None
    actor_roles: str
    ip: str
    device: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    detail: Any
    hash: str

    @classmethod
    def of(cls, event: AuditEvent, values: dict[str, Any]) -> AuditEventOut:
        return cls(
            seq=event.seq,
            id=event.id,
            at=event.at,
            kind=event.kind,
            actor_id=event.actor_id,
            actor_roles=event.actor_roles,
            ip=event.ip,
            device=event.device,
            action=event.action,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            hash=event.hash,
            **values,
        )


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    next_before_seq: int | None


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    first_bad_event: str | None = None
    reason: str | None = None
