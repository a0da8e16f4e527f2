"""Requests that change nothing, and roles that would let nobody sign in."""

from __future__ import annotations

from physioez.core.kernel.models import AuditEvent, OutboxEntry, Role, Staff


def counts() -> tuple[int, int]:
    return AuditEvent.select().count(), OutboxEntry.select().count()


def test_activating_an_active_account_changes_nothing(app, client_for, make_staff):
    admin = client_for("clinic_admin")
    peer = make_staff("receptionist")
    before, version = counts(), Staff.get_by_id(peer.id).version
    response = admin.put(f"/api/v1/staff/{peer.id}/active", json={"active": True})
    assert response.status_code == 200 and response.get_json()["active"] is True
    page = admin.post(f"/admin/staff/{peer.id}/active", data={"active": "1"})
    assert page.status_code == 302
    assert counts() == before and Staff.get_by_id(peer.id).version == version
    assert admin.put(f"/api/v1/staff/{peer.id}/active", json={"active": False}).status_code == 200
    after_one = counts()
    assert after_one != before
    assert admin.put(f"/api/v1/staff/{peer.id}/active", json={"active": False}).status_code == 200
    assert counts() == after_one


def test_a_role_without_sign_in_needs_saying_so(app, client_for):
    owner = client_for("owner")
    url = "/api/v1/roles/billing/permissions"
    before = counts()
    response = owner.put(url, json={"permissions": ["billing.invoices.read"]})
    assert response.status_code == 422
    assert "can sign in" in response.get_json()["fields"]["allow_no_sign_in"]
    page = owner.post("/admin/roles/billing", data={"permissions": ["billing.invoices.read"]})
    assert page.status_code == 422 and b'name="allow_no_sign_in"' in page.data
    # The refusal names the permission as the page lists it, beside the box it asks for.
    assert 'id="allow_no_sign_in-error">Without “Use the staff app' in page.get_data(as_text=True)
    assert counts() == before and "core.shell.use" in Role.get(Role.code == "billing").permissions
    page = owner.post(
        "/admin/roles/billing",
        data={"permissions": ["billing.invoices.read"], "allow_no_sign_in": "on"},
    )
    assert page.status_code == 302
    assert Role.get(Role.code == "billing").permissions == ["billing.invoices.read"]
    response = owner.put(url, json={"permissions": ["core.shell.use"], "allow_no_sign_in": False})
    assert response.status_code == 200
    same = counts()
    assert owner.put(url, json={"permissions": ["core.shell.use"]}).status_code == 200
    assert counts() == same
