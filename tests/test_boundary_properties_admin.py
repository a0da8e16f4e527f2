"""Arbitrary input at the staff pages' forms, through the pages and the API: never a 5xx, and
a refused request writes no row (the helpers and the tables watched are
``test_boundary_properties``')."""

from __future__ import annotations

from tests.test_boundary_properties import drive, drive_each, fields, json_value, text

NEW_ACCOUNT = {
    "full_name": "Priya Shah",
    "username": "priya.s",
    "email": "",
    "phone": "",
    "roles": "receptionist",
    "password": "a long temporary one",
}


def test_new_account_page(app, client_for):
    drive(client_for("owner").post, "/admin/staff/new", fields(NEW_ACCOUNT, text))


def test_new_account_api(app, client_for):
    valid = {**NEW_ACCOUNT, "roles": ["receptionist"]}
    drive(client_for("owner").post, "/api/v1/staff", fields(valid, json_value), body=True)


def test_staff_page_forms(app, client_for, make_staff):
    peer = make_staff("receptionist")
    url = f"/admin/staff/{peer.id}"
    forms = {
        f"{url}/roles": {"roles": "therapist"},
        f"{url}/password": {"password": "a long temporary one"},
        f"{url}/active": {"active": "0"},
    }

    drive_each(client_for("owner").post, forms)
