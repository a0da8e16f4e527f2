"""Request hygiene shared by every page and API route.

CSRF on every state-changing request made with a session cookie, strict security headers,
a request-size limit, one JSON access-log line per request that never carries a secret,
and error answers that tell the person what to do next.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable

from flask import Flask, current_app, g, jsonify, render_template, request, session
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from physioez.core.errors import ServiceError
from physioez.core.web.access import is_api_request, new_csrf_token

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


def _log_request(response):
    started = g.get("request_started")
    if started is None or not g.get("access_log_enabled", True):
        return response
    line = {
        "method": request.method,
        # No query string: searches carry patient names.
        "path": request.path,
        "status": response.status_code,
        "ms": round((time.perf_counter() - started) * 1000, 2),
        "staff": current_user.id if current_user and current_user.is_authenticated else None,
        "ip": request.remote_addr,
    }
    access_log.info(json.dumps(line, separators=(",", ":")))
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
    if is_api_request():
        return jsonify(error=description or default, fields={}), status
    return error_page(status, description)


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
