"""The JSON API: schemas validate input, errors name fields, OpenAPI matches the routes."""

from __future__ import annotations

from physioez.core.kernel.models import AuditEvent, Staff
from physioez.core.web.api import API_PREFIX


def test_openapi_documents_every_api_route(app, anon):
    document = anon.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX) and rule.endpoint != "openapi":
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<{arg}>", "{" + arg + "}")
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented
    create = document["paths"]["/api/v1/staff"]["post"]
    assert create["x-permission"] == "admin.staff.manage"
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) >= {"username", "full_name", "roles", "password"}


def test_create_staff_through_the_api(app, client_for):
    owner = client_for("owner")
    response = owner.post(
        "/api/v1/staff",
        json={
            "username": "Priya.S",
            "full_name": "Priya Sharma",
            "roles": ["therapist"],
            "password": "temporary-pass-1",
            "email": "priya@clinic.test",
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["username"] == "priya.s" and body["roles"] == ["therapist"]
    assert body["must_change_password"] is True and "password_hash" not in body
    assert owner.get(f"/api/v1/staff/{body['id']}").get_json()["full_name"] == "Priya Sharma"


def test_validation_errors_name_the_fields_and_write_nothing(app, client_for):
    owner = client_for("owner")
    before = (Staff.select().count(), AuditEvent.select().count())
    response = owner.post(
        "/api/v1/staff", json={"username": "x", "roles": [], "password": "p", "extra": 1}
    )
    assert response.status_code == 422
    body = response.get_json()
    assert {"username", "full_name", "roles", "extra"} <= set(body["fields"])
    assert body["error"].startswith("Please check:")
    assert (Staff.select().count(), AuditEvent.select().count()) == before


def test_service_rules_answer_with_a_field(app, client_for):
    owner = client_for("owner")
    payload = {
        "username": "asha",
        "full_name": "Asha",
        "roles": ["receptionist"],
        "password": "temporary-pass-1",
    }
    assert owner.post("/api/v1/staff", json=payload).status_code == 201
    response = owner.post("/api/v1/staff", json=payload)
    assert response.status_code == 409
    assert response.get_json()["fields"] == {"username": "The username 'asha' is taken."}
    response = owner.post(
        "/api/v1/staff", json={**payload, "username": "ravi", "roles": ["wizard"]}
    )
    assert response.status_code == 422 and "Unknown role: wizard" in response.get_json()["error"]
    response = owner.post(
        "/api/v1/staff", json={**payload, "username": "ravi", "password": "short"}
    )
    assert response.get_json()["fields"]["password"].startswith("The password needs")


def test_non_json_body_and_bad_query(app, client_for):
    owner = client_for("owner")
    response = owner.post("/api/v1/staff", data="not json", content_type="text/plain")
    assert response.status_code == 400
    assert response.get_json()["error"] == "Send a JSON object as the request body."
    response = owner.get("/api/v1/audit?limit=100000&kind=weird")
    assert response.status_code == 422 and {"limit", "kind"} <= set(response.get_json()["fields"])
    response = owner.get("/api/v1/audit?since=2026-11-23T10:00")
    assert response.status_code == 422 and "since" in response.get_json()["fields"]


def test_unknown_ids_are_404_with_a_message(app, client_for):
    owner = client_for("owner")
    response = owner.get("/api/v1/staff/nope")
    assert response.status_code == 404 and response.get_json()["error"] == "No such staff member."
    assert owner.get("/api/v1/no-such-thing").status_code == 404
    assert owner.put("/api/v1/roles/nope/permissions", json={"permissions": []}).status_code == 404


def test_roles_are_data_an_admin_can_edit(app, client_for, make_staff):
    owner = client_for("owner")
    receptionist = client_for("receptionist")
    assert receptionist.get("/api/v1/staff").status_code == 403
    response = owner.put(
        "/api/v1/roles/receptionist/permissions",
        json={"permissions": ["core.shell.use", "reception.frontdesk.view", "admin.staff.read"]},
    )
    assert response.status_code == 200
    assert receptionist.get("/api/v1/staff").status_code == 200
    response = owner.put(
        "/api/v1/roles/receptionist/permissions",
        json={"permissions": ["core.shell.use", "made.up.permission"]},
    )
    assert response.status_code == 422
    response = owner.put("/api/v1/roles/owner/permissions", json={"permissions": []})
    assert response.status_code == 403 and "must keep" in response.get_json()["error"]


def test_last_owner_cannot_be_removed(app, client_for):
    owner = client_for("owner")
    me = owner.staff.id
    response = owner.put(f"/api/v1/staff/{me}/active", json={"active": False})
    assert response.status_code == 403
    response = owner.put(f"/api/v1/staff/{me}/roles", json={"roles": ["receptionist"]})
    assert response.status_code == 403 and "last active owner" in response.get_json()["error"]


def test_audit_api_pages_and_verifies(app, client_for, make_staff):
    owner = client_for("owner")
    for _ in range(4):
        make_staff("receptionist")
    page = owner.get("/api/v1/audit?limit=3&entity_type=staff").get_json()
    assert len(page["events"]) == 3 and page["next_before_seq"]
    seqs = [e["seq"] for e in page["events"]]
    assert seqs == sorted(seqs, reverse=True)
    older = owner.get(
        f"/api/v1/audit?limit=3&entity_type=staff&before_seq={page['next_before_seq']}"
    ).get_json()
    assert max(e["seq"] for e in older["events"]) < min(seqs)
    assert owner.get("/api/v1/audit/verify").get_json()["ok"] is True


def test_me(app, client_for):
    therapist = client_for("therapist")
    me = therapist.get("/api/v1/me").get_json()
    assert me["roles"] == ["therapist"] and "reception.attendance.write" in me["permissions"]
    assert "admin.staff.read" not in me["permissions"]


def test_a_wrong_method_is_a_405_that_says_which_methods_work(app, client_for):
    client = client_for("owner")
    document = client.get("/api/v1/openapi.json").get_json()
    routes = app.url_map.bind("localhost")
    refused = []
    for path, operations in document["paths"].items():
        url = path.replace("{", "").replace("}", "")  # any id: routing answers before the view
        documented = {method.upper() for method in operations}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
            if routes.test(url, method):
                continue  # another route takes it: /appointments/check is /<appointment_id> too
            response = client.open(url, method=method)
            allowed = {m.strip() for m in response.headers.get("Allow", "").split(",")}
            if (
                response.status_code != 405
                or not documented <= allowed
                or set(response.get_json()) != {"error", "fields"}
            ):
                refused.append(f"{method} {path}: {response.status_code} Allow={allowed}")
    assert not refused


def test_a_page_answering_405_also_says_which_methods_work(app, client_for):
    response = client_for("owner").delete("/healthz")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.mimetype == "text/html"
