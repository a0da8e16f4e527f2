"""Admin and shell pages as staff use them: forms, confirmations, filters, navigation."""

from __future__ import annotations

import re

from physioez.core.kernel.models import ApiToken, Staff


def nav_labels(html: bytes) -> list[str]:
    nav = re.search(rb'<nav class="nav".*?</nav>', html, re.S)
    return (
        [label.decode() for label in re.findall(rb"<a [^>]*>([^<]+)</a>", nav.group(0))]
        if (nav)
        else []
    )


def test_navigation_shows_only_what_the_role_may_use(app, client_for):
    front_desk = [
        "Front desk",
        "Today",
        "Appointment book",
        "Patients",
        "Inquiries",
        "Waitlist",
        "Reminders",
        "Calendar links",
    ]
    checkout = ["Checkout", "Dues"]
    assert nav_labels(client_for("receptionist").get("/reception/").data) == [
        *front_desk,
        *checkout,
    ]
    owner_nav = nav_labels(client_for("owner").get("/profile").data)
    assert owner_nav == [
        *front_desk,
        "Book set-up",
        *checkout,
        "Day end",
        "Expenses",
        "Price list",
        "Ledger",
        "Exports",
        "Staff",
        "Roles",
        "API tokens",
        "Audit log",
        "Replication",
    ]
    assert nav_labels(client_for("it_admin").get("/profile").data) == [
        "Staff",
        "Roles",
        "API tokens",
        "Audit log",
        "Replication",
    ]
    assert nav_labels(client_for("therapist").get("/profile").data) == [
        "Today",
        "Appointment book",
        "Patients",
        "Calendar links",
    ]


def test_home_sends_single_area_roles_straight_there(app, client_for, make_staff, system_actor):
    from physioez.core.kernel import records
    from physioez.core.kernel.models import Role
    from tests.conftest import sign_in_client

    assert client_for("therapist").get("/").location == "/reception/today"
    # Mostly one area (the desk, with checkout on the side): straight to that area's first page.
    assert client_for("receptionist").get("/").location == "/reception/"
    assert client_for("billing").get("/").location == "/billing/"
    owner_home = client_for("owner").get("/")
    assert owner_home.status_code == 200 and b"Good to see you" in owner_home.data
    records.create(Role, system_actor, code="bare", name="Bare", permissions=["core.shell.use"])
    bare = sign_in_client(app.test_client(), make_staff("bare"))
    assert b"has no pages on this box yet" in bare.get("/").data


def test_create_staff_form_keeps_input_and_points_at_the_problem(app, client_for):
    manager = client_for("branch_manager")
    response = manager.post(
        "/admin/staff/new",
        data={
            "full_name": "Meera Nair",
            "username": "Meera Nair!",
            "roles": ["receptionist"],
            "password": "temporary-pass-1",
        },
    )
    assert response.status_code == 422
    assert b'value="Meera Nair"' in response.data
    assert b'id="username-error"' in response.data and b"lower-case letters" in response.data
    response = manager.post(
        "/admin/staff/new",
        data={
            "full_name": "Meera Nair",
            "username": "meera",
            "roles": ["receptionist"],
            "password": "temporary-pass-1",
        },
    )
    assert response.status_code == 302
    staff = Staff.get(Staff.username == "meera")
    assert response.location == f"/admin/staff/{staff.id}"
    page = manager.get(response.location)
    assert b"can now sign in as" in page.data and b"Temporary password" in page.data


def test_destructive_actions_ask_for_confirmation(app, client_for, make_staff):
    manager = client_for("branch_manager")
    staff = make_staff("receptionist")
    page = manager.get(f"/admin/staff/{staff.id}").data.decode()
    deactivate_form = re.search(r'<form[^>]*staff/[^"]+/active"[^>]*>', page, re.S).group(0)
    assert "data-confirm=" in deactivate_form and "Deactivate" in deactivate_form
    reset_form = re.search(r'<form[^>]*staff/[^"]+/password"[^>]*>', page, re.S).group(0)
    assert "data-confirm=" in reset_form


