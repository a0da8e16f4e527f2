"""The core's API endpoints: who am I, and what may I do."""

from __future__ import annotations

from flask_login import current_user
from pydantic import BaseModel

from physioez.core.web.access import current_permissions
from physioez.core.web.api import Api

api = Api("core", tag="Session")


class MeOut(BaseModel):
    id: str
    username: str
    full_name: str
    roles: list[str]
    permissions: list[str]
    must_change_password: bool


@api.route(
    "/me",
    "GET",
    permission="core.shell.use",
    summary="The signed-in staff member (or token owner) and their permissions",
    response=MeOut,
)
def me():
    return MeOut(
        id=current_user.id,
        username=current_user.username,
        full_name=current_user.full_name,
        roles=current_user.role_codes,
        permissions=sorted(current_permissions()),
        must_change_password=current_user.must_change_password,
    )
