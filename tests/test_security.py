"""Security baseline: headers, CSRF, size limits, access log, helpful error pages."""

from __future__ import annotations

import json
import logging

from physioez.app import create_app
from tests.conftest import CSRF, PASSWORD, make_settings


def test_security_headers_on_pages_and_api(app, anon, client_for):
    for response in (anon.get("/sign-in"), client_for("owner").get("/api/v1/me")):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"


def test_templates_contain_no_inline_script_or_style(app):
    import re
    from pathlib import Path

    for template in Path(app.template_folder).rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert " style=" not in text and "<style" not in text, template
        assert not re.search(r"\bon[a-z]+=\"", text), template


def test_csrf_is_required_for_cookie_sessions(app, client_for):
    owner = client_for("owner")
    response = owner.post("/api/v1/staff", json={}, headers={"X-CSRF-Token": "wrong"})
    assert response.status_code == 400
    assert "expired" in response.get_json()["error"]
    response = owner.post("/admin/staff/new", data={"full_name": "x"}, headers={"X-CSRF-Token": ""})
    assert response.status_code == 400 and b"Reload the page" in response.data


def test_request_size_limit(tmp_path):
    app = create_app(make_settings(tmp_path, **{"server.max_request_kb": 16}))
    client = app.test_client()
    response = client.post("/sign-in", data={"username": "x" * 40_000})
    assert response.status_code == 413
    assert b"larger than this box accepts" in response.data
    response = client.post(
        "/api/v1/staff", data=b"{" + b" " * 40_000 + b"}", content_type="application/json"
    )
    assert response.status_code == 413 and "larger" in response.get_json()["error"]


def test_access_log_is_json_without_secrets(tmp_path, caplog):
    app = create_app(make_settings(tmp_path, **{"server.access_log": True}))
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="physioez.access"):
        client.get("/sign-in?next=/reception/&patient=Asha+Menon")
        client.post("/sign-in", data={"username": "asha", "password": "hunter2-secret"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "physioez.access"]
    assert lines[0]["method"] == "GET" and lines[0]["path"] == "/sign-in"
    assert set(lines[0]) == {"method", "path", "status", "ms", "staff", "ip"}
    text = caplog.text
    assert "hunter2-secret" not in text and "Asha" not in text
    assert "physioez_session" not in text and "csrf" not in text.lower()


def test_error_pages_say_what_to_do(app, client_for, anon):
    receptionist = client_for("receptionist")
    response = receptionist.get("/admin/staff")
    assert response.status_code == 403
    assert b"Ask a manager" in response.data and b"Go to the start page" in response.data
    response = receptionist.get("/no/such/page")
    assert response.status_code == 404 and b"Use the menu" in response.data
    response = receptionist.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.is_json


def test_unexpected_errors_are_500_pages_not_tracebacks(app, client_for):
    from physioez.core.web.access import requires

    @app.get("/explode")
    @requires("core.shell.use")
    def explode():
        raise RuntimeError("secret internals")

    response = client_for("owner").get("/explode")
    assert response.status_code == 500
    assert b"secret internals" not in response.data and b"tell IT" in response.data


def test_a_remembered_session_cookie_is_held_to_the_same_rules(app, client_for, monkeypatch):
    """Cookies are checked in full once, then remembered: a remembered cookie must still
    expire with the session lifetime, a forged one must still fail, and a new key must
    forget every cookie signed with the old one."""
    from physioez.core.web import security

    owner = client_for("owner")
    assert owner.get("/api/v1/me").status_code == 200  # may rewrite the cookie once
    cookie = owner.get_cookie("physioez_session").value
    assert owner.get("/api/v1/me").status_code == 200  # checked in full, remembered
    keys, _, remembered = app.session_interface._state
    assert cookie in remembered
    assert owner.get("/api/v1/me").status_code == 200  # remembered
    assert owner.get_cookie("physioez_session").value == cookie

    forged = app.test_client()
    forged.set_cookie("physioez_session", cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert forged.get("/api/v1/me").status_code == 401

    lifetime = app.permanent_session_lifetime.total_seconds()
    real_time = security.time.time
    monkeypatch.setattr(security.time, "time", lambda: real_time() + lifetime + 60)
    assert owner.get("/api/v1/me").status_code == 401
    assert cookie not in remembered
    monkeypatch.setattr(security.time, "time", real_time)

    assert owner.get("/api/v1/me").status_code == 200
    app.secret_key = b"another key entirely, as after a restore"
    assert owner.get("/api/v1/me").status_code == 401
    assert app.session_interface._state[0] != keys


def test_the_cookie_is_written_when_the_session_changes_not_on_every_answer(app, anon, make_staff):
    """docs/security.md: sign-in writes the cookie with its expiry auth.session_hours ahead;
    pages and API calls that change nothing in the session send no new cookie."""
    from email.utils import parsedate_to_datetime

    from physioez.core.kernel.models import utcnow

    def written(response) -> list[str]:
        return [v for k, v in response.headers if k == "Set-Cookie" and "physioez_session" in v]

    make_staff("receptionist", username="asha")
    signed_in = anon.post(
        "/sign-in", data={"username": "asha", "password": PASSWORD, "csrf_token": CSRF}
    )
    (cookie,) = written(signed_in)
    expires = parsedate_to_datetime(cookie.split("Expires=", 1)[1].split(";", 1)[0])
    hours = app.config["PHYSIOEZ"].auth.session_hours
    assert abs((expires - utcnow()).total_seconds() - hours * 3600) < 60
    for path in ("/reception/", "/api/v1/me", "/reception/"):
        response = anon.get(path)
        assert response.status_code == 200 and written(response) == []