def test_staff_list_filters(app, client_for, make_staff):
    manager = client_for("branch_manager")
    make_staff("therapist", username="ravi.k")
    make_staff("billing", username="anil.b")
    page = manager.get("/admin/staff?search=ravi").data
    assert b"ravi.k" in page and b"anil.b" not in page
    page = manager.get("/admin/staff?role=billing").data
    assert b"anil.b" in page and b"ravi.k" not in page


def test_read_only_admin_sees_no_edit_forms(app, client_for, make_staff):
    clinic_admin = client_for("clinic_admin")  # admin.staff.manage, not admin.roles.manage
    page = clinic_admin.get("/admin/roles/receptionist").data
    assert b"Save permissions" not in page and b"disabled" in page
    assert (
        clinic_admin.post("/admin/roles/receptionist", data={"permissions": []}).status_code == 403
    )


def test_role_edit_page_saves(app, client_for):
    owner = client_for("owner")
    response = owner.post(
        "/admin/roles/billing", data={"permissions": ["core.shell.use", "billing.invoices.read"]}
    )
    assert response.status_code == 302
    assert b"Permissions of Billing saved" in owner.get(response.location).data


def test_token_page_shows_secret_once(app, client_for):
    it = client_for("it_admin")
    response = it.post(
        "/admin/tokens",
        data={
            "name": "Backup monitor",
            "staff_id": it.staff.id,
            "scopes": ["admin.audit.read"],
            "expires_days": "30",
        },
    )
    assert response.status_code == 200
    secret = re.search(rb'id="new-token">(pez_[^<]+)<', response.data).group(1).decode()
    assert ApiToken.get(ApiToken.name == "Backup monitor").prefix == secret[:10]
    assert secret.encode() not in it.get("/admin/tokens").data
    response = it.post("/admin/tokens", data={"name": "", "staff_id": it.staff.id})
    assert response.status_code == 422 and b"Fill this in." in response.data


def test_a_mistyped_expiry_is_refused_not_taken_as_never(app, client_for):
    it = client_for("it_admin")
    form = {"name": "Reports", "staff_id": it.staff.id, "scopes": ["admin.audit.read"]}
    for typed in ("abc", "-5", "99999"):
        response = it.post("/admin/tokens", data={**form, "expires_days": typed})
        assert response.status_code == 422, typed
        page = response.get_data(as_text=True)
        assert 'id="expires_days"' in page and f'value="{typed}"' in page  # kept as typed
        assert 'value="Reports"' in page and "checked" in page
    assert ApiToken.select().count() == 0
    assert it.post("/admin/tokens", data={**form, "expires_days": "0"}).status_code == 200
    assert ApiToken.get(ApiToken.name == "Reports").expires_at is None  # "0 = never"


def test_audit_viewer_filters_and_history(app, client_for, make_staff):
    owner = client_for("owner")
    staff = make_staff("receptionist", username="asha")
    owner.post(f"/admin/staff/{staff.id}/roles", data={"roles": ["receptionist", "billing"]})
    page = owner.get(f"/admin/audit?entity_type=staff&entity_id={staff.id}").data
    assert b"staff.roles_changed" in page and b"staff.create" in page
    assert b"diff-before" in page
    page = owner.get("/admin/audit?kind=security").data
    assert b"staff.create" not in page
    page = owner.get("/admin/audit?since=not-a-date")
    assert page.status_code == 422 and b"Enter a date and time" in page.data
    verify = owner.get("/admin/audit/verify").data
    assert b"The chain is intact" in verify
    history = owner.get(f"/admin/audit/history?entity_type=staff&entity_id={staff.id}").data
    assert b"asha" in history and b"[redacted]" in history


def test_frontdesk_team_directory(app, client_for, make_staff):
    make_staff("therapist", username="ravi.k")
    page = client_for("receptionist").get("/reception/").data
    assert b"Therapists" in page and b"Test Therapist" in page


def test_profile_lists_permissions_in_words(app, client_for):
    page = client_for("receptionist").get("/profile").data
    assert b"Book, move and cancel appointments" in page
    assert b"Read the audit log" not in page
