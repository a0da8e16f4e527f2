"""Every route declares a permission, and every default role gets exactly what it should."""

from __future__ import annotations

import re

import pytest

from physioez.core.kernel.db import database
from physioez.core.kernel.permissions import DEFAULT_ROLES, PUBLIC, REGISTRY
from physioez.core.web.access import declared_permission
from tests.conftest import sign_in_client

# Routes that need no sign-in, by design; anything else without a declaration fails.
EXPECTED_PUBLIC = {
    "static",
    "shell.sign_in",
    "shell.healthz",
    "openapi",
    "reception.calendar_feed",  # the token in the URL is the credential
}


# Permissions that only let a person look; a route declaring one must never write.
READ_ONLY = (".read", ".view")


def _routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_declares_a_known_permission(app):
    missing = []
    for rule in app.url_map.iter_rules():
        permission = declared_permission(app, rule.endpoint)
        if permission is None:
            missing.append(f"{rule.rule} ({rule.endpoint})")
        elif permission != PUBLIC:
            assert permission in REGISTRY, f"{rule.endpoint} declares unknown {permission}"
    assert not missing, f"routes without a permission: {missing}"


def test_only_the_expected_routes_are_public(app):
    public = {
        r.endpoint
        for r in app.url_map.iter_rules()
        if declared_permission(app, r.endpoint) == PUBLIC
    }
    assert public == EXPECTED_PUBLIC


def test_a_route_without_declaration_is_refused(app, client_for):
    @app.get("/undeclared-test-route")
    def undeclared():
        return "should never be served"

    client = client_for("owner")
    response = client.get("/undeclared-test-route")
    assert response.status_code == 403
    assert b"should never be served" not in response.data


def test_unauthenticated_requests_are_refused_everywhere(app, anon):
    for rule, method in _routes(app):
        if declared_permission(app, rule.endpoint) == PUBLIC:
            continue
        url = re.sub(r"<[^>]+>", "x", rule.rule)
        response = anon.open(url, method=method)
        assert response.status_code in (302, 401), f"{method} {url} -> {response.status_code}"
        if rule.rule.startswith("/api/"):
            assert response.status_code == 401
        else:
            assert "/sign-in" in response.location


def _changes_so_far() -> tuple[int, int]:
    """Mutations audited and rows queued for head office: a GET, or any route that needs
    only a read-only permission, must move neither."""
    return database.execute_sql(
        "SELECT (SELECT count(*) FROM audit_event WHERE kind = 'mutation'), "
        "(SELECT count(*) FROM outbox)"
    ).fetchone()


@pytest.mark.parametrize("role", [role.code for role in DEFAULT_ROLES])
def test_role_route_matrix(app, make_staff, route_targets, role):
    granted = next(r.permissions for r in DEFAULT_ROLES if r.code == role)
    staff = make_staff(role)
    client = app.test_client()
    checked = 0
    for rule, method in _routes(app):
        permission = declared_permission(app, rule.endpoint)
        if permission == PUBLIC:
            continue
        url = rule.rule
        for name, value in route_targets.items():
            url = url.replace(f"<{name}>", value)
        assert "<" not in url, f"no matrix value for {rule.rule}"
        sign_in_client(client, staff)  # Fresh each time: sign-out and lock must not leak.
        before = _changes_so_far()
        response = client.open(url, method=method, json={} if url.startswith("/api/") else None)
        assert response.status_code < 500, f"{role}: {method} {url} -> {response.status_code}"
        if method == "GET" or permission.endswith(READ_ONLY):
            assert _changes_so_far() == before, f"{role}: {method} {url} changed data"
        refused_for = response.headers.get("X-Refused-Permission")
        if permission in granted:
            assert response.status_code != 401 and refused_for is None, (
                f"{role} should reach {method} {url}, got {response.status_code}"
            )
        else:
            assert response.status_code == 403 and refused_for == permission, (
                f"{role} must not reach {method} {url}, got {response.status_code}"
            )
        checked += 1
    assert checked > 30
