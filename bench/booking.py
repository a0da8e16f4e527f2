"""Booking benchmark: ``POST /api/v1/appointments`` against a real server.

Measures the product goal "book an appointment (validate, three-way clash check, audit,
outbox, commit): p95 <= 10 ms with 1 client, >= 300 bookings/s with 8 clients on 2 cores".

Set-up runs before the server starts, through the app's own services in a subprocess
(``boot`` then ``admin.services.staff.create_staff``, ``schedule_setup`` and ``patients.register``):
an owner, 20 practitioners working 07:00-21:00 every day, a large room, a 15-minute
appointment type that needs no room, and 2,000 patients. Then every client books distinct
slots on its own practitioners, so every request must answer 201. See bench/README.md.

    .venv/bin/python bench/booking.py [--clients 1,8] [--requests 500] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import (
    MAX_CLIENTS,
    MAX_REQUESTS,
    PASSWORD,
    USERNAME,
    BenchError,
    Client,
    Response,
    Server,
    bench_env,
    check_levels,
    free_port,
    goal_line,
    machine_info,
    machine_load,
    physioez_command,
    print_line,
    run_level,
    run_setup,
    start_server,
    summarise,
    write_config,
    write_report,
)

BRANCH = "BENCH"
TIMEZONE = "Asia/Kolkata"
PRACTITIONERS = 20
PATIENTS = 2000
DAY_START = "07:00"
DAY_END = "21:00"
SLOT_MINUTES = 15
SLOTS_PER_DAY = (21 - 7) * 60 // SLOT_MINUTES  # 56
FIRST_DAY_OFFSET = 7  # Book from a week ahead, as a desk does.
WARMUP_REQUESTS = 20
SETUP_TIMEOUT_S = 300.0
GOAL_P95_MS = 10.0
GOAL_RATE = 300.0
SEED = 2026


# --- set-up, run in a subprocess through the app's own code ---------------------------------


def setup(practitioners: int, patient_count: int) -> dict:
    """Make the clinic with the app's services; returns the ids the clients need."""
    from faker import Faker

    from physioez.admin.services.staff import create_staff
    from physioez.app import boot
    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.db import write_transaction
    from physioez.core.kernel.settings import load_settings
    from physioez.reception.services import patients, schedule_setup
    from physioez.reception.services.patients import PatientDetails

    settings = load_settings()
    boot(settings)
    actor = Actor.system("bench:booking-setup")
    fake = Faker("en_IN")
    fake.seed_instance(SEED)
    started = time.perf_counter()
    create_staff(
        actor,
        username=USERNAME,
        full_name="Bench Owner",
        role_codes=["owner"],
        password=PASSWORD,
        min_password_length=settings.auth.password_min_length,
        must_change_password=False,
    )
    practitioner_ids = []
    for number in range(practitioners):
        # Password hashing (argon2id) happens outside the write lock in create_staff.
        staff = create_staff(
            actor,
            username=f"bench.pt{number:02d}",
            full_name=f"Dr {fake.first_name()} {fake.last_name()}",
            role_codes=["therapist"],
            password="bench-therapist-1",
            min_password_length=settings.auth.password_min_length,
            must_change_password=False,
        )
        with write_transaction():
            practitioner = schedule_setup.make_practitioner(actor, staff)
            for weekday in range(7):
                schedule_setup.add_weekly_hours(actor, practitioner, weekday, DAY_START, DAY_END)
        practitioner_ids.append(practitioner.id)
    with write_transaction():
        schedule_setup.create_resource(actor, kind="room", name="Open gym", capacity=100)
        session = schedule_setup.create_appointment_type(
            actor, name="Follow-up session", duration_minutes=SLOT_MINUTES, service_code="PT15"
        )
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    patient_ids = []
    batch = 250  # One commit per batch: each registration is still its own savepoint.
    for first in range(0, patient_count, batch):
        with write_transaction():
            for _ in range(first, min(first + batch, patient_count)):
                sex = fake.random_element(("female", "male"))
                first_name = fake.first_name_female() if sex == "female" else fake.first_name_male()
                details = PatientDetails(
                    first_name=first_name,
                    last_name=fake.last_name(),
                    sex=sex,
                    age_years=fake.random_int(5, 85),
                    phone=f"+91 {fake.random_int(6, 9)}{fake.numerify('#########')}",
                )
                patient_ids.append(patients.register(actor, details, today).id)
    return {
        "practitioner_ids": practitioner_ids,
        "type_id": session.id,
        "patient_ids": patient_ids,
        "today": today.isoformat(),
        "setup_s": round(time.perf_counter() - started, 2),
    }


