"""Replication latency: a branch commit until the row is visible in head office's MySQL.

Issue 5's goal: "branch-commit -> MySQL-visible p50/p95/p99 at 20 writes/s (goal p95 <= 100 ms;
the bare path, SQLite commit, paho publish, subscriber, MariaDB commit, measured p95 4-5 ms)".

One real branch (an app database booted with ``physioez.app.boot`` in this process, the
real ``BranchPublisher``), a private Mosquitto and a private MariaDB started here on free
loopback ports, one ``HqIngest``. Patients are registered through ``patients.register`` at a
fixed rate, each in its own transaction. The commit time of each is taken by an outbox-commit
listener (called right after the SQLite commit, before the publisher is woken); the time it is
visible at head office by the ingest's ``before_ack`` hook, which runs after the MySQL commit.
Both clocks are this process's ``perf_counter``. See bench/README.md.

    .venv/bin/python bench/sync_latency.py [--rate 20] [--duration 30] [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from nacl.signing import SigningKey

from common import BenchError, goal_line, machine_info, machine_load, write_report
from physioez.core.kernel import records
from physioez.core.kernel.audit import Actor
from physioez.hq import digests, store
from physioez.hq.ingest import HqIngest
from physioez.reception.services import patients
from physioez.reception.services.patients import PatientDetails
from physioez.sync.services import envelope, state
from physioez.sync.services.publisher import BranchPublisher
from sync_support import INGEST_USER, boot_branch, head_office, latency_summary

BRANCH = "BENCH"
GOAL_P95_MS = 100.0
WARMUP_WRITES = 20
CONVERGE_S = 30.0
SEED_NAMES = ("Aarav", "Diya", "Ishaan", "Kavya", "Rohan", "Saanvi", "Vihaan", "Anaya")
SEED_SURNAMES = ("Sharma", "Iyer", "Reddy", "Nair", "Patel", "Gupta", "Menon", "Das")


class Clock:
    """Commit and head-office times per record key (``perf_counter`` seconds)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_commit = 0.0
        self.committed: dict[str, float] = {}
        self.visible: dict[str, float] = {}
        self.batches: list[tuple[int, int]] = []  # (rows in the batch, rows of ours)
        self.sent: list[tuple[int, float]] = []  # (first seq, time handed to paho) per batch
        self.seq_of: dict[str, int] = {}

    def spy_on(self, publisher: BranchPublisher) -> None:
        """Note when each batch is handed to paho (a bench-only wrapper of its publish), to
        split the latency into the branch's part and the rest (broker, ingest, MySQL)."""
        client = publisher._client
        publish = client.publish

        def timed(topic, payload=None, qos=0, retain=False, properties=None):
            info = publish(topic, payload, qos, retain, properties)
            if topic == envelope.up_topic(publisher.branch):
                # The publisher moves _next_seq past the batch only after publish returns.
                self.sent.append((publisher._next_seq, time.perf_counter()))
            return info

        client.publish = timed

    def on_commit(self) -> None:
        # Registered before the publisher's wake, so this is the moment the commit returned.
        self.last_commit = time.perf_counter()

    def on_applied(self, batch: envelope.Batch) -> None:
        # The ingest's before_ack: the batch is committed in MySQL (or was already).
        now = time.perf_counter()
        with self.lock:
            ours = 0
            for row in batch.rows:
                if row["key"] not in self.visible:
                    self.visible[row["key"]] = now
                    self.seq_of[row["key"]] = row["seq"]
                    ours += 1
            self.batches.append((len(batch.rows), ours))

    def handed_over(self, key: str) -> float | None:
        """When the batch that carried ``key`` was handed to paho (the last send before it was
        visible whose range starts at or before its seq)."""
        seq, seen = self.seq_of[key], self.visible[key]
        for first, at in reversed(self.sent):
            if first <= seq and at <= seen:
                return at
        return None


