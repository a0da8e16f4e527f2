"""Who may open which route: every view declares a permission, and one hook enforces it.

The declaration is metadata on the view function; the check is a single ``before_request``
hook, so a route that forgets to declare anything is refused (fail closed) rather than
opened, and a test walks the URL map to name such routes before they ship.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, current_user, logout_user

from physioez.core.kernel import api_tokens, identity, sessions
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.models import Staff, utcnow
from physioez.core.kernel.permissions import PUBLIC, require_known
from physioez.core.web.branch import current_settings

PERMISSION_ATTR = "physioez_permission"
F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.session_protection = "basic"

# Pages a signed-in person may still reach while their screen is locked or while they must
# choose a new password first.
LOCKED_ALLOWED = {"shell.lock", "shell.unlock", "shell.sign_out"}
PASSWORD_CHANGE_ALLOWED = {"shell.change_password", "shell.sign_out", "shell.lock", "shell.unlock"}


def requires(permission: str) -> Callable[[F], F]:
    """Declare the permission a view needs (``PUBLIC`` for none)."""
    require_known(permission)

    def mark(view: F) -> F:
        setattr(view, PERMISSION_ATTR, permission)
        return view

    return mark


def public(view: F) -> F:
    return requires(PUBLIC)(view)


def declared_permission(app: Flask, endpoint: str) -> str | None:
    if endpoint == "static":
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, PERMISSION_ATTR, None)


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def client_ip() -> str:
    # The box is reached directly on the LAN; no proxy headers are trusted.
    return request.remote_addr or "unknown"


def signed_in_user():
    """The request's user, looked up once: each use of the ``current_user`` proxy repeats the
    lookup, and the hot paths read several of its fields."""
    return current_user._get_current_object()


def current_actor() -> Actor:
    device = request.headers.get("X-Device-Id") or request.user_agent.string or "unknown"
    user = signed_in_user()
    if user.is_authenticated:
        return Actor(
            user.id,
            tuple(user.role_codes),
            client_ip(),
            device,
            permissions=g.permissions if g.get("via_token") else None,
        )
    return Actor(None, ("anonymous",), client_ip(), device)


def current_permissions() -> frozenset[str]:
    if "permissions" not in g:
        user = signed_in_user()
        if not user.is_authenticated:
            g.permissions = frozenset()
        else:
            g.permissions = identity.permissions_for_roles(user.role_codes)
    return g.permissions


def can(permission: str) -> bool:
    return permission in current_permissions()


def safe_next(target: str | None, fallback: str = "/") -> str:
    """Only same-site paths are followed after sign-in or unlock (no open redirect)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def may_open(path: str) -> bool:
    """Whether the signed-in person's permissions let them open the page at ``path``."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    try:
        endpoint, _ = current_app.url_map.bind("").match(urlsplit(path).path, method="GET")
    except RequestRedirect:
        return True
    except HTTPException:
        return False
    permission = declared_permission(current_app, endpoint)
    return permission == PUBLIC or (permission is not None and can(permission))


@login_manager.user_loader
def _load_user(user_id: str) -> Staff | None:
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return None  # A token request is judged by its token alone, never by a cookie.
    staff_id, _, epoch = user_id.partition(":")
    staff = identity.staff_for_session(staff_id)
    if staff is None or not staff.is_active or str(staff.session_epoch) != epoch:
        return None
    return staff


@login_manager.request_loader
def _load_user_from_token(req) -> Staff | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    found = api_tokens.authenticate_token(header[len("Bearer ") :].strip())
    if found is None:
        return None
    g.permissions = found.permissions
    g.via_token = True
    return found.staff


def _refuse(status: int, message: str, next_page: str | None = None):
    if is_api_request():
        response = jsonify(error=message, fields={})
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="physioez"'
        return response
    if next_page:
        return redirect(next_page)
    abort(status, description=message)
    return None


def enforce_access():
    """The before_request hook: authenticate, then check the declared permission."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # No route matched: the 404 handler answers.
    permission = declared_permission(current_app, endpoint)
    if permission is None:
        current_app.logger.error("route %s declares no permission; refused", endpoint)
        return _refuse(403, "This page is not available.")
    if permission == PUBLIC:
        return None
    user = signed_in_user()  # Runs the session or token loader.
    authenticated = user.is_authenticated
    if request.headers.get("Authorization", "").startswith("Bearer ") and not g.get("via_token"):
        return _refuse(401, "The API token is missing, wrong, expired or revoked.")
    if not authenticated:
        return _refuse(
            401, "Please sign in.", url_for("shell.sign_in", next=request.full_path.rstrip("?"))
        )
    if not g.get("via_token"):
        refused = _check_session_state(endpoint, user)
        if refused is not None:
            return refused
    if permission not in current_permissions():
        # Marked so tests (and support) can tell a role refusal from a business rule's 403.
        g.refused_for_permission = permission
        return _refuse(403, "Your role does not allow this. Ask a manager if you need it.")
    return None


def _check_session_state(endpoint: str, user: Staff):
    """Apply what the box knows of this cookie's session: ended, too old, idle, locked."""
    auth = current_settings().auth
    state = sessions.get(session.get("sid"))
    now = utcnow()
    if state is None or state.ended or state.staff_id != user.id:
        return _end_session("Your session has ended. Please sign in again.")
    # Absolute lifetime, kept here and not left to the cookie: a cookie can be replayed.
    if now - state.created_at > timedelta(hours=auth.session_hours):
        sessions.end(state.sid)
        return _end_session(
            f"You were signed in for {auth.session_hours} hours. Please sign in again."
        )
    locked = state.locked
    if not locked and now - state.last_seen_at > timedelta(minutes=auth.idle_lock_minutes):
        sessions.set_locked(state.sid, True)
        locked = True
    if locked and endpoint not in LOCKED_ALLOWED:
        return _refuse(
            401,
            "The screen is locked. Unlock it with your PIN.",
            url_for("shell.lock", next=_current_page()),
        )
    if not locked:
        sessions.touch(state, now)
    if user.must_change_password and endpoint not in PASSWORD_CHANGE_ALLOWED:
        return _refuse(
            403, "Choose a new password before you continue.", url_for("shell.change_password")
        )
    return None


def session_is_usable() -> bool:
    """For channels without pages (Socket.IO): signed in, not ended, idle or locked."""
    if not current_user.is_authenticated or g.get("via_token"):
        return False
    state = sessions.get(session.get("sid"))
    if state is None or state.ended or state.locked or state.staff_id != current_user.id:
        return False
    idle = timedelta(minutes=current_settings().auth.idle_lock_minutes)
    return utcnow() - state.last_seen_at <= idle and not current_user.must_change_password


def _end_session(message: str):
    logout_user()
    csrf = session.get("csrf")
    session.clear()
    if csrf:
        session["csrf"] = csrf
    return _refuse(401, message, url_for("shell.sign_in", next=_current_page()))


def _current_page() -> str:
    if request.method == "GET" and not is_api_request():
        return request.full_path.rstrip("?")
    return (request.referrer and urlsplit(request.referrer).path) or "/"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)
