"""Sign-in, lockout, rate limits, forced password change, idle lock and PIN switch, tokens."""

from __future__ import annotations

import re
from datetime import timedelta

from physioez.admin.services.tokens import create_api_token
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.models import ApiToken, AuditEvent, Staff, format_utc, utcnow
from tests.conftest import CSRF, PASSWORD, anonymous_client, make_settings, sign_in_client


def set_session_times(sid, **times):
    """Age a session on the box, as if time had passed."""
    for column, value in times.items():
        with write_transaction():
            database.execute_sql(
                f"UPDATE staff_session SET {column} = ? WHERE sid = ?",  # noqa: S608 - test-only
                (format_utc(value), sid),
            )


def sign_in(client, username, password, next_page=None):
    data = {"username": username, "password": password, "csrf_token": CSRF}
    if next_page:
        data["next"] = next_page
    return client.post("/sign-in", data=data)


def security_actions(staff_id=None):
    query = AuditEvent.select().where(AuditEvent.kind == "security").order_by(AuditEvent.seq)
    if staff_id:
        query = query.where(AuditEvent.entity_id == staff_id)
    return [event.action for event in query]


def test_sign_in_with_password_then_sign_out(app, anon, make_staff):
    staff = make_staff("receptionist", username="asha")
    response = sign_in(anon, "Asha", PASSWORD, next_page="/reception/")
    assert response.status_code == 302 and response.location == "/reception/"
    assert anon.get("/reception/").status_code == 200
    assert "auth.signed_in" in security_actions(staff.id)
    anon.post("/sign-out")
    assert anon.get("/reception/").status_code == 302


def test_session_cookie_is_httponly_and_samesite(app, anon, make_staff):
    make_staff("receptionist", username="asha")
    response = sign_in(anon, "asha", PASSWORD)
    cookie = next(v for k, v in response.headers if k == "Set-Cookie" and "physioez_session" in v)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_secure_cookie_when_behind_tls(tmp_path):
    from physioez.app import create_app

    app = create_app(make_settings(tmp_path, **{"server.behind_tls": True}))
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_wrong_password_says_what_to_do_and_is_audited(app, anon, make_staff):
    staff = make_staff("receptionist", username="asha")
    response = sign_in(anon, "asha", "not the password")
    assert response.status_code == 422
    assert b"Wrong username or password" in response.data
    assert security_actions(staff.id) == ["auth.sign_in_failed"]


def test_unknown_user_gets_the_same_message(app, anon):
    response = sign_in(anon, "nobody", "whatever-it-is")
    assert response.status_code == 422
    assert b"Wrong username or password" in response.data


def test_account_locks_after_threshold_and_admin_unlocks(app, anon, make_staff, client_for):
    staff = make_staff("receptionist", username="asha")
    threshold = app.config["PHYSIOEZ"].auth.lockout_threshold
    for _ in range(threshold - 1):
        assert sign_in(anon, "asha", "wrong-password").status_code == 422
    response = sign_in(anon, "asha", "wrong-password")
    assert response.status_code == 403
    assert b"locked after too many failed sign-ins" in response.data
    # Even the right password is refused while locked.
    response = sign_in(anon, "asha", PASSWORD)
    assert response.status_code == 403
    actions = security_actions(staff.id)
    assert "auth.account_locked" in actions and "auth.sign_in_refused_locked" in actions
    manager = client_for("branch_manager")
    assert manager.post(f"/admin/staff/{staff.id}/unlock").status_code == 302
    assert sign_in(anon, "asha", PASSWORD).status_code == 302


def test_lock_expires_after_lockout_minutes(app, anon, make_staff):
    from physioez.core.kernel.models import LoginThrottle

    staff = make_staff("receptionist", username="asha")
    for _ in range(app.config["PHYSIOEZ"].auth.lockout_threshold):
        sign_in(anon, "asha", "wrong-password")
    with write_transaction():
        LoginThrottle.update(locked_until=utcnow() - timedelta(seconds=1)).where(
            LoginThrottle.staff == staff.id
        ).execute()
    assert sign_in(anon, "asha", PASSWORD).status_code == 302


