"""The JSON API: schemas validate input, errors name fields, OpenAPI matches the routes."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from physioez.core.kernel.models import AuditEvent, Staff
from physioez.core.web.api import API_PREFIX, Api, ApiRegistry, SchemaNameClash


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


def test_openapi_names_the_errors_each_route_can_answer(anon):
    paths = anon.get("/api/v1/openapi.json").get_json()["paths"]

    def answers(path, method):
        return set(paths[API_PREFIX + path][method]["responses"])

    common = {"400", "401", "403", "422"}
    assert answers("/practitioners", "get") == common | {"200"}
    # A path parameter can name nothing; a body can be too large.
    assert answers("/staff/{staff_id}", "get") == common | {"200", "404"}
    assert answers("/staff", "post") == common | {"201", "409", "413"}
    assert answers("/tokens/{token_id}", "delete") == common | {"200", "404", "409"}
    # Booking names ids in its body, and a clash answers 409 with the clashes.
    booking = paths[API_PREFIX + "/appointments"]["post"]["responses"]
    assert {"404", "409"} <= set(booking)
    clash = booking["409"]["content"]["application/json"]["schema"]
    assert clash == {"$ref": "#/components/schemas/ClashRefusedOut"}


def _registry_with_two_models_named(name: str) -> ApiRegistry:
    first = type(name, (BaseModel,), {"__annotations__": {"a": int}})
    second = type(name, (BaseModel,), {"__annotations__": {"b": str}})
    api = Api("clash", tag="Clash")
    api.route("/one", "POST", permission="core.shell.use", summary="1", body=first)(lambda: None)
    api.route("/two", "POST", permission="core.shell.use", summary="2", body=second)(lambda: None)
    return ApiRegistry(operations=api.operations)


def test_two_different_schemas_with_one_name_stop_the_document(app):
    with app.app_context(), pytest.raises(SchemaNameClash, match="StatusIn"):
        _registry_with_two_models_named("StatusIn").openapi()


def test_appointment_and_inquiry_statuses_are_two_schemas(anon):
    document = anon.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    inquiry = document["paths"]["/api/v1/inquiries/{inquiry_id}/status"]["put"]
    appointment = document["paths"]["/api/v1/appointments/{appointment_id}/status"]["put"]

    def body_schema(operation):
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]

    assert "lost" in body_schema(inquiry)["properties"]["status"]["enum"]
    assert "no_show" in body_schema(appointment)["properties"]["status"]["enum"]
