"""API tokens as the kernel needs them: what a token looks like, and who a presented one is.

Making and revoking tokens is the ``admin`` module's (``physioez.admin.services.tokens``); it
mints them here, so the format and the stored digest are decided in one place.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.identity import permissions_for_roles
from physioez.core.kernel.models import ApiToken, Staff, utcnow

TOKEN_PREFIX = "pez_"  # noqa: S105 - a public marker, not a secret


def token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; argon2 would cost every request.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_plaintext() -> str:
    """A fresh token, shown to the person once; only its digest is ever stored."""
    return f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class TokenIdentity:
    staff: Staff
    token: ApiToken
    permissions: frozenset[str]


def authenticate_token(plaintext: str) -> TokenIdentity | None:
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 128:
        return None
    token = ApiToken.get_or_none(ApiToken.token_hash == token_digest(plaintext))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    staff = Staff.get_or_none(Staff.id == token.staff_id)
    if staff is None or not staff.is_active:
        return None
    # Constant-time compare on top of the indexed lookup keeps timing flat on the hash too.
    if not hmac.compare_digest(token.token_hash, token_digest(plaintext)):
        return None
    _note_token_use(token, now)
    allowed = permissions_for_roles(staff.role_codes) & frozenset(token.scopes)
    return TokenIdentity(staff, token, allowed)


def _note_token_use(token: ApiToken, now: datetime) -> None:
    # Usage bookkeeping, not a change anyone made: at most one write an hour, and no audit
    # event, so a busy integration does not flood the log or the write lock.
    if token.last_used_at is None or now - token.last_used_at > timedelta(hours=1):
        with write_transaction():
            ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