# --- the clients' bookings ------------------------------------------------------------------


@dataclass
class Booker:
    """What one client books: its own practitioners and patients, slot after slot."""

    client: Client
    practitioner_ids: list[str]
    patient_ids: list[str]
    type_id: str
    first_day: date
    zone: ZoneInfo
    cursor: int = 0  # Bookings made (or tried) so far: never reused, so never a clash.
    patient_cursor: int = 0
    made: list[str] = field(default_factory=list)

    def next_body(self) -> dict:
        per_day = SLOTS_PER_DAY * len(self.practitioner_ids)
        day_index, rest = divmod(self.cursor, per_day)
        slot, which = divmod(rest, len(self.practitioner_ids))
        self.cursor += 1
        day = self.first_day + timedelta(days=day_index)
        start = datetime.combine(
            day, datetime.strptime(DAY_START, "%H:%M").time(), self.zone
        ) + timedelta(minutes=SLOT_MINUTES * slot)
        patient = self.patient_ids[self.patient_cursor % len(self.patient_ids)]
        self.patient_cursor += 1
        return {
            "patient_id": patient,
            "practitioner_id": self.practitioner_ids[which],
            "type_id": self.type_id,
            "start": start.isoformat(),
            "override_reason": "",
        }

    def book(self) -> tuple[Response, int]:
        resp = self.client.json_call("POST", "/api/v1/appointments", self.next_body())
        return resp, 201


