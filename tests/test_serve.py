"""The real server: ``physioez serve`` (gunicorn) answering over a socket, and surviving kill -9."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pytest

from tests.live_server import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("serve")) as live:
        yield live


def test_healthz_reports_database_ok_and_no_pending_migrations(server):
    answer = server.session().get("/healthz")

    assert answer.status == 200
    report = answer.json()
    assert report["status"] == "ok"
    assert report["database"] == "ok"
    assert report["migrations"]["pending"] == []
    assert report["migrations"]["applied"] >= 1


def test_anonymous_home_redirects_to_sign_in(server):
    answer = server.session().get("/", follow=False)

    assert answer.status == 302
    assert urllib.parse.urlsplit(answer.headers["Location"]).path == "/sign-in"


def test_sign_in_through_the_real_form_lands_signed_in(server):
    browser = server.session()

    landed = browser.sign_in("owner")

    assert landed.status == 200, landed.text[:500]
    assert landed.path == "/"
    assert 'data-signed-in="1"' in landed.text
    assert "Good to see you" in landed.text
    assert browser.csrf_token, "a signed-in page exposes data-csrf-token on <body>"
    cookie_names = {cookie.name for cookie in browser.cookies}
    assert "physioez_session" in cookie_names


def test_wrong_password_is_refused_on_the_form(server):
    landed = server.session().sign_in("owner", "not-the-password")

    assert landed.status in (400, 401, 403, 422)
    assert 'data-signed-in="1"' not in landed.text
    assert 'id="sign-in-error"' in landed.text


def test_pages_and_api_carry_the_content_security_policy(server):
    browser = server.session()
    for answer in (browser.get("/sign-in"), browser.get("/healthz")):
        policy = answer.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:  # Gone meanwhile, or not ours to read.
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_gunicorn_runs_one_worker_process_with_threads(server):
    browser = server.session()
    with ThreadPoolExecutor(4) as pool:  # Let the worker's thread pool grow.
        assert all(r.status == 200 for r in pool.map(browser.get, ["/healthz"] * 8))

    workers = _children(server.pid)

    assert len(workers) == 1, f"gunicorn master {server.pid} has children {workers}"
    threads = list(Path(f"/proc/{workers[0]}/task").iterdir())
    assert len(threads) >= 2, "the gthread worker should run request threads"
    assert "Using worker: gthread" in server.log_path.read_text()


STAFF_COUNT = 20
KILL_AFTER = 15  # Acknowledged creations before the kill; the rest are in flight or unsent.


def test_acknowledged_writes_survive_kill_9_and_the_audit_chain_verifies(tmp_path):
    server = LiveServer(tmp_path)
    server.start()
    try:
        owner = server.session()
        assert owner.sign_in("owner").path == "/"
        assert owner.csrf_token

        def create(number: int) -> tuple[str, int | None]:
            username = f"durable{number:02d}"
            body = {
                "username": username,
                "full_name": f"Durable Tester {number:02d}",
                "roles": ["receptionist"],
                "password": "temporary-pass-1",
            }
            try:
                return username, owner.api("POST", "/api/v1/staff", body).status
            except (OSError, http.client.HTTPException):  # The server died under it.
                return username, None

        acknowledged: list[str] = []
        statuses: dict[str, int | None] = {}
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(create, n) for n in range(1, STAFF_COUNT + 1)]
            for future in as_completed(futures):
                username, status = future.result()
                statuses[username] = status
                if status == 201:
                    acknowledged.append(username)
                if len(acknowledged) == KILL_AFTER and server.process is not None:
                    server.kill()
        assert server.process is None, f"only {len(acknowledged)} creations succeeded"
        # Before the kill every answer is a 201; after it there is no answer at all.
        assert set(statuses.values()) <= {201, None}, statuses

        server.start()

        admin = server.session()
        assert admin.sign_in("owner").path == "/"
        listed = admin.api("GET", "/api/v1/staff")
        assert listed.status == 200, listed.text[:500]
        usernames = {member["username"] for member in listed.json()["staff"]}
        missing = sorted(set(acknowledged) - usernames)
        assert not missing, f"acknowledged with 201 but lost after kill -9: {missing}"

        verified = server.cli("audit", "verify", check=False)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert verified.stdout.startswith("OK:")
    finally:
        server.stop()