def test_ip_rate_limit(app, make_staff):
    make_staff("receptionist", username="asha")
    limit = app.config["PHYSIOEZ"].auth.ip_attempts_per_window
    client = anonymous_client(app)
    for attempt in range(limit):
        # Different unknown usernames: only the per-IP limit can stop this.
        assert sign_in(client, f"guess{attempt}", "wrong-password").status_code == 422
    response = sign_in(client, "asha", PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed sign-ins from this device" in response.data
    assert "auth.ip_rate_limited" in security_actions()
    other_ip = anonymous_client(app)
    response = other_ip.post(
        "/sign-in",
        data={"username": "asha", "password": PASSWORD, "csrf_token": CSRF},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert response.status_code == 302


def test_sign_in_without_csrf_token_is_refused(app, make_staff):
    make_staff("receptionist", username="asha")
    client = app.test_client()
    response = client.post(
        "/sign-in",
        data={"username": "asha", "password": PASSWORD},
        headers={"X-CSRF-Token": "forged"},
    )
    assert response.status_code == 400
    assert b"expired" in response.data


def test_open_redirect_is_refused(app, anon, make_staff):
    make_staff("receptionist", username="asha")
    response = sign_in(anon, "asha", PASSWORD, next_page="https://evil.example/")
    assert response.location == "/"
    response = sign_in(anon, "asha", PASSWORD, next_page="//evil.example/")
    assert response.location == "/"


def test_forced_password_change_at_first_sign_in(app, anon, make_staff):
    make_staff("receptionist", username="newbie", must_change_password=True)
    response = sign_in(anon, "newbie", PASSWORD)
    assert "/account/password" in response.location
    # Every other page sends them back to the password form.
    assert "/account/password" in anon.get("/reception/").location
    assert anon.get("/api/v1/me").status_code == 403
    response = anon.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "a brand new secret",
            "password_repeat": "a brand new secret",
        },
    )
    assert response.status_code == 302
    assert anon.get("/reception/").status_code == 200


def test_password_change_validates_and_ends_other_sessions(app, make_staff):
    staff = make_staff("receptionist", username="asha")
    mine = sign_in_client(app.test_client(), staff)
    other_device = sign_in_client(app.test_client(), staff)
    response = mine.post(
        "/account/password",
        data={"current_password": PASSWORD, "password": "short", "password_repeat": "short"},
    )
    assert response.status_code == 422 and b"at least" in response.data
    response = mine.post(
        "/account/password",
        data={
            "current_password": "wrong",
            "password": "long enough pass",
            "password_repeat": "long enough pass",
        },
    )
    assert response.status_code == 422 and b"current password is not right" in response.data
    response = mine.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "password": "long enough pass",
            "password_repeat": "long enough pass",
        },
    )
    assert response.status_code == 302
    assert mine.get("/profile").status_code == 200
    assert other_device.get("/profile").status_code == 302  # Signed out by the change.


def test_idle_session_locks_and_any_staff_unlocks_with_pin(app, make_staff):
    receptionist = make_staff("receptionist", username="asha", pin="4826")
    therapist = make_staff("clinic_admin", username="ravi", pin="7391")
    client = sign_in_client(app.test_client(), receptionist)
    assert client.get("/reception/").status_code == 200
    idle = app.config["PHYSIOEZ"].auth.idle_lock_minutes * 60
    set_session_times(client.sid, last_seen_at=utcnow() - timedelta(seconds=idle + 1))
    response = client.get("/reception/?view=today")
    assert response.status_code == 302
    assert response.location.startswith("/lock?next=")
    lock_page = client.get(response.location)
    assert b"Screen locked" in lock_page.data and b"ravi" in lock_page.data
    # Still locked for every other page until unlocked.
    assert client.get("/profile").status_code == 302
    wrong = client.post(
        "/unlock", data={"username": "ravi", "pin": "0000", "next": "/reception/?view=today"}
    )
    assert wrong.status_code == 422 and b"Wrong username or PIN" in wrong.data
    response = client.post(
        "/unlock", data={"username": "ravi", "pin": "7391", "next": "/reception/?view=today"}
    )
    assert response.status_code == 302 and response.location == "/reception/?view=today"
    me = client.get("/api/v1/me").get_json()
    assert me["id"] == therapist.id
    assert "auth.unlocked_with_pin" in security_actions(therapist.id)


def test_pin_rules(app, client_for):
    client = client_for("receptionist")
    for pin, message in [
        ("12", b"4 to 8 digits"),
        ("1111", b"repeated"),
        ("1234", b"repeated digit"),
    ]:
        response = client.post("/profile/pin", data={"pin": pin, "current_password": PASSWORD})
        assert response.status_code == 422 and message in response.data
    response = client.post("/profile/pin", data={"pin": "2749", "current_password": PASSWORD})
    assert response.status_code == 302