def make_bookers(
    clients: list[Client], ids: dict, zone: ZoneInfo, first_day: date
) -> dict[int, Booker]:
    """Client n gets practitioners n, n+N, ... and patients n, n+N, ... (N = clients)."""
    count = len(clients)
    practitioner_ids = ids["practitioner_ids"]
    patient_ids = ids["patient_ids"]
    bookers = {}
    for index, client in enumerate(clients):
        mine = practitioner_ids[index::count]
        # Enough patients that one never meets itself in a slot: more than practitioners.
        patients = patient_ids[index::count]
        if len(patients) <= len(mine):
            raise BenchError("too few patients per client for clash-free bookings")
        bookers[client.number] = Booker(client, mine, patients, ids["type_id"], first_day, zone)
    return bookers


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8", help="concurrency levels (default 1,8)")
    parser.add_argument(
        "--requests", type=int, default=500, help="bookings per level (default 500)"
    )
    parser.add_argument(
        "--duration-cap", type=float, default=30.0, help="seconds per level (default 30)"
    )
    parser.add_argument(
        "--patients", type=int, default=PATIENTS, help=f"patients (default {PATIENTS})"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/booking.json"))
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir and its log")
    parser.add_argument("--setup-only-internal", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.levels = check_levels(args.clients)
    except ValueError as exc:
        parser.error(f"--clients: {exc}")
    if args.levels[-1] > min(MAX_CLIENTS, PRACTITIONERS):
        parser.error(f"--clients: at most {PRACTITIONERS} (one practitioner per client at least)")
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be between 1 and {MAX_REQUESTS}")
    if not 0 < args.duration_cap <= 3600:
        parser.error("--duration-cap must be between 0 and 3600 seconds")
    if not 100 <= args.patients <= 100_000:
        parser.error("--patients must be between 100 and 100000")
    return args


def count_rows(database: Path) -> dict[str, int]:
    """Rows the run left behind (read after the server stopped), as a sanity check."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("appointment", "audit_event", "outbox")
        }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup_only_internal:
        print(json.dumps(setup(PRACTITIONERS, args.patients)))
        return 0
    try:
        command = physioez_command()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="physioez-booking-"))
    port = free_port()
    config = write_config(
        tmp / "physioez.bench.toml",
        port=port,
        data_dir=tmp / "data",
        key_file=tmp / "keys" / "kek",
        branch=BRANCH,
        written_by="bench/booking.py",
    )
    log_path = tmp / "server.log"
    log_path.touch()
    env = bench_env(config)
    server = Server(command, env, log_path, port)
    clients: list[Client] = []
    results: list[dict] = []
    goals: list[dict] = []
    info: dict = {"load_before": machine_load()}
    status = 0
    try:
        print(
            f"set-up: {PRACTITIONERS} practitioners 07:00-21:00 daily, {args.patients} patients "
            "(through the app's services) ...",
            flush=True,
        )
        ids = run_setup(
            Path(__file__).resolve(),
            ["--setup-only-internal", "--patients", str(args.patients)],
            env,
            SETUP_TIMEOUT_S,
        )
        info["setup_s"] = ids["setup_s"]
        print(f"set-up done in {ids['setup_s']} s; starting server ...", flush=True)
        health = start_server(server)
        print(f"server up (version {health.get('version')}); signing in clients ...", flush=True)
        for number in range(1, args.levels[-1] + 1):
            client = Client(number, port)
            client.sign_in()
            clients.append(client)
        zone = ZoneInfo(TIMEZONE)
        first_day = date.fromisoformat(ids["today"]) + timedelta(days=FIRST_DAY_OFFSET)
        # Practitioners and patients are split by the highest level, once: a client keeps
        # its own share and its slot cursor across levels, so no level re-books a slot.
        bookers = make_bookers(clients, ids, zone, first_day)
        warm = bookers[clients[0].number]
        clients[0].reconnect()
        for _ in range(WARMUP_REQUESTS):
            resp, expected = warm.book()
            if resp.status != expected:
                raise BenchError(
                    f"warm-up booking answered {resp.status}: "
                    f"{resp.body[:500].decode('utf-8', 'replace')}"
                )

        def call(client: Client) -> tuple[Response, int]:
            return bookers[client.number].book()

        for level in args.levels:
            run = run_level(
                "book",
                clients[:level],
                call,
                args.requests,
                args.duration_cap,
                log_path,
                "/api/v1/appointments",
            )
            summary = summarise(run)
            summary["bookings_per_s"] = summary["ok_per_s"]
            results.append(summary)
            print_line(summary)
        info["load_after"] = machine_load()
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
    if status == 0:
        try:
            info["rows_after"] = count_rows(tmp / "data" / "physioez.sqlite3")
        except sqlite3.Error as exc:
            info["rows_after"] = f"unreadable: {exc}"
        print("goals:")
        by_level = {r["clients"]: r for r in results}
        if 1 in by_level:
            goals.append(
                goal_line(
                    "book p95 at 1 client",
                    by_level[1]["latency_ms"]["p95"],
                    GOAL_P95_MS,
                    "ms",
                    higher=False,
                )
            )
        if 8 in by_level:
            goals.append(
                goal_line(
                    "bookings/s at 8 clients",
                    by_level[8]["ok_per_s"],
                    GOAL_RATE,
                    "bookings/s",
                    higher=True,
                )
            )
        if any(r["errors"] for r in results):
            print("  MISS  some bookings did not answer 201 (see first error above)")
            status = 1
    report = {
        "machine": machine_info(),
        "load": info,
        "config": {
            "clients": args.levels,
            "requests_per_level": args.requests,
            "duration_cap_s": args.duration_cap,
            "warmup_requests": WARMUP_REQUESTS,
            "practitioners": PRACTITIONERS,
            "patients": args.patients,
            "appointment_type": f"{SLOT_MINUTES} min, no room",
            "hours": f"{DAY_START}-{DAY_END} every day",
            "hash_profile": "interactive",
            "server": "physioez serve (gunicorn, 1 process, gthread)",
            "transport": "http.client keep-alive, one connection and cookie per client",
        },
        "results": results,
        "goals": goals,
        "ok": status == 0,
    }
    write_report(args.out, report, tmp, keep=args.keep_tmp, log_path=log_path)
    return status


if __name__ == "__main__":
    sys.exit(main())
