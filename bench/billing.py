"""Billing benchmark: checkout (invoice + payment) over HTTP, and the monthly revenue report on
the ten-year dataset.

Checkout: a real ``physioez serve`` on a fresh database, set up through the app's own services
in a subprocess (the account the clients sign in as, with the billing role only; a price list;
patients). One checkout is ``POST /api/v1/billing/patients/<id>/invoices`` with a session line,
then ``POST /api/v1/billing/patients/<id>/payments`` paying that invoice in full (cash or UPI);
both must answer 201 and the payment must settle the invoice. Goals, from the durable-write
goals (a checkout is two audited writes): p95 <= 20 ms at 1 client, >= 150 checkouts/s at 8.

Revenue: builds or reuses bench/dataset.py's ten-year branch (with ten years of billing) and
times ``billing.services.reports.monthly_revenue`` for several months on a copy (goal: p95 <=
500 ms). See bench/README.md.

    .venv/bin/python bench/billing.py [--part all|checkout|revenue] [--clients 1,8] [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dataset
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
PATIENTS = 400
SESSION_CODE = "PT45"
SESSION_PRICE = 80000  # paise
WARMUP_CHECKOUTS = 20
SETUP_TIMEOUT_S = 300.0
GOAL_P95_MS = 20.0
GOAL_RATE = 150.0
GOAL_REVENUE_MS = dataset.GOAL_REVENUE_MS
PATH_PREFIX = "/api/v1/billing/"


# --- set-up, run in a subprocess through the app's own code ---------------------------------


def setup(patient_count: int) -> dict:
    """The account, a price list and patients, made with the app's services."""
    from faker import Faker

    from physioez.admin.services.staff import create_staff
    from physioez.app import boot
    from physioez.billing.services import pricing
    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.db import write_transaction
    from physioez.core.kernel.settings import load_settings
    from physioez.reception.services import patients
    from physioez.reception.services.patients import PatientDetails

    settings = load_settings()
    boot(settings)
    actor = Actor.system("bench:billing-setup")
    fake = Faker("en_IN")
    fake.seed_instance(2026)
    started = time.perf_counter()
    create_staff(
        actor,
        username=USERNAME,
        full_name="Bench Accounts",
        role_codes=["billing"],  # the accounts desk: invoices by hand and payments
        password=PASSWORD,
        min_password_length=settings.auth.password_min_length,
        must_change_password=False,
    )
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    with write_transaction():
        pricing.create_service(
            actor,
            code=SESSION_CODE,
            name="Physiotherapy session (45 min)",
            price=SESSION_PRICE,
            valid_from=today - timedelta(days=30),
            tax_code="999314",
        )
    patient_ids = []
    batch = 200  # One commit per batch: each registration is still its own savepoint.
    for first in range(0, patient_count, batch):
        with write_transaction():
            for _ in range(first, min(first + batch, patient_count)):
                sex = fake.random_element(("female", "male"))
                name = fake.first_name_female() if sex == "female" else fake.first_name_male()
                details = PatientDetails(
                    first_name=name,
                    last_name=fake.last_name(),
                    sex=sex,
                    age_years=fake.random_int(5, 85),
                    phone=f"+91 {fake.random_int(6, 9)}{fake.numerify('#########')}",
                )
                patient_ids.append(patients.register(actor, details, today).id)
    return {"patient_ids": patient_ids, "setup_s": round(time.perf_counter() - started, 2)}


# --- the clients' checkouts -----------------------------------------------------------------

_REDIRECT = re.compile(rb'href="(/[^"]*)"')


class DeskClient(Client):
    """A client of the accounts desk: its home (``GET /``) redirects to its checkout page, which
    the shared sign-in reads the CSRF token from; that one redirect is followed."""

    def request(self, method, path, body=None, headers=None) -> Response:
        answer = super().request(method, path, body, headers)
        target = _REDIRECT.search(answer.body) if answer.status in (302, 303) else None
        if method == "GET" and path == "/" and target:
            return super().request("GET", target.group(1).decode(), headers=headers)
        return answer


