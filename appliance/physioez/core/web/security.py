"""Request hygiene shared by every page and API route.

CSRF on every state-changing request made with a session cookie, strict security headers,
a request-size limit, one JSON access-log line per request that never carries a secret,
and error answers that tell the person what to do next.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import HTTPException

from physioez.core.kernel.errors import ServiceError
from physioez.core.web.access import is_api_request, new_csrf_token, signed_in_user

access_log = logging.getLogger("physioez.access")

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

ERROR_ADVICE = {
    400: ("The request was not understood", "Go back, check what you entered and try again."),
    401: ("Please sign in", "Your session ended. Sign in again to continue."),
    403: ("Not allowed", "Your role does not allow this. Ask a manager if you need it."),
    404: ("Page not found", "The link may be old. Use the menu to find what you need."),
    405: ("Not allowed here", "This address does not accept that action. Use the menu instead."),
    413: ("Too large", "The upload or form is larger than this box accepts."),
    422: ("Please check the form", "Some of what you entered needs another look."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
    500: ("Something went wrong", "It has been logged. Try again; if it keeps happening, tell IT."),
}


class VerifiedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with each distinct cookie's signature checked once.

    A signed-in tab sends the same cookie on every request until its session changes (the
    cookie is not re-signed per answer); checking its HMAC and inflating it again each time was
    about 5 % of a booking's CPU. A cookie whose exact text passed the full check under the
    current keys is decoded again without that check while its signed time is within the
    session lifetime, by the same rule as itsdangerous; any other cookie gets the full check.
    """

    max_remembered = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (keys, serializer, {cookie: (signed at, its payload as the session serializer wrote
        # it)}), swapped as one so a key change can never pair a cookie with the wrong keys.
        self._state: tuple[tuple, URLSafeTimedSerializer, dict[str, tuple[int, str]]] | None
        self._state = None

    def _current(self, app: Flask):
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        state = self._state
        if state is None or state[0] != keys:
            serializer = super().get_signing_serializer(app)
            if serializer is None:
                return None
            state = (keys, serializer, {})
            self._state = state
        return state

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        state = self._current(app)
        return None if state is None else state[1]

    def open_session(self, app: Flask, request) -> SecureCookieSession | None:
        state = self._current(app)
        if state is None:
            return None
        _, signer, verified = state
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        known = verified.get(cookie)
        if known is not None:
            signed_at, payload = known
            if 0 <= int(time.time()) - signed_at <= max_age:
                # Decoded afresh: each request gets session values of its own to change.
                return self.session_class(self.serializer.loads(payload))
            verified.pop(cookie, None)
            return self.session_class()
        try:
            data, signed = signer.loads(cookie, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        with self._lock:
            if len(verified) >= self.max_remembered:
                verified.clear()
            verified[cookie] = (int(signed.timestamp()), self.serializer.dumps(data))
        return self.session_class(data)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = new_csrf_token()
    return token


def allows_upload(limit_bytes: Callable[[], int]):
    """Let one view accept a body larger than ``server.max_request_kb`` (file uploads).

    The limit has to be set before anything reads the form, the CSRF check included.
    """

    def mark(view):
        view.physioez_upload_limit = limit_bytes
        return view

    return mark


def _apply_upload_limit():
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "physioez_upload_limit", None)
    if limit is not None:
        request.max_content_length = limit()


def _csrf_check():
    if request.method not in UNSAFE_METHODS or g.get("via_token"):
        return None
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return None  # Token requests carry no cookie to ride on; access.py authenticates them.
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        message = "This form has expired. Reload the page and try again."
        if is_api_request():
            return jsonify(error=message, fields={}), 400
        return error_page(400, message)
    return None


def _start_timer():
    g.request_started = time.perf_counter()


def _finish(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if g.get("refused_for_permission"):
        headers["X-Refused-Permission"] = g.refused_for_permission
    if request.endpoint != "static":
        # Pages carry patient data; keep them out of shared tablets' caches.
        headers.setdefault("Cache-Control", "no-store")
    return response


# Built once (json.dumps with options builds an encoder per call): one line per request.
_LOG_LINE = json.JSONEncoder(separators=(",", ":"))


def _log_request(response):
    started = g.get("request_started")
    if started is None or not g.get("access_log_enabled", True):
        return response
    user = signed_in_user()
    line = {
        "method": request.method,
        # No query string: searches carry patient names.
        "path": request.path,
        "status": response.status_code,
        "ms": round((time.perf_counter() - started) * 1000, 2),
        "staff": user.id if user and user.is_authenticated else None,
        "ip": request.remote_addr,
    }
    access_log.info(_LOG_LINE.encode(line))
    return response


def error_page(status: int, message: str | None = None):
    title, advice = ERROR_ADVICE.get(status, ERROR_ADVICE[500])
    return (
        render_template(
            "error.html", status=status, title=title, message=message or advice, advice=advice
        ),
        status,
    )


def _handle_http_error(error: HTTPException):
    status = error.code or 500
    default = ERROR_ADVICE.get(status, ERROR_ADVICE[500])[1]
    description = error.description if error.description and status in (400, 403) else None
    if status == 413:
        description = "The request is larger than this box accepts. Send a smaller file or form."
    # Werkzeug's own headers for the error, such as a 405's Allow (RFC 9110 requires it),
    # without its Content-Type: the answer here is JSON or a page.
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    if is_api_request():
        return jsonify(error=description or default, fields={}), status, headers
    page, status = error_page(status, description)
    return page, status, headers


def _handle_service_error(error: ServiceError):
    if is_api_request():
        return jsonify(error=error.message, fields=error.fields), error.status
    return error_page(error.status, error.message)


def _handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return _handle_http_error(error)
    logging.getLogger("physioez").exception(
        "unhandled error on %s %s", request.method, request.path
    )
    if is_api_request():
        return jsonify(error=ERROR_ADVICE[500][1], fields={}), 500
    return error_page(500)


def init_security(app: Flask) -> None:
    app.session_interface = VerifiedCookieSessions()
    app.before_request(_start_timer)
    app.before_request(_apply_upload_limit)
    app.before_request(_csrf_check)
    app.after_request(_finish)
    if app.config["PHYSIOEZ"].server.access_log:
        app.after_request(_log_request)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(ServiceError, _handle_service_error)
    app.register_error_handler(Exception, _handle_unexpected)
    app.jinja_env.globals["csrf_token"] = csrf_token