# --- API tokens ----------------------------------------------------------------------------


def test_token_is_scoped_hashed_and_revocable(app, client_for, make_staff):
    it = client_for("it_admin")
    service_account = make_staff("it_admin", username="reports.bot")
    response = it.post(
        "/api/v1/tokens",
        json={"staff_id": service_account.id, "name": "HQ reports", "scopes": ["admin.staff.read"]},
    )
    assert response.status_code == 201, response.get_json()
    secret = response.get_json()["secret"]
    token_id = response.get_json()["token"]["id"]
    assert secret.startswith("pez_")
    stored = ApiToken.get_by_id(token_id)
    assert secret not in stored.token_hash and stored.token_hash != secret
    bearer = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert bearer.get("/api/v1/staff", headers=auth).status_code == 200
    # Held by the token's owner but not in the token's scopes: refused.
    assert bearer.get("/api/v1/audit", headers=auth).status_code == 403
    # No CSRF needed for a token, but the scope still applies to writes.
    response = bearer.post("/api/v1/staff", headers=auth, json={})
    assert response.status_code == 403
    assert it.delete(f"/api/v1/tokens/{token_id}").status_code == 200
    response = bearer.get("/api/v1/staff", headers=auth)
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]


def test_token_cannot_exceed_its_owner(app, client_for, make_staff):
    it = client_for("it_admin")
    receptionist = make_staff("receptionist")
    response = it.post(
        "/api/v1/tokens",
        json={"staff_id": receptionist.id, "name": "x", "scopes": ["admin.audit.read"]},
    )
    assert response.status_code == 422
    assert response.get_json()["fields"]["scopes"].startswith("Test Receptionist does not hold")


def test_expired_and_garbage_tokens_are_refused(app, make_staff, system_actor):
    owner = make_staff("owner")
    token, secret = create_api_token(
        system_actor, owner, name="t", scopes=["admin.staff.read"], expires_days=1
    )
    with write_transaction():
        ApiToken.update(expires_at=utcnow() - timedelta(minutes=1)).where(
            ApiToken.id == token.id
        ).execute()
    client = app.test_client()
    for value in (secret, "pez_garbage", "x" * 500):
        response = client.get("/api/v1/staff", headers={"Authorization": f"Bearer {value}"})
        assert response.status_code == 401


def test_deactivated_staff_is_signed_out_and_cannot_sign_in(app, client_for, make_staff):
    staff = make_staff("receptionist", username="asha")
    session_of_staff = sign_in_client(app.test_client(), staff)
    manager = client_for("branch_manager")
    assert manager.post(f"/admin/staff/{staff.id}/active", data={"active": "0"}).status_code == 302
    assert session_of_staff.get("/reception/").status_code == 302
    response = sign_in(anonymous_client(app), "asha", PASSWORD)
    assert response.status_code == 422


def test_audit_of_sign_in_never_contains_the_password(app, anon, make_staff):
    make_staff("receptionist", username="asha")
    sign_in(anon, "asha", "my-wrong-secret-123")
    sign_in(anon, "asha", PASSWORD)
    for event in AuditEvent.select():
        blob = " ".join(str(getattr(event, f)) for f in ("before", "after", "detail"))
        assert "my-wrong-secret-123" not in blob and PASSWORD not in blob
        assert not re.search(r"\$argon2id\$", blob)


def test_switching_to_someone_without_access_lands_on_their_start_page(app, make_staff):
    manager = make_staff("branch_manager", username="mgr", pin="4826")
    make_staff("therapist", username="ravi", pin="7391")
    client = sign_in_client(app.test_client(), manager)
    client.get("/lock?next=/admin/staff")
    response = client.post(
        "/unlock", data={"username": "ravi", "pin": "7391", "next": "/admin/staff"}
    )
    assert response.location == "/"
    assert b"not part of your role" in client.get("/", follow_redirects=True).data