@dataclass
class Desk:
    """One client's own patients, each checked out in turn."""

    client: Client
    patient_ids: list[str]
    done: int = 0

    def checkout(self) -> tuple[Response, int]:
        patient = self.patient_ids[self.done % len(self.patient_ids)]
        self.done += 1
        base = f"{PATH_PREFIX}patients/{patient}"
        made = self.client.json_call(
            "POST", f"{base}/invoices", {"lines": [{"service_code": SESSION_CODE}]}
        )
        if made.status != 201:
            return made, 201
        invoice = made.json()
        tender = {"mode": "cash", "amount": invoice["total"]}
        if self.done % 2:
            tender = {"mode": "upi", "amount": invoice["total"], "reference": f"UPI {self.done}"}
        paid = self.client.json_call(
            "POST", f"{base}/payments", {"tenders": [tender], "invoice_ids": [invoice["id"]]}
        )
        if paid.status == 201:
            settled = paid.json()["settled"]
            if settled != [{"invoice_id": invoice["id"], "amount": invoice["total"]}]:
                return Response(0, f"payment did not settle the invoice: {settled}".encode()), 201
        return paid, 201


def make_desks(clients: list[Client], patient_ids: list[str]) -> dict[int, Desk]:
    """Client n checks out patients n, n+N, ... (N = clients), so no two share an account."""
    count = len(clients)
    return {
        client.number: Desk(client, patient_ids[index::count])
        for index, client in enumerate(clients)
    }