def details(number: int) -> PatientDetails:
    return PatientDetails(
        first_name=f"{SEED_NAMES[number % len(SEED_NAMES)]}{number}",
        last_name=SEED_SURNAMES[(number // len(SEED_NAMES)) % len(SEED_SURNAMES)],
        sex=("female", "male")[number % 2],
        age_years=20 + number % 60,
        phone=f"9{number:09d}",
    )


def write_one(actor: Actor, clock: Clock, number: int, today: date) -> str:
    patient = patients.register(actor, details(number), today)  # its own transaction
    with clock.lock:
        clock.committed[patient.id] = clock.last_commit
    return patient.id


def wait_visible(clock: Clock, keys: list[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with clock.lock:
            if all(key in clock.visible for key in keys):
                return True
        time.sleep(0.02)
    return False


def drive(actor: Actor, clock: Clock, rate: float, duration: float, first: int) -> dict:
    """Open loop: write n is due at start + n / rate, however long the writes before took."""
    today = date.today()
    count = round(rate * duration)
    keys = []
    late = 0
    start = time.perf_counter()
    for n in range(count):
        due = start + n / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        elif wait < -1 / rate:
            late += 1
        keys.append(write_one(actor, clock, first + n, today))
    return {
        "keys": keys,
        "writes": count,
        "late_writes": late,
        "wall_s": round(time.perf_counter() - start, 2),
    }


def converged(mysql, publisher: BranchPublisher, timeout: float) -> dict:
    """Head office holds what the branch holds: cursor, ack and per-table digests."""
    deadline = time.monotonic() + timeout
    with contextlib.closing(mysql.connect()) as connection:
        while True:
            last = state.last_seq()
            applied = store.applied_seq(connection, BRANCH)
            if applied == last and state.acked_seq() == last:
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"not converged: outbox {last}, head office {applied}, "
                    f"acked {state.acked_seq()}"
                )
            publisher.wake()
            time.sleep(0.05)
        same = digests.hq_digests(connection, BRANCH) == state.branch_digests()
    if not same:
        raise BenchError("head office's digests differ from the branch's")
    return {"last_seq": last, "digests_equal": same}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="writes/s (default 20)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument(
        "--linger-ms",
        type=float,
        default=None,
        help="override the publisher's linger (default: BranchPublisher's own)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/sync_latency.json"))
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir and logs")
    args = parser.parse_args(argv)
    if not 0.5 <= args.rate <= 500:
        parser.error("--rate must be between 0.5 and 500")
    if not 1 <= args.duration <= 600:
        parser.error("--duration must be between 1 and 600 seconds")
    if args.linger_ms is not None and not 0 <= args.linger_ms <= 1000:
        parser.error("--linger-ms must be between 0 and 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="physioez-sync-latency-"))
    users = {BRANCH: secrets.token_urlsafe(16), INGEST_USER: secrets.token_urlsafe(16)}
    info: dict = {"load_before": machine_load()}
    result: dict = {}
    goals: list[dict] = []
    status = 0
    try:
        with head_office(tmp / "hq", users) as office:
            print(
                f"head office up: mosquitto on 127.0.0.1:{office.broker.port}, "
                f"mariadbd on 127.0.0.1:{office.mariadb.port}",
                flush=True,
            )
            boot_branch(tmp, BRANCH, "bench/sync_latency.py")
            branch_key = SigningKey.generate()
            with contextlib.closing(office.mysql.connect()) as connection:
                store.register_branch(
                    connection, BRANCH, envelope.encode_key(branch_key.verify_key)
                )
            clock = Clock()
            ingest = HqIngest(
                instance="bench",
                hq_private_key=office.hq_key,
                broker=office.broker_settings(INGEST_USER),
                mysql=office.mysql,
                before_ack=clock.on_applied,
            )
            options = {} if args.linger_ms is None else {"linger_s": args.linger_ms / 1000}
            publisher = BranchPublisher(
                branch=BRANCH,
                signing_key=branch_key,
                hq_public_key=office.hq_key.public_key,
                broker=office.broker_settings(BRANCH),
                **options,
            )
            info["publisher"] = {
                "batch_rows": publisher.batch_rows,
                "batch_bytes": publisher.batch_bytes,
                "linger_ms": publisher.linger_s * 1000,
                "max_inflight": publisher.max_inflight,
                "tick_s": publisher.tick_s,
                "ack_timeout_s": publisher.ack_timeout_s,
            }
            ingest.start()
            clock.spy_on(publisher)
            records.on_outbox_commit(clock.on_commit)  # first: stamps the commit
            records.on_outbox_commit(publisher.wake)
            publisher.start()
            try:
                actor = Actor.system("bench:sync-latency")
                warm = [write_one(actor, clock, n, date.today()) for n in range(WARMUP_WRITES)]
                if not wait_visible(clock, warm, CONVERGE_S):
                    raise BenchError(
                        "the warm-up writes never reached head office\n" + office.log_tails()
                    )
                clock.batches.clear()
                print(
                    f"driving {args.rate:g} registrations/s for {args.duration:g} s "
                    f"(publisher linger {publisher.linger_s * 1000:g} ms) ...",
                    flush=True,
                )
                run = drive(actor, clock, args.rate, args.duration, WARMUP_WRITES)
                if not wait_visible(clock, run["keys"], CONVERGE_S):
                    missing = sum(1 for key in run["keys"] if key not in clock.visible)
                    raise BenchError(f"{missing} writes never reached head office")
                check = converged(office.mysql, publisher, CONVERGE_S)
            finally:
                records.off_outbox_commit(publisher.wake)
                records.off_outbox_commit(clock.on_commit)
                publisher.stop()
                ingest.stop()
            latencies = [(clock.visible[key] - clock.committed[key]) * 1000 for key in run["keys"]]
            branch_part, rest_part = [], []
            for key in run["keys"]:
                sent = clock.handed_over(key)
                if sent is not None:
                    branch_part.append((sent - clock.committed[key]) * 1000)
                    rest_part.append((clock.visible[key] - sent) * 1000)
            batches = clock.batches
            result = {
                "writes": run["writes"],
                "late_writes": run["late_writes"],
                "wall_s": run["wall_s"],
                "achieved_rate": round(run["writes"] / run["wall_s"], 2),
                "latency_ms": latency_summary(latencies),
                "commit_to_publish_ms": latency_summary(branch_part),
                "publish_to_visible_ms": latency_summary(rest_part),
                "batches_applied": len(batches),
                "rows_per_batch_mean": round(
                    sum(rows for rows, _ in batches) / max(1, len(batches)), 2
                ),
                "ingest_counts": dict(ingest.counts),
                **check,
            }
            info["load_after"] = machine_load()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    if status == 0:
        lat = result["latency_ms"]
        print(
            f"commit -> MySQL-visible  n={lat['n']}  p50={lat['p50']:.2f}ms "
            f"p95={lat['p95']:.2f}ms p99={lat['p99']:.2f}ms max={lat['max']:.2f}ms  "
            f"({result['achieved_rate']} writes/s, {result['batches_applied']} batches, "
            f"{result['rows_per_batch_mean']} rows/batch; digests equal)"
        )
        for label, part in (
            ("  branch: commit -> batch handed to paho", result["commit_to_publish_ms"]),
            ("  broker + ingest + MySQL commit        ", result["publish_to_visible_ms"]),
        ):
            print(
                f"{label}  p50={part['p50']:.2f}ms p95={part['p95']:.2f}ms p99={part['p99']:.2f}ms"
            )
        print("goals:")
        goals.append(
            goal_line(
                f"commit -> MySQL-visible p95 at {args.rate:g} writes/s",
                lat["p95"],
                GOAL_P95_MS,
                "ms",
                higher=False,
            )
        )
    report = {
        "machine": machine_info(),
        "load": info,
        "config": {
            "rate_per_s": args.rate,
            "duration_s": args.duration,
            "warmup_writes": WARMUP_WRITES,
            "write": "patients.register, one transaction each (synchronous=full)",
            "branch": "physioez.app.boot on a temp SQLite database, real BranchPublisher",
            "head_office": "private mosquitto (shipped config + ACL) and mariadbd 10.11 "
            "(tests/mariadb_support.py options, with MariaDB's own buffer pool and redo log "
            "sizes), one HqIngest in this process",
            "measure": "outbox-commit listener -> HqIngest before_ack (after the MySQL commit)",
        },
        "result": result,
        "goals": goals,
        "ok": status == 0,
    }
    write_report(args.out, report, tmp, keep=args.keep_tmp)
    return status


if __name__ == "__main__":
    sys.exit(main())
