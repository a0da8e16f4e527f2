"""A real PhysioEZ server for end-to-end tests: ``physioez serve`` in a subprocess.

Not a test module. ``LiveServer`` writes a config file under a temporary directory, seeds
the demo accounts (see ``physioez/demo.py``), starts gunicorn exactly as an appliance
does and waits for ``/healthz``. ``HttpSession`` is a tiny cookie-keeping HTTP client for
driving it without a browser. Test modules build their own fixtures from these, e.g.::

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with LiveServer(tmp_path_factory.mktemp("live")) as live:
            yield live
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BIN_DIR = Path(sys.executable).parent
PHYSIOEZ = BIN_DIR / "physioez"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0

DEMO_PASSWORD = "physioez-demo"
# username -> PIN, as printed by `physioez seed-demo` (physioez/demo.py).
DEMO_PINS = {
    "owner": "4821",
    "manager": "5932",
    "clinicadmin": "6143",
    "reception": "7254",
    "therapist": "8365",
    "junior": "9476",
    "billing": "3587",
    "itadmin": "2698",
    "finance": "1709",
    "netops": "5810",
}


def free_port() -> int:
    """A TCP port that was free a moment ago (bind port 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``physioez serve`` on 127.0.0.1 with its own data dir; a context manager.

    ``start()`` may be called again after ``stop()`` or ``kill()``: the data dir, key file
    and session secret are kept, only the port is chosen afresh.
    """

    def __init__(
        self,
        root: Path,
        *,
        seed: bool = True,
        idle_lock_minutes: int = 1,
        extra_config: str = "",
    ) -> None:
        self.root = Path(root)
        # More TOML sections for the test's needs, e.g. a [printing] section naming its CUPS.
        self.extra_config = extra_config
        self.seed = seed
        self.idle_lock_minutes = idle_lock_minutes
        self.config_path = self.root / "physioez.toml"
        self.log_path = self.root / "server.log"
        self.data_dir = self.root / "data"
        self.key_file = self.root / "keys" / "kek"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._seeded = False

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    @property
    def env(self) -> dict[str, str]:
        """The environment the server and CLI run with: only our config, nothing inherited."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHYSIOEZ_")}
        env["PHYSIOEZ_CONFIG"] = str(self.config_path)
        # gunicorn puts its control socket in $XDG_RUNTIME_DIR (else ~/.gunicorn); keep each
        # server's apart so parallel servers never take over each other's socket.
        runtime = self.root / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        return env

    def write_config(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            "\n".join(
                [
                    "[branch]",
                    'id = "TEST"',
                    'name = "PhysioEZ Test Clinic"',
                    "",
                    "[server]",
                    'host = "127.0.0.1"',
                    f"port = {self.port}",
                    "",
                    "[paths]",
                    f"data_dir = {json.dumps(str(self.data_dir))}",
                    f"key_file = {json.dumps(str(self.key_file))}",
                    "",
                    "[auth]",
                    'hash_profile = "fast-insecure-for-tests"',
                    f"idle_lock_minutes = {self.idle_lock_minutes}",
                    "",
                    self.extra_config,
                ]
            ),
            encoding="utf-8",
        )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``physioez ARGS`` against this server's config and data."""
        result = subprocess.run(
            [str(PHYSIOEZ), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"physioez {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self) -> str:
        assert self.process is None, "already running"
        self.port = free_port()
        self.write_config()
        if self.seed and not self._seeded:
            self.cli("seed-demo")
            self._seeded = True
        with self.log_path.open("ab") as log:
            log.write(f"\n--- starting on port {self.port} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [str(PHYSIOEZ), "serve"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Its own process group: master and worker together.
            )
        self._wait_until_healthy()
        return self.url

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                pytest.fail(f"physioez serve exited {code} while starting.\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except (OSError, http.client.HTTPException) as exc:
                last_error = repr(exc)
            time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"physioez serve did not answer /healthz with 200 within {START_TIMEOUT_S:.0f} s "
            f"(last: {last_error}).\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop); SIGKILL the whole group after 10 s."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_S)
        # A worker orphaned by a crashed master would keep the group alive.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def kill(self) -> None:
        """``kill -9`` the server's process group: a power cut as far as the app can tell."""
        process, self.process = self.process, None
        assert process is not None, "the server is not running"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no server log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{tail}"

    def session(self) -> HttpSession:
        return HttpSession(self.url)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One seeded server for a whole test session (import it into a test module to use)."""
    with LiveServer(tmp_path_factory.mktemp("live-server")) as server:
        yield server


# -- a browserless client -------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError, which HttpSession turns into a Response.


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_BODY = re.compile(r'data-csrf-token="([^"]+)"')


class HttpSession:
    """Cookies kept across requests, like one browser tab; redirects followed on request."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        cookie_handler = urllib.request.HTTPCookieProcessor(self.cookies)
        self._follow = urllib.request.build_opener(cookie_handler)
        self._stay = urllib.request.build_opener(cookie_handler, _NoRedirect())
        self.csrf_token = ""

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        follow: bool = True,
        timeout: float = 10,
    ) -> Response:
        req = urllib.request.Request(
            self.base_url + path, data=data, headers=headers or {}, method=method
        )
        opener = self._follow if follow else self._stay
        try:
            with opener.open(req, timeout=timeout) as raw:
                return Response(raw.status, raw.headers, raw.read(), raw.url)
        except urllib.error.HTTPError as exc:
            with exc:
                return Response(exc.code, exc.headers, exc.read(), exc.url)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, fields: dict[str, str], **kwargs: Any) -> Response:
        data = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, data=data, headers=headers, **kwargs)

    def api(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Response:
        """A JSON API call with the session's CSRF token, as the app's JavaScript sends it."""
        headers = {"Accept": "application/json", "X-CSRF-Token": self.csrf_token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self.request(method, path, data=data, headers=headers, **kwargs)

    def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> Response:
        """Sign in through the real form: GET it, echo its CSRF token, POST the fields."""
        form = self.get("/sign-in")
        assert form.status == 200, form.text[:500]
        found = CSRF_INPUT.search(form.text)
        assert found, "the sign-in form carries no csrf_token input"
        landed = self.post_form(
            "/sign-in",
            {"username": username, "password": password, "csrf_token": found.group(1)},
        )
        token = CSRF_BODY.search(landed.text)
        if token:
            self.csrf_token = token.group(1)
        return landed
