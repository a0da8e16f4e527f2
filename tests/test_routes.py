"""Every route declares a permission, and every default role gets exactly what it should."""

from __future__ import annotations

import re
from datetime import date

import pytest

from physioez.billing.services import invoicing, payments, pricing
from physioez.billing.services.policy import BillingPolicy
from physioez.core.kernel import identity, records
from physioez.core.kernel.db import database
from physioez.core.kernel.models import Role
from physioez.core.kernel.permissions import DEFAULT_ROLES, PUBLIC, REGISTRY
from physioez.core.web.access import declared_permission
from physioez.reception.services import appointments, feeds, inquiries, patients, waitlist
from physioez.reception.services.patients import PatientDetails
from tests.conftest import sign_in_client
from tests.reception_fixtures import MONDAY, ZONE, at

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


@pytest.fixture
def matrix_targets(app, make_staff, system_actor, clinic):
    """Throwaway records for routes with ids, so a permitted action harms nobody's access."""
    with app.app_context():
        target = make_staff("receptionist", username="matrix.target")
        role = records.create(
            Role,
            system_actor,
            code="matrix_target",
            name="Matrix target",
            permissions=["core.shell.use"],
        )
        token, _ = identity.create_api_token(
            system_actor, target, name="matrix", scopes=["core.shell.use"], expires_days=1
        )
        patient = patients.register(
            system_actor,
            PatientDetails(first_name="Matrix", last_name="Target", phone="9000000000"),
            date(2026, 1, 1),
        )
        document = patients.add_document(
            system_actor,
            patient,
            kind="id",
            filename="id.pdf",
            data=b"%PDF-1.7 matrix",
            max_bytes=10_000,
            keyring=app.extensions["physioez_keyring"],
            documents_dir=app.config["PHYSIOEZ"].paths.data_dir / "documents",
        )
        appointment = appointments.book(
            system_actor,
            appointments.Slot(
                patient_id=clinic.asha.id,
                practitioner_id=clinic.rao.id,
                type_id=clinic.physio.id,
                start=at(MONDAY, "10:00"),
            ),
            ZONE,
        )
        policy = BillingPolicy.from_settings(app.config["PHYSIOEZ"])
        pricing.create_service(
            system_actor, code="MTX", name="Matrix session", price=100, valid_from=MONDAY
        )
        invoice = invoicing.issue_invoice(
            system_actor, policy, clinic.meena.id, [invoicing.LineRequest("MTX")]
        )
        receipt = payments.take_payment(
            system_actor, policy, clinic.meena.id, [payments.Tender("cash", 50)]
        )
        lead = inquiries.record_inquiry(
            system_actor,
            inquiries.InquiryDetails(name="Matrix Lead", phone="9111111111", source="phone"),
        )
    return {
        "feed_id": feeds.create_feed(system_actor, clinic.iyer.id)[0].id,
        "entry_id": waitlist.add(
            system_actor,
            patient_id=clinic.ravi.id,
            type_id=clinic.physio.id,
            practitioner_id=None,
        ).id,
        "token": "not-a-real-token",
        "what": "rule",
        "row_id": "no-such-row",
        "appointment_id": appointment.id,
        "inquiry_id": lead.id,
        "task_id": inquiries.add_task(system_actor, lead, "Call back", MONDAY).id,
        "practitioner_id": clinic.iyer.id,
        "staff_id": target.id,
        "code": role.code,
        "token_id": token.id,
        "patient_id": patient.id,
        "document_id": document.id,
        "invoice_id": invoice.id,
        "payment_id": receipt.id,
        "job_id": "no-such-job",
        "expense_id": "no-such-expense",
        "table": "invoices",
        "fmt": "csv",
    }


def _changes_so_far() -> tuple[int, int]:
    """Mutations audited and rows queued for head office: a GET, or any route that needs
    only a read-only permission, must move neither."""
    return database.execute_sql(
        "SELECT (SELECT count(*) FROM audit_event WHERE kind = 'mutation'), "
        "(SELECT count(*) FROM outbox)"
    ).fetchone()


@pytest.mark.parametrize("role", [role.code for role in DEFAULT_ROLES])
def test_role_route_matrix(app, make_staff, matrix_targets, role):
    granted = next(r.permissions for r in DEFAULT_ROLES if r.code == role)
    staff = make_staff(role)
    client = app.test_client()
    checked = 0
    for rule, method in _routes(app):
        permission = declared_permission(app, rule.endpoint)
        if permission == PUBLIC:
            continue
        url = rule.rule
        for name, value in matrix_targets.items():
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
