"""HTTP benchmark of the appliance: real server, real sign-in, real audited writes.

Starts ``physioez serve`` on a free loopback port with a throw-away data directory, signs
clients in through the sign-in form, then measures latency and throughput of:

* ``read``        GET /api/v1/staff (signed-in list read)
* ``write-roles`` PUT /api/v1/staff/<id>/roles (audited, outboxed mutation; no hashing)
* ``write``       POST /api/v1/staff (audited create; includes one argon2id password hash)

Standard library only, plus the app's own ``physioez`` command. See bench/README.md.

    .venv/bin/python bench/http_bench.py [--clients 1,8] [--requests N] [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path

HOST = "127.0.0.1"
USERNAME = "owner"
PASSWORD = "physioez-demo"  # The printed demo password (physioez.demo.DEMO_PASSWORD).
WARMUP_REQUESTS = 20
MAX_REQUESTS = 100_000  # Hard bound on --requests.
MAX_CLIENTS = 64  # Hard bound on any --clients level.
HEALTH_TIMEOUT_S = 20.0
SEED_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 25.0  # gunicorn graceful_timeout is 20 s.
DEFAULT_READS = 400
DEFAULT_WRITES = 200
ROLES_A = ["receptionist"]
ROLES_B = ["receptionist", "billing"]
SCENARIOS = ("read", "write-roles", "write")  # Reads first: writes grow the staff list.

_CSRF_INPUT = re.compile(
    r"<input[^>]*\bname=\"csrf_token\"[^>]*\bvalue=\"([^\"]+)\"|"
    r"<input[^>]*\bvalue=\"([^\"]+)\"[^>]*\bname=\"csrf_token\""
)
_CSRF_BODY = re.compile(r"<body[^>]*\bdata-csrf-token=\"([^\"]+)\"")


class BenchError(Exception):
    """Set-up failed (server did not start, sign-in failed); the message says why."""


# --- the server -----------------------------------------------------------------------------


def physioez_command() -> Path:
    """The ``physioez`` script installed next to the running interpreter (the venv's bin)."""
    script = Path(sys.executable).parent / "physioez"
    if not script.is_file():
        raise BenchError(f"{script} not found: run this with the project's .venv/bin/python.")
    return script


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def write_config(tmp: Path, port: int) -> Path:
    config = tmp / "physioez.bench.toml"
    config.write_text(
        "\n".join(
            [
                "# Written by bench/http_bench.py; deleted with its temp dir.",
                "[branch]",
                'id = "BENCH"',
                "",
                "[paths]",
                f"data_dir = {json.dumps(str(tmp / 'data'))}",
                f"key_file = {json.dumps(str(tmp / 'keys' / 'kek'))}",
                "",
                "[server]",
                f'host = "{HOST}"',
                f"port = {port}",
                "access_log = true",
                "",
                "[auth]",
                "# The production cost: every create hashes a password with it. Each bench",
                "# client signs in once, so sign-in cost is not in the figures.",
                'hash_profile = "interactive"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    return config


class Server:
    """``physioez serve`` in its own process group; always stopped by ``stop``."""

    def __init__(self, command: Path, env: dict[str, str], log_path: Path, port: int):
        self.command = command
        self.env = env
        self.log_path = log_path
        self.port = port
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> dict:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(self.command), "serve"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"server exited with code {self.proc.returncode} before it was healthy"
                )
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                if resp.status == 200:
                    return json.loads(body)
                last = f"HTTP {resp.status}: {body[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise BenchError(f"GET /healthz was not 200 within {HEALTH_TIMEOUT_S:.0f} s ({last})")

    def rss_mib(self) -> float | None:
        """Resident memory of the server: gunicorn's arbiter plus its one worker, in MiB."""
        if self.proc is None:
            return None
        pids = [self.proc.pid]
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            if f"\nPPid:\t{self.proc.pid}\n" in text:
                pids.append(int(status.parent.name))
        total_kib = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
            except OSError:
                continue
        return round(total_kib / 1024, 1)

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # The group is the one start_new_session made for this server: its id is
                # the server's pid, so this ends only the server and its worker.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# --- one client: a keep-alive connection and its cookies ------------------------------------


@dataclass
class Response:
    status: int  # 0 when the connection failed.
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Client:
    """One signed-in browser tab: its own keep-alive connection and session cookie."""

    def __init__(self, number: int, port: int):
        self.number = number
        self.port = port
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.conn: http.client.HTTPConnection | None = None
        self.created = 0  # For unique usernames across warm-up and levels.
        self.roles_target = ""
        self.roles_flip = False

    def reconnect(self) -> None:
        self.close()
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        # One retry, only when the server had already closed the idle keep-alive
        # connection (then it never saw the request, so even a POST is safe to resend).
        for attempt in range(2):
            if self.conn is None:
                self.reconnect()
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if attempt == 0:
                    continue
                return Response(0, f"{type(e).__name__}: {e}".encode())
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                return Response(0, f"{type(exc).__name__}: {exc}".encode())
            for header in resp.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                for name, morsel in jar.items():
                    if morsel.value and morsel["max-age"] != "0":
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            if resp.will_close:
                self.close()
            return Response(resp.status, data)
        raise AssertionError("unreachable")

    def json_call(self, method: str, path: str, payload: dict | None = None) -> Response:
        headers = {"X-CSRF-Token": self.csrf}
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        return self.request(method, path, body, headers)

    def sign_in(self) -> None:
        """The real form: GET the page, send its CSRF token back, follow the redirect."""
        page = self.request("GET", "/sign-in", headers={"Accept": "text/html"})
        if page.status != 200:
            raise BenchError(f"GET /sign-in answered {page.status}: {page.body[:300]!r}")
        match = _CSRF_INPUT.search(page.body.decode("utf-8", "replace"))
        if not match:
            raise BenchError("no csrf_token hidden input on the sign-in page")
        form = urllib.parse.urlencode(
            {
                "csrf_token": match.group(1) or match.group(2),
                "next": "/",
                "username": USERNAME,
                "password": PASSWORD,
            }
        ).encode()
        posted = self.request(
            "POST",
            "/sign-in",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
        )
        if posted.status not in (302, 303):
            raise BenchError(f"sign-in POST answered {posted.status}: {posted.body[:300]!r}")
        home = self.request("GET", "/", headers={"Accept": "text/html"})
        if home.status != 200:
            raise BenchError(f"GET / after sign-in answered {home.status}: {home.body[:300]!r}")
        token = _CSRF_BODY.search(home.body.decode("utf-8", "replace"))
        if not token or b'data-signed-in="1"' not in home.body:
            raise BenchError("the page after sign-in is not a signed-in page")
        self.csrf = token.group(1)

    def prepare_roles_target(self) -> None:
        """A staff member of this client's own whose roles the write-roles scenario flips."""
        resp = self.json_call(
            "POST",
            "/api/v1/staff",
            {
                "username": f"r{self.number}target",
                "full_name": "Bench Roles Target",
                "roles": ROLES_A,
                "password": "bench-password-1",
            },
        )
        if resp.status != 201:
            raise BenchError(f"could not create a roles target: {resp.status} {resp.body[:300]!r}")
        self.roles_target = resp.json()["id"]

    # The scenarios: one request each, returning the response and the expected status.

    def do_read(self) -> tuple[Response, int]:
        return self.request("GET", "/api/v1/staff"), 200

    def do_write(self) -> tuple[Response, int]:
        self.created += 1
        payload = {
            "username": f"b{self.number}x{self.created}",
            "full_name": "Bench Person",
            "roles": ["receptionist"],
            "password": "bench-password-1",
        }
        return self.json_call("POST", "/api/v1/staff", payload), 201

    def do_write_roles(self) -> tuple[Response, int]:
        self.roles_flip = not self.roles_flip
        roles = ROLES_B if self.roles_flip else ROLES_A
        path = f"/api/v1/staff/{self.roles_target}/roles"
        return self.json_call("PUT", path, {"roles": roles}), 200


SCENARIO_CALLS = {
    "read": Client.do_read,
    "write": Client.do_write,
    "write-roles": Client.do_write_roles,
}


# --- running a scenario ---------------------------------------------------------------------


@dataclass
class Run:
    scenario: str
    clients: int
    planned: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_statuses: dict[str, int] = field(default_factory=dict)
    first_error: str = ""
    wall_s: float = 0.0
    capped: bool = False
    server_ms: list[float] = field(default_factory=list)


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_scenario(
    scenario: str, clients: list[Client], planned: int, cap_s: float, log_path: Path
) -> Run:
    return run_level(
        scenario, clients, SCENARIO_CALLS[scenario], planned, cap_s, log_path, "/api/v1/"
    )


def server_times(log_path: Path, offset: int, path_prefix: str) -> list[float]:
    """The app's own time (ms, sorted) for access-log lines after ``offset`` on ``path_prefix``."""
    times = []
    with log_path.open("rb") as log:
        log.seek(offset)
        for raw in log:
            _, sep, payload = raw.decode("utf-8", "replace").partition("physioez.access: ")
            if not sep:
                continue
            try:
                line = json.loads(payload)
            except ValueError:
                continue
            if str(line.get("path", "")).startswith(path_prefix):
                times.append(float(line.get("ms", 0.0)))
    return sorted(times)


Call = Callable[[Client], tuple[Response, int]]


def run_level(
    name: str,
    clients: list[Client],
    call: Call,
    planned: int,
    cap_s: float,
    log_path: Path,
    path_prefix: str,
) -> Run:
    """``planned`` calls shared by ``clients`` started together; bounded by count and time."""
    run = Run(name, len(clients), planned)
    lock = threading.Lock()
    remaining = [planned]
    start_gate = threading.Barrier(len(clients) + 1)
    deadline = [0.0]

    def take() -> bool:
        with lock:
            if remaining[0] <= 0 or time.perf_counter() >= deadline[0]:
                if remaining[0] > 0:
                    run.capped = True
                return False
            remaining[0] -= 1
            return True

    def worker(client: Client) -> None:
        mine: list[float] = []
        start_gate.wait()
        while take():
            started = time.perf_counter()
            resp, expected = call(client)
            elapsed = (time.perf_counter() - started) * 1000
            if resp.status == expected:
                mine.append(elapsed)
                continue
            with lock:
                run.errors += 1
                key = str(resp.status)
                run.error_statuses[key] = run.error_statuses.get(key, 0) + 1
                if not run.first_error:
                    text = resp.body[:800].decode("utf-8", "replace")
                    run.first_error = f"HTTP {resp.status}: {text}"
        with lock:
            run.latencies_ms.extend(mine)

    for client in clients:
        client.reconnect()  # A fresh keep-alive connection, outside the timed part.
    log_start = log_path.stat().st_size
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + cap_s
    began = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join(cap_s + REQUEST_TIMEOUT_S + 5)
    run.wall_s = time.perf_counter() - began
    time.sleep(0.05)  # Let the last access-log lines reach the file.
    run.server_ms = server_times(log_path, log_start, path_prefix)
    return run


def write_report(
    out: Path, report: dict, tmp: Path, *, keep: bool, log_path: Path | None = None
) -> None:
    """Write the JSON results and tidy the temp dir (unless asked to keep it for a look)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    if keep:
        print(f"temp dir kept: {tmp}" + (f" (server log: {log_path})" if log_path else ""))
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def warm_up(scenario: str, client: Client) -> None:
    call = SCENARIO_CALLS[scenario]
    for _ in range(WARMUP_REQUESTS):
        resp, expected = call(client)
        if resp.status != expected:
            print(
                f"  warm-up {scenario}: HTTP {resp.status}: "
                f"{resp.body[:300].decode('utf-8', 'replace')}",
                file=sys.stderr,
            )
            return


def summarise(run: Run) -> dict:
    lat = sorted(run.latencies_ms)
    done = len(lat) + run.errors
    server = run.server_ms

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    return {
        "scenario": run.scenario,
        "clients": run.clients,
        "planned": run.planned,
        "n": done,
        "ok": len(lat),
        "errors": run.errors,
        "error_statuses": run.error_statuses,
        "first_error": run.first_error or None,
        "capped_by_duration": run.capped,
        "wall_s": round(run.wall_s, 3),
        "requests_per_s": round(done / run.wall_s, 1) if run.wall_s else None,
        "ok_per_s": round(len(lat) / run.wall_s, 1) if run.wall_s else None,
        "latency_ms": {
            "min": ms(lat[0] if lat else None),
            "mean": ms(sum(lat) / len(lat) if lat else None),
            "p50": ms(percentile(lat, 50)),
            "p95": ms(percentile(lat, 95)),
            "p99": ms(percentile(lat, 99)),
            "max": ms(lat[-1] if lat else None),
        },
        "server_ms": {
            "n": len(server),
            "p50": ms(percentile(server, 50)),
            "p95": ms(percentile(server, 95)),
            "p99": ms(percentile(server, 99)),
        },
    }


def print_line(summary: dict) -> None:
    lat = summary["latency_ms"]

    def f(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    capped = "  (duration cap hit)" if summary["capped_by_duration"] else ""
    print(
        f"{summary['scenario']:<12} clients={summary['clients']:<3} n={summary['n']:<6} "
        f"errors={summary['errors']:<4} p50={f(lat['p50'])}ms p95={f(lat['p95'])}ms "
        f"p99={f(lat['p99'])}ms  {summary['requests_per_s'] or 0:.1f} req/s  "
        f"(server p50={f(summary['server_ms']['p50'])}ms){capped}",
        flush=True,
    )
    if summary["first_error"]:
        print(f"  first error: {summary['first_error']}", flush=True)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", default="1,8", help="comma-separated concurrency levels (default 1,8)"
    )
    parser.add_argument(
        "--requests",
        type=int,
        help=f"requests per scenario per level (default {DEFAULT_READS} reads, "
        f"{DEFAULT_WRITES} writes; at most {MAX_REQUESTS})",
    )
    parser.add_argument(
        "--duration-cap",
        type=float,
        default=30.0,
        help="seconds per scenario per level; stops early when hit (default 30)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results/http_bench.json"), help="JSON results"
    )
    parser.add_argument(
        "--keep-tmp", action="store_true", help="keep the temp dir (database, server log)"
    )
    args = parser.parse_args(argv)
    try:
        levels = sorted({int(part) for part in args.clients.split(",") if part.strip()})
    except ValueError:
        parser.error("--clients takes numbers, e.g. 1,8")
    if not levels or levels[0] < 1 or levels[-1] > MAX_CLIENTS:
        parser.error(f"--clients levels must be between 1 and {MAX_CLIENTS}")
    args.levels = levels
    if args.requests is not None and not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be between 1 and {MAX_REQUESTS}")
    if not 0 < args.duration_cap <= 3600:
        parser.error("--duration-cap must be between 0 and 3600 seconds")
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown or not chosen:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    args.scenario_list = [s for s in SCENARIOS if s in chosen]
    return args


def planned_requests(args: argparse.Namespace, scenario: str) -> int:
    if args.requests is not None:
        return args.requests
    return DEFAULT_READS if scenario == "read" else DEFAULT_WRITES


def machine_info() -> dict:
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        command = physioez_command()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="physioez-bench-"))
    port = free_port()
    config = write_config(tmp, port)
    log_path = tmp / "server.log"
    log_path.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHYSIOEZ_")}
    env["PHYSIOEZ_CONFIG"] = str(config)
    server = Server(command, env, log_path, port)
    clients: list[Client] = []
    results: list[dict] = []
    footprint: dict[str, float | None] = {}
    status = 0
    try:
        print(f"seeding demo data in {tmp} ...", flush=True)
        try:
            seeded = subprocess.run(
                [str(command), "seed-demo"],
                env=env,
                capture_output=True,
                text=True,
                timeout=SEED_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"seed-demo took longer than {SEED_TIMEOUT_S:.0f} s") from None
        if seeded.returncode != 0:
            raise BenchError(f"seed-demo failed ({seeded.returncode}): {seeded.stderr[-800:]}")
        print(f"starting server on http://{HOST}:{port}/ ...", flush=True)
        spawned = time.perf_counter()
        try:
            health = server.start()
        except BenchError as exc:
            raise BenchError(f"{exc}\n--- server log ---\n{server.log_tail()}") from None
        footprint["cold_start_s"] = round(time.perf_counter() - spawned, 2)
        time.sleep(1.0)  # Let start-up settle before reading memory.
        footprint["idle_rss_mib"] = server.rss_mib()
        print(
            f"server up (version {health.get('version')}) in {footprint['cold_start_s']} s, "
            f"idle RSS {footprint['idle_rss_mib']} MiB (goals: <= 3 s, <= 150 MiB); "
            "signing in clients ...",
            flush=True,
        )
        started = time.perf_counter()
        for number in range(1, args.levels[-1] + 1):
            client = Client(number, port)
            client.sign_in()
            if "write-roles" in args.scenario_list:
                client.prepare_roles_target()
            clients.append(client)
        sign_in_s = (time.perf_counter() - started) / len(clients)
        print(f"{len(clients)} clients ready ({sign_in_s * 1000:.0f} ms each incl. set-up)")
        for scenario in args.scenario_list:
            clients[0].reconnect()
            warm_up(scenario, clients[0])
            for level in args.levels:
                run = run_scenario(
                    scenario,
                    clients[:level],
                    planned_requests(args, scenario),
                    args.duration_cap,
                    log_path,
                )
                summary = summarise(run)
                results.append(summary)
                print_line(summary)
        footprint["rss_after_load_mib"] = server.rss_mib()
        print(f"RSS after the load: {footprint['rss_after_load_mib']} MiB")
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    finally:
        for client in clients:
            client.close()
        server.stop()
    report = {
        "machine": machine_info(),
        "config": {
            "clients": args.levels,
            "requests": {s: planned_requests(args, s) for s in args.scenario_list},
            "duration_cap_s": args.duration_cap,
            "warmup_requests": WARMUP_REQUESTS,
            "hash_profile": "interactive",
            "server": "physioez serve (gunicorn, 1 process, gthread)",
            "transport": "http.client keep-alive, one connection and cookie per client",
        },
        "footprint": footprint,
        "results": results,
        "ok": status == 0,
    }
    write_report(args.out, report, tmp, keep=args.keep_tmp, log_path=log_path)
    return status


if __name__ == "__main__":
    sys.exit(main())
