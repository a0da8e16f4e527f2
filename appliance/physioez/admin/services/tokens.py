"""API tokens for integrations: made for an active person, carrying no more than that person
holds (nor governance the maker lacks), shown once, revocable. Authenticating a presented token
is the kernel's (``core.kernel.api_tokens``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from physioez.admin.services.governance import refuse_beyond_actor, refuse_if_outranks
from physioez.core.kernel import records
from physioez.core.kernel.api_tokens import new_token_plaintext, token_digest
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.errors import Conflict, InvalidInput
from physioez.core.kernel.identity import permissions_for_roles
from physioez.core.kernel.models import ApiToken, Staff, utcnow
from physioez.core.kernel.permissions import REGISTRY


def list_tokens(include_revoked: bool = False) -> list[ApiToken]:
    query = ApiToken.select(ApiToken, Staff).join(Staff).order_by(ApiToken.created_at.desc())
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_null())
    return list(query)


def create_api_token(
    actor: Actor,
    staff: Staff,
    *,
    name: str,
    scopes: Iterable[str],
    expires_days: int | None,
) -> tuple[ApiToken, str]:
    """Return the token row and its plaintext, which is shown once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the token a name that says what uses it.", field="name")
    wanted = sorted(set(scopes))
    if not wanted:
        raise InvalidInput("Choose at least one permission for the token.", field="scopes")
    unknown = [code for code in wanted if code not in REGISTRY]
    if unknown:
        raise InvalidInput(f"Unknown permission: {', '.join(unknown)}.", field="scopes")
    refuse_if_outranks(actor, staff, "make a token for")
    refuse_beyond_actor(actor, wanted, "make this token", field="scopes")
    held = permissions_for_roles(staff.role_codes)
    beyond = [code for code in wanted if code not in held]
    if beyond:
        raise InvalidInput(
            f"{staff.full_name} does not hold: {', '.join(beyond)}. "
            "A token can only carry permissions its owner has.",
            field="scopes",
        )
    if not staff.is_active:
        raise InvalidInput("Tokens can only be made for active staff.", field="staff_id")
    plaintext = new_token_plaintext()
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    token = records.create(
        ApiToken,
        actor,
        staff=staff.id,
        name=name,
        prefix=plaintext[:10],
        token_hash=token_digest(plaintext),
        scopes=wanted,
        created_by=actor.label,
        expires_at=expires_at,
    )
    return token, plaintext


def revoke_api_token(actor: Actor, token: ApiToken) -> ApiToken:
    if token.revoked_at is not None:
        raise Conflict("This token was already revoked.")
    return records.update(token, actor, action="api_token.revoked", revoked_at=utcnow())