def check_books(database: Path) -> dict:
    """After the run: every invoice paid, books balanced (read once the server stopped)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        facts = {
            "invoices": one("SELECT count(*) FROM invoice"),
            "payments": one("SELECT count(*) FROM payment"),
            "journal_entries": one("SELECT count(*) FROM journal_entry"),
            "audit_events": one("SELECT count(*) FROM audit_event"),
            "outbox": one("SELECT count(*) FROM outbox"),
            "invoices_owing": one(
                "SELECT count(*) FROM invoice i WHERE i.total > (SELECT COALESCE(SUM(amount), 0) "
                "FROM settlement s WHERE s.invoice_id = i.id)"
            ),
            "unbalanced": one("SELECT SUM(debit) - SUM(credit) FROM journal_line"),
        }
    if facts["invoices_owing"] or facts["unbalanced"] or facts["invoices"] != facts["payments"]:
        raise BenchError(f"the books do not hold after the run: {facts}")
    return facts


def run_checkout(
    args: argparse.Namespace, command: Path, report: dict, tmp: Path
) -> tuple[int, list]:
    port = free_port()
    config = write_config(
        tmp / "physioez.bench.toml",
        port=port,
        data_dir=tmp / "data",
        key_file=tmp / "keys" / "kek",
        branch=BRANCH,
        written_by="bench/billing.py",
    )
    log_path = tmp / "server.log"
    log_path.touch()
    env = bench_env(config)
    server = Server(command, env, log_path, port)
    clients: list[Client] = []
    results: list[dict] = []
    goals: list[dict] = []
    status = 0
    try:
        print(f"set-up: a price list and {args.patients} patients (app services) ...", flush=True)
        ids = run_setup(
            Path(__file__).resolve(),
            ["--setup-only-internal", "--patients", str(args.patients)],
            env,
            SETUP_TIMEOUT_S,
        )
        report["setup_s"] = ids["setup_s"]
        health = start_server(server)
        print(f"server up (version {health.get('version')}); signing in clients ...", flush=True)
        for number in range(1, args.levels[-1] + 1):
            client = DeskClient(number, port)
            client.sign_in()
            clients.append(client)
        # Patients are split by the highest level, once; a client keeps its share throughout.
        desks = make_desks(clients, ids["patient_ids"])
        warm = desks[clients[0].number]
        clients[0].reconnect()
        for _ in range(WARMUP_CHECKOUTS):
            resp, expected = warm.checkout()
            if resp.status != expected:
                raise BenchError(
                    f"warm-up checkout answered {resp.status}: "
                    f"{resp.body[:500].decode('utf-8', 'replace')}"
                )
        for level in args.levels:
            run = run_level(
                "checkout",
                clients[:level],
                lambda c: desks[c.number].checkout(),
                args.requests,
                args.duration_cap,
                log_path,
                PATH_PREFIX,
            )
            summary = summarise(run)
            summary["checkouts_per_s"] = summary["ok_per_s"]
            summary["server_ms"]["per"] = "request (two per checkout)"
            results.append(summary)
            print_line(summary)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    finally:
        for client in clients:
            client.close()
        server.stop()
    if status == 0:
        try:
            report["books_after"] = check_books(tmp / "data" / "physioez.sqlite3")
        except (BenchError, sqlite3.Error) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    if status == 0:
        by_level = {r["clients"]: r for r in results}
        if 1 in by_level:
            goals.append(
                goal_line(
                    "checkout p95 at 1 client",
                    by_level[1]["latency_ms"]["p95"],
                    GOAL_P95_MS,
                    "ms",
                    higher=False,
                )
            )
        if 8 in by_level:
            goals.append(
                goal_line(
                    "checkouts/s at 8 clients",
                    by_level[8]["ok_per_s"],
                    GOAL_RATE,
                    "checkouts/s",
                    higher=True,
                )
            )
        if any(r["errors"] for r in results):
            print("  MISS  some checkouts failed (see first error above)")
            status = 1
    report["checkout"] = results
    return status, goals


def run_revenue(args: argparse.Namespace, command: Path, report: dict) -> tuple[int, list]:
    """Monthly revenue on a copy of the ten-year dataset (bench/dataset.py's defaults)."""
    defaults = dataset.parse_args([])
    params = dataset.Params(
        defaults.patients,
        defaults.practitioners,
        defaults.appointments,
        defaults.audit_events,
        defaults.years,
        defaults.seed,
    )
    tmp = Path(tempfile.mkdtemp(prefix="physioez-revenue-"))
    try:
        cache, facts = dataset.ensure_dataset(params, command, rebuild=args.rebuild)
        report["dataset"] = facts
        copied = time.perf_counter()
        shutil.copyfile(cache, tmp / "physioez.sqlite3")
        report["copy_s"] = round(time.perf_counter() - copied, 2)
        revenue = dataset.time_revenue(
            tmp / "physioez.sqlite3", dataset.revenue_months(facts, args.months), args.runs
        )
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1, []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["monthly_revenue"] = revenue
    dataset.print_revenue(revenue)
    goal = goal_line(
        "monthly revenue report p95 (ten-year branch)",
        revenue["p95_ms"],
        GOAL_REVENUE_MS,
        "ms",
        higher=False,
    )
    return 0, [goal]


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("all", "checkout", "revenue"), default="all")
    parser.add_argument("--clients", default="1,8", help="concurrency levels (default 1,8)")
    parser.add_argument("--requests", type=int, default=500, help="checkouts per level")
    parser.add_argument("--duration-cap", type=float, default=30.0, help="seconds per level")
    parser.add_argument("--patients", type=int, default=PATIENTS, help="patients in the set-up")
    parser.add_argument("--months", type=int, default=12, help="full months back to report")
    parser.add_argument("--runs", type=int, default=5, help="revenue report runs per month")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the ten-year dataset")
    parser.add_argument("--out", type=Path, default=Path("bench/results/billing.json"))
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir and its log")
    parser.add_argument("--setup-only-internal", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.levels = check_levels(args.clients)
    except ValueError as exc:
        parser.error(f"--clients: {exc}")
    if args.levels[-1] > MAX_CLIENTS:
        parser.error(f"--clients: at most {MAX_CLIENTS}")
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be between 1 and {MAX_REQUESTS}")
    if not 0 < args.duration_cap <= 3600:
        parser.error("--duration-cap must be between 0 and 3600 seconds")
    if not args.levels[-1] <= args.patients <= 100_000:
        parser.error("--patients must be at least the highest level and at most 100000")
    if not 0 <= args.months <= 120 or not 1 <= args.runs <= 100:
        parser.error("--months is 0 to 120, --runs 1 to 100")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup_only_internal:
        print(json.dumps(setup(args.patients)))
        return 0
    try:
        command = physioez_command()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report: dict = {"machine": machine_info(), "load": {"before": machine_load()}}
    tmp = Path(tempfile.mkdtemp(prefix="physioez-billing-"))
    goals: list[dict] = []
    status = 0
    try:
        if args.part in ("all", "checkout"):
            done, met = run_checkout(args, command, report, tmp)
            status, goals = max(status, done), goals + met
        if args.part in ("all", "revenue"):
            done, met = run_revenue(args, command, report)
            status, goals = max(status, done), goals + met
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    report["load"]["after"] = machine_load()
    report.update(
        {
            "config": {
                "part": args.part,
                "clients": args.levels,
                "requests_per_level": args.requests,
                "duration_cap_s": args.duration_cap,
                "warmup_checkouts": WARMUP_CHECKOUTS,
                "patients": args.patients,
                "checkout": "POST invoices (one session line) + POST payments (cash or UPI)",
                "signed_in_as": f"{USERNAME}, role billing",
                "revenue_months_back": args.months,
                "revenue_runs_per_month": args.runs,
                "hash_profile": "interactive",
                "server": "physioez serve (gunicorn, 1 process, gthread)",
            },
            "goals": goals,
            "ok": status == 0,
        }
    )
    write_report(args.out, report, tmp, keep=args.keep_tmp, log_path=tmp / "server.log")
    return status


if __name__ == "__main__":
    sys.exit(main())
