"""Fixtures: a fresh app and database per test, and a signed-in client per role."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from physioez import installed
from physioez.admin.services.staff import create_staff
from physioez.app import create_app
from physioez.core.kernel import sessions
from physioez.core.kernel.audit import Actor
from physioez.core.kernel.db import close_database
from physioez.core.kernel.models import Staff
from physioez.core.kernel.settings import Settings, defaults

# Shared fixtures: a small clinic for front-desk and billing tests, the system Chromium for
# browsers, a private CUPS server with PDF printers for printing, and private Mosquitto and
# MariaDB servers for replication.
pytest_plugins = [
    "tests.reception_fixtures",
    "tests.billing_fixtures",
    "tests.route_targets",
    "tests.browser_support",
    "tests.cups_support",
    "tests.mqtt_support",
    "tests.mariadb_support",
]

PASSWORD = "correct horse battery"
CSRF = "test-csrf-token"


def make_settings(tmp_path: Path, **overrides) -> Settings:
    base = {
        "paths.data_dir": tmp_path / "data",
        "paths.key_file": tmp_path / "keys" / "kek",
        "auth.hash_profile": "fast-insecure-for-tests",
        "server.access_log": False,
        "branch.id": "TEST",
    }
    base.update(overrides)
    installed.modules()  # their settings sections
    return defaults().with_overrides(base)


class StaffClient(FlaskClient):
    """A test client that sends the session's CSRF token, as the app's own JavaScript does."""

    def open(self, *args, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("X-CSRF-Token", CSRF)
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.test_client_class = StaffClient
    app.config["TESTING"] = True
    yield app
    close_database()


@pytest.fixture
def system_actor() -> Actor:
    return Actor.system("tests")


@pytest.fixture
def make_staff(app, system_actor) -> Callable[..., Staff]:
    counter = iter(range(1, 10_000))

    def make(
        *roles: str,
        username: str | None = None,
        pin: str | None = "4826",
        must_change_password: bool = False,
    ) -> Staff:
        with app.app_context():
            return create_staff(
                system_actor,
                username=username or f"{roles[0].replace('_', '')}{next(counter)}",
                full_name=f"Test {' '.join(roles).title()}",
                role_codes=list(roles),
                password=PASSWORD,
                min_password_length=10,
                pin=pin,
                must_change_password=must_change_password,
            )

    return make


def sign_in_client(client: FlaskClient, staff: Staff) -> FlaskClient:
    """Put a signed-in session straight into the cookie (real sign-in has its own tests)."""
    sid = sessions.start(staff.id, "127.0.0.1", "tests")
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = staff.get_id()
        session["_fresh"] = True
        session["csrf"] = CSRF
        session["sid"] = sid
    client.sid = sid
    return client


@pytest.fixture
def client_for(app, make_staff) -> Callable[[str], FlaskClient]:
    def for_role(role: str) -> FlaskClient:
        client = app.test_client()
        client.staff = make_staff(role)
        return sign_in_client(client, client.staff)

    return for_role


def anonymous_client(app) -> FlaskClient:
    """A browser that has opened the sign-in page (so its session holds a CSRF token)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    return client


@pytest.fixture
def anon(app) -> FlaskClient:
    return anonymous_client(app)