def test_nobody_grants_governance_rights_they_do_not_hold(app, client_for, make_staff):
    """Branch IT, managers and clinic admins manage staff, but cannot climb to owner."""
    owner = make_staff("owner", username="boss")
    peer = make_staff("receptionist", username="peer")
    it = client_for("it_admin")
    manager = client_for("branch_manager")
    clinic_admin = client_for("clinic_admin")

    response = it.put(f"/api/v1/staff/{it.staff.id}/roles", json={"roles": ["owner"]})
    assert response.status_code == 403 and "Ask an owner" in response.get_json()["error"]
    response = manager.post(
        "/api/v1/staff",
        json={
            "username": "sneaky",
            "full_name": "Sneaky",
            "roles": ["owner"],
            "password": "temporary-pass-1",
        },
    )
    assert response.status_code == 403
    assert set(response.get_json()["fields"]) == {"roles"}
    response = clinic_admin.post(
        f"/api/v1/staff/{owner.id}/password-reset", json={"password": "taken-over-1"}
    )
    assert response.status_code == 403
    response = it.post(
        "/api/v1/tokens", json={"staff_id": owner.id, "name": "x", "scopes": ["core.shell.use"]}
    )
    assert response.status_code == 403
    response = manager.put(
        "/api/v1/roles/branch_manager/permissions",
        json={"permissions": ["core.shell.use", "sync.replication.manage"]},
    )
    assert response.status_code == 403
    response = manager.put(
        "/api/v1/roles/owner/permissions",
        json={"permissions": ["core.shell.use", "admin.roles.manage"]},
    )
    assert response.status_code == 403
    assert Staff.get_by_id(owner.id).role_codes == ["owner"]
    # Everyday rights stay manageable: a clinic admin sets up a therapist, IT resets a
    # receptionist's forgotten password.
    response = clinic_admin.put(
        f"/api/v1/staff/{peer.id}/roles", json={"roles": ["receptionist", "therapist"]}
    )
    assert response.status_code == 200
    response = it.post(
        f"/api/v1/staff/{peer.id}/password-reset", json={"password": "new-temporary-1"}
    )
    assert response.status_code == 200


def test_a_token_cannot_mint_a_broader_token(app, make_staff, system_actor):
    it = make_staff("it_admin", username="it.person")
    _, secret = create_api_token(
        system_actor, it, name="narrow", scopes=["admin.tokens.manage"], expires_days=1
    )
    client = app.test_client()
    response = client.post(
        "/api/v1/tokens",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "staff_id": it.id,
            "name": "wide",
            "scopes": ["admin.tokens.manage", "admin.audit.read"],
        },
    )
    assert response.status_code == 403 and "admin.audit.read" in response.get_json()["error"]


def test_session_ends_after_session_hours_however_active(app, make_staff):
    staff = make_staff("receptionist", username="asha")
    client = sign_in_client(app.test_client(), staff)
    hours = app.config["PHYSIOEZ"].auth.session_hours
    set_session_times(client.sid, created_at=utcnow() - timedelta(hours=hours, seconds=1))
    response = client.get("/reception/")
    assert response.status_code == 302 and response.location.startswith("/sign-in")
    assert client.get("/api/v1/me").status_code == 401


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(app, make_staff):
    staff = make_staff("receptionist", username="asha")
    client = sign_in_client(app.test_client(), staff)
    with client.session_transaction() as session:
        stolen = dict(session)
    client.post("/sign-out")
    replay = app.test_client()
    with replay.session_transaction() as session:
        session.update(stolen)
    response = replay.get("/reception/")
    assert response.status_code == 302 and response.location.startswith("/sign-in")


def test_a_locked_screen_stays_locked_for_a_replayed_cookie(app, make_staff):
    staff = make_staff("receptionist", username="asha")
    client = sign_in_client(app.test_client(), staff)
    with client.session_transaction() as session:
        before_lock = dict(session)
    assert client.get("/lock?next=/reception/").status_code == 200
    replay = app.test_client()
    with replay.session_transaction() as session:
        session.update(before_lock)
    assert replay.get("/reception/").location.startswith("/lock")


def test_old_sessions_are_pruned(app, make_staff):
    from physioez.core.kernel import sessions

    staff = make_staff("receptionist")
    old = sign_in_client(app.test_client(), staff).sid
    fresh = sign_in_client(app.test_client(), staff).sid
    sessions.end(old)
    eight_days_ago = utcnow() - timedelta(days=8)
    set_session_times(old, last_seen_at=eight_days_ago, ended_at=eight_days_ago)
    assert sessions.prune(timedelta(days=7)) == 1
    assert sessions.get(old) is None and sessions.get(fresh) is not None
