"""Head-office ingest throughput, and the catch-up of a branch's backlog.

Issue 5's goals: "bench/hq_ingest.py drives 50 simulated branches and prints changes/s at head
office (goal >= 5,000/s on this machine); the catch-up of a 100,000-change backlog is timed
(goal <= 30 s)".

Part 1, throughput: 50 simulated branches, each with its own Ed25519 key registered at head
office and its own broker user, publish sealed batches (``envelope.seal``) of realistic outbox
rows (patient registrations and updates shaped like the app's own snapshots) with QoS 1 to
their up topics, keeping at most 4 batches unacknowledged and moving on only on head office's
acks, as ``BranchPublisher`` does. 1, 2 and 4 ``HqIngest`` instances (each its own process, as
``physioez-hq ingest`` runs) share the subscription and apply them to MariaDB.

Part 2, catch-up: a real branch database (``physioez.app.boot``) whose outbox holds 100,000
changes; the real ``BranchPublisher`` starts, and the clock runs until head office's cursor
for the branch reaches its last seq. See bench/README.md.

    .venv/bin/python bench/hq_ingest.py [--ingests 1,2,4] [--backlog 100000] [--out PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import secrets
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from common import BenchError, check_levels, goal_line, machine_info, machine_load, write_report
from physioez.core.kernel.canonical import canonical_json
from physioez.hq import digests, store
from physioez.sync.services import envelope
from physioez.sync.services.mqtt import BrokerSettings, connect, new_client
from sync_support import INGEST_USER, HeadOffice, boot_branch, patient_changes

BACKLOG_BRANCH = "BENCH"
GOAL_RATE = 5000.0
GOAL_CATCH_UP_S = 30.0
REAL_REGISTRATIONS = 1000
WINDOW = 4  # batches in flight per branch, as sync.max_inflight
ACK_TIMEOUT_S = 10.0  # as sync.ack_timeout_seconds
PHASE_TIMEOUT_S = 600.0


# --- one ingest instance, in its own process ---------------------------------------------------


def run_ingest(config_path: Path, instance: str) -> int:
    """Child process: one HqIngest until its standard input closes; prints its counts."""
    import logging

    import physioez.app  # noqa: F401 - every module's models, as `physioez-hq ingest` loads them
    from physioez.hq.ingest import HqIngest

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = json.loads(config_path.read_text())
    ingest = HqIngest(
        instance=instance,
        hq_private_key=PrivateKey(bytes.fromhex(config["hq_key"])),
        broker=BrokerSettings(**config["broker"]),
        mysql=store.MySqlSettings(**config["mysql"]),
    )
    ingest.start()
    client = ingest._client  # bench only: wait until it is connected before saying ready
    deadline = time.monotonic() + 20
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # its SUBSCRIBE goes out from on_connect
    print("ready" if client.is_connected() else "not-connected", flush=True)
    sys.stdin.read()  # the parent closes it to stop us
    ingest.stop()
    print(json.dumps(dict(ingest.counts)), flush=True)
    return 0


@dataclass
class IngestProcess:
    instance: str
    process: subprocess.Popen
    counts: dict = field(default_factory=dict)

    @classmethod
    def start(cls, instance: str, config_path: Path, log_path: Path) -> IngestProcess:
        log = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, __file__, "--ingest-internal", str(config_path), instance],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        log.close()
        return cls(instance, process)

    def wait_ready(self, timeout: float) -> None:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline().decode().strip() if ready else ""
        if line != "ready":
            raise BenchError(f"ingest {self.instance} did not start ({line or 'no answer'})")

    def stop(self) -> dict:
        try:
            # Closes its standard input (the signal to stop), then reads its counts.
            out, _ = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate(timeout=10)
        lines = [line for line in out.decode().splitlines() if line.strip()]
        with contextlib.suppress(IndexError, ValueError):
            self.counts = json.loads(lines[-1])
        return self.counts


def start_ingests(count: int, office: HeadOffice, tmp: Path) -> list[IngestProcess]:
    config_path = tmp / "ingest.json"
    broker = office.broker_settings(INGEST_USER)
    config_path.write_text(
        json.dumps(
            {
                "hq_key": bytes(office.hq_key).hex(),
                "broker": {
                    "host": broker.host,
                    "port": broker.port,
                    "username": broker.username,
                    "password": broker.password,
                    "keepalive": broker.keepalive,
                },
                "mysql": dataclasses.asdict(office.mysql),
            }
        )
    )
    config_path.chmod(0o600)
    ingests = [
        IngestProcess.start(f"bench-{n}", config_path, tmp / f"ingest-{n}.log")
        for n in range(count)
    ]
    try:
        for ingest in ingests:
            ingest.wait_ready(30)
    except BenchError:
        for ingest in ingests:
            ingest.stop()
        raise
    return ingests


def total_counts(counts: list[dict]) -> dict:
    total: dict[str, int] = {}
    for one in counts:
        for name, value in one.items():
            total[name] = total.get(name, 0) + value
    return total


# --- simulated branches ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sealed:
    first_seq: int
    last_seq: int
    payload: bytes


def seal_branch(
    branch: str,
    key: SigningKey,
    hq_key: PrivateKey,
    templates: list[dict],
    rows: int,
    batch_rows: int,
) -> list[Sealed]:
    """The branch's outbox as sealed batches: what ``BranchPublisher`` would publish."""
    stream = [
        {"seq": seq, **change, "schema_version": templates[0]["schema_version"]}
        for seq, change in enumerate(
            patient_changes([t["row"] for t in templates], rows, branch, 1), start=1
        )
    ]
    sealed = []
    for first in range(0, len(stream), batch_rows):
        part = stream[first : first + batch_rows]
        batch = envelope.Batch(
            branch, part[0]["seq"], part[-1]["seq"], envelope.SCHEMA_VERSION, part
        )
        sealed.append(
            Sealed(batch.first_seq, batch.last_seq, envelope.seal(batch, key, hq_key.public_key))
        )
    return sealed


class SimBranch:
    """One branch's publishing, as ``BranchPublisher`` does it: QoS 1 to its up topic, at most
    ``WINDOW`` batches unacknowledged, forward on ``applied_seq``, back on ``resend_from``
    or when no ack comes for ``ACK_TIMEOUT_S``."""

    def __init__(self, name: str, batches: list[Sealed], broker: BrokerSettings) -> None:
        self.name = name
        self.batches = batches
        self.by_first = {batch.first_seq: n for n, batch in enumerate(batches)}
        self.last_seq = batches[-1].last_seq
        self.broker = broker
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.done = threading.Event()
        self.acked = 0
        self.next_index = 0
        self.inflight: list[int] = []  # indexes of batches sent and not acked
        self.progress_at = time.monotonic()
        self.published = 0
        self.resends = 0
        self.finished_at: float | None = None
        self.client = new_client(f"physioez-branch-{name}", broker)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def connect(self) -> None:
        connect(self.client, self.broker)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe(envelope.ack_topic(self.name), qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.subscribed.set()

    def begin(self) -> None:
        with self.lock:
            self.progress_at = time.monotonic()
            self._fill()

    def _fill(self) -> None:
        while len(self.inflight) < WINDOW and self.next_index < len(self.batches):
            batch = self.batches[self.next_index]
            self.client.publish(envelope.up_topic(self.name), batch.payload, qos=1)
            self.inflight.append(self.next_index)
            self.next_index += 1
            self.published += 1

    def _rewind(self, seq: int) -> None:
        self.inflight.clear()
        self.next_index = self.by_first.get(max(seq, self.acked + 1), self.next_index)
        self.resends += 1

    def _on_message(self, client, userdata, message) -> None:
        answer = json.loads(message.payload)
        with self.lock:
            if "applied_seq" in answer:
                acked = int(answer["applied_seq"])
                if acked > self.acked:
                    self.acked = acked
                    self.progress_at = time.monotonic()
                while self.inflight and self.batches[self.inflight[0]].last_seq <= self.acked:
                    self.inflight.pop(0)
                while (
                    self.next_index < len(self.batches)
                    and self.batches[self.next_index].last_seq <= self.acked
                ):
                    self.next_index += 1
            if "resend_from" in answer:
                self._rewind(int(answer["resend_from"]))
            if self.acked >= self.last_seq:
                if not self.done.is_set():
                    self.finished_at = time.perf_counter()
                    self.done.set()
                return
            self._fill()

    def check_timeout(self) -> None:
        with self.lock:
            if not self.done.is_set() and time.monotonic() - self.progress_at > ACK_TIMEOUT_S:
                self._rewind(self.acked + 1)
                self.progress_at = time.monotonic()
                self._fill()


def scalar(connection, sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        (value,) = cursor.fetchone()
    connection.commit()
    return int(value)


def rate_between(series: list[tuple[float, int]], low: int, high: int) -> float | None:
    """Changes/s between the first samples that saw ``low`` and ``high`` changes applied."""
    first = next(((t, n) for t, n in series if n >= low), None)
    last = next(((t, n) for t, n in series if n >= high), None)
    if first is None or last is None or last[0] <= first[0]:
        return None
    return (last[1] - first[1]) / (last[0] - first[0])


def throughput_level(
    count: int,
    office: HeadOffice,
    tmp: Path,
    sealed: dict[str, list[Sealed]],
    expected_records: int,
) -> dict:
    office.restart_broker()  # no session of an earlier level's ingest shares the subscription
    office.reset_replicated()
    total = sum(batches[-1].last_seq for batches in sealed.values())
    ingests = start_ingests(count, office, tmp)
    branches = [
        SimBranch(name, batches, office.broker_settings(name)) for name, batches in sealed.items()
    ]
    series: list[tuple[float, int]] = []
    try:
        for branch in branches:
            branch.connect()
        deadline = time.monotonic() + 30
        for branch in branches:
            if not branch.subscribed.wait(max(0.1, deadline - time.monotonic())):
                raise BenchError(f"branch {branch.name} could not subscribe to its acks")
        with contextlib.closing(office.mysql.connect()) as connection:
            started = time.perf_counter()
            for branch in branches:
                branch.begin()
            series.append((0.0, 0))
            deadline = time.monotonic() + PHASE_TIMEOUT_S
            while True:
                done = scalar(connection, "SELECT COALESCE(SUM(applied_seq), 0) FROM branch_cursor")
                series.append((time.perf_counter() - started, done))
                if done >= total and all(branch.done.is_set() for branch in branches):
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"level {count}: {done} of {total} changes after the timeout")
                for branch in branches:
                    branch.check_timeout()
                time.sleep(0.05)
            # Until the last branch had its last ack (after head office's last commit).
            elapsed = max(branch.finished_at or started for branch in branches) - started
            records = scalar(connection, "SELECT COUNT(*) FROM replicated_row")
            # Head office's patient table (sync/entities.py) is written in the same
            # transactions: it must hold every record too.
            entity_rows = scalar(connection, "SELECT COUNT(*) FROM patient")
    finally:
        for branch in branches:
            branch.close()
        counts = [ingest.stop() for ingest in ingests]
    counted = total_counts(counts)
    if records != expected_records:
        raise BenchError(f"head office holds {records} records, expected {expected_records}")
    if entity_rows != expected_records:
        raise BenchError(f"head office's patient table holds {entity_rows}, not {expected_records}")
    if counted.get("rows", 0) != total:
        raise BenchError(f"ingests wrote {counted.get('rows', 0)} rows for {total} changes")
    return {
        "ingests": count,
        "changes": total,
        "seconds": round(elapsed, 2),
        "changes_per_s": round(total / elapsed, 1),
        "changes_per_s_10_90": round(rate_between(series, total // 10, total * 9 // 10) or 0, 1),
        "batches_published": sum(branch.published for branch in branches),
        "branch_rewinds": sum(branch.resends for branch in branches),
        "ingest_counts": counted,
        "ingest_counts_each": counts,
        "records_at_head_office": records,
    }


# --- the backlog -------------------------------------------------------------------------------


def real_registrations(count: int) -> None:
    """Patients registered through the app's own service (batches of 250 per commit)."""
    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.db import write_transaction
    from physioez.reception.services import patients
    from physioez.reception.services.patients import PatientDetails

    actor = Actor.system("bench:hq-ingest")
    names = ("Aarav", "Diya", "Ishaan", "Kavya", "Rohan", "Saanvi", "Vihaan", "Anaya")
    surnames = ("Sharma", "Iyer", "Reddy", "Nair", "Patel", "Gupta", "Menon", "Das")
    today = date.today()
    for first in range(0, count, 250):
        with write_transaction():
            for n in range(first, min(first + 250, count)):
                patients.register(
                    actor,
                    PatientDetails(
                        first_name=f"{names[n % 8]}{n}",
                        last_name=surnames[(n // 8) % 8],
                        sex=("female", "male")[n % 2],
                        age_years=20 + n % 60,
                        phone=f"9{n:09d}",
                        address=f"{n % 300 + 1}, {('Anna Salai', 'FC Road', 'Sector 17')[n % 3]}",
                    ),
                    today,
                )


def outbox_templates() -> list[dict]:
    from physioez.core.kernel.db import database

    rows = database.execute_sql(
        "SELECT row_json, schema_version FROM outbox WHERE table_name = 'patient' ORDER BY seq"
    ).fetchall()
    return [{"row": json.loads(row_json), "schema_version": version} for row_json, version in rows]


def fill_backlog(templates: list[dict], target: int, branch: str) -> int:
    """Outbox rows written straight into the branch's SQLite, shaped like ``templates``, until
    the outbox holds ``target`` changes. Returns its last seq."""
    from physioez.core.kernel.db import database, write_transaction
    from physioez.sync.services import state

    missing = target - state.last_seq()
    version = templates[0]["schema_version"]
    created = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    changes = patient_changes([t["row"] for t in templates], missing, branch, 100_000)
    chunk: list[tuple] = []
    for change in changes:
        chunk.append(
            (
                change["table"],
                change["op"],
                change["key"],
                canonical_json(change["row"]),
                change["hlc"],
                version,
                created,
                canonical_json(change["base"]) if "base" in change else None,
            )
        )
        if len(chunk) == 10_000:
            _insert_outbox(database, write_transaction, chunk)
            chunk = []
    if chunk:
        _insert_outbox(database, write_transaction, chunk)
    return state.last_seq()


def _insert_outbox(database, write_transaction, rows: list[tuple]) -> None:
    with write_transaction():
        database.cursor().executemany(
            "INSERT INTO outbox (table_name, operation, row_key, row_json, hlc, schema_version, "
            "created_at, base_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def catch_up(
    office: HeadOffice, tmp: Path, branch_key: SigningKey, ingest_count: int, last_seq: int
) -> dict:
    from physioez.sync.services import state
    from physioez.sync.services.publisher import BranchPublisher

    office.restart_broker()
    office.reset_replicated()
    ingests = start_ingests(ingest_count, office, tmp)
    publisher = BranchPublisher(
        branch=BACKLOG_BRANCH,
        signing_key=branch_key,
        hq_public_key=office.hq_key.public_key,
        broker=office.broker_settings(BACKLOG_BRANCH),
    )
    series: list[tuple[float, int]] = []
    try:
        with contextlib.closing(office.mysql.connect()) as connection:
            started = time.perf_counter()
            publisher.start()
            deadline = time.monotonic() + PHASE_TIMEOUT_S
            while True:
                applied = store.applied_seq(connection, BACKLOG_BRANCH)
                series.append((time.perf_counter() - started, applied))
                if applied >= last_seq:
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"catch-up: head office at {applied} of {last_seq}")
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            acked_deadline = time.monotonic() + 30
            while state.acked_seq() < last_seq and time.monotonic() < acked_deadline:
                time.sleep(0.02)
            same = digests.hq_digests(connection, BACKLOG_BRANCH) == state.branch_digests()
    finally:
        publisher.stop()
        counts = [ingest.stop() for ingest in ingests]
    counted = total_counts(counts)
    if not same:
        raise BenchError("after the catch-up head office's digests differ from the branch's")
    return {
        "ingests": ingest_count,
        "changes": last_seq,
        "seconds": round(elapsed, 2),
        "changes_per_s": round(last_seq / elapsed, 1),
        "acked_seq": state.acked_seq(),
        "digests_equal": same,
        "ingest_counts": counted,
        "publisher": {
            "batch_rows": publisher.batch_rows,
            "batch_bytes": publisher.batch_bytes,
            "max_inflight": publisher.max_inflight,
            "linger_ms": publisher.linger_s * 1000,
        },
    }


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ingests", default="1,2,4", help="ingest instances per level")
    parser.add_argument("--branches", type=int, default=50, help="simulated branches (50)")
    parser.add_argument(
        "--rows-per-branch", type=int, default=2000, help="changes each branch sends (2000)"
    )
    parser.add_argument("--batch-rows", type=int, default=200, help="rows per batch (200)")
    parser.add_argument("--backlog", type=int, default=100_000, help="backlog changes (100000)")
    parser.add_argument(
        "--backlog-ingests", type=int, default=1, help="ingest instances for the catch-up (1)"
    )
    parser.add_argument(
        "--part", choices=("all", "throughput", "backlog"), default="all", help="what to run"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/hq_ingest.json"))
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir and logs")
    parser.add_argument("--ingest-internal", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.ingest_internal:
        return args
    try:
        args.levels = check_levels(args.ingests)
    except ValueError as exc:
        parser.error(f"--ingests: {exc}")
    if args.levels[-1] > 16:
        parser.error("--ingests: at most 16")
    if not 1 <= args.branches <= 99:
        parser.error("--branches must be between 1 and 99")
    if not 1 <= args.rows_per_branch <= 100_000:
        parser.error("--rows-per-branch must be between 1 and 100000")
    if not 1 <= args.batch_rows <= 1000:
        parser.error("--batch-rows must be between 1 and 1000")
    if not REAL_REGISTRATIONS <= args.backlog <= 2_000_000:
        parser.error(f"--backlog must be between {REAL_REGISTRATIONS} and 2000000")
    if not 1 <= args.backlog_ingests <= 16:
        parser.error("--backlog-ingests must be between 1 and 16")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ingest_internal:
        return run_ingest(Path(args.ingest_internal[0]), args.ingest_internal[1])
    tmp = Path(tempfile.mkdtemp(prefix="physioez-hq-ingest-"))
    names = [f"B{n:02d}" for n in range(1, args.branches + 1)]
    users = {name: secrets.token_urlsafe(16) for name in [*names, BACKLOG_BRANCH, INGEST_USER]}
    info: dict = {"load_before": machine_load()}
    levels: list[dict] = []
    backlog: dict = {}
    goals: list[dict] = []
    status = 0
    office = HeadOffice(tmp / "hq", users)
    try:
        office.start()
        print(f"head office up: mariadbd on 127.0.0.1:{office.mariadb.port}", flush=True)
        boot_branch(tmp, BACKLOG_BRANCH, "bench/hq_ingest.py")
        started = time.perf_counter()
        real_registrations(REAL_REGISTRATIONS)
        templates = outbox_templates()
        info["real_registrations_s"] = round(time.perf_counter() - started, 2)
        keys = {name: SigningKey.generate() for name in [*names, BACKLOG_BRANCH]}
        with contextlib.closing(office.mysql.connect()) as connection:
            for name, key in keys.items():
                store.register_branch(connection, name, envelope.encode_key(key.verify_key))
        if args.part in ("all", "throughput"):
            print(
                f"sealing {args.branches} branches x {args.rows_per_branch} changes "
                f"in batches of {args.batch_rows} ...",
                flush=True,
            )
            started = time.perf_counter()
            sealed = {
                name: seal_branch(
                    name,
                    keys[name],
                    office.hq_key,
                    templates,
                    args.rows_per_branch,
                    args.batch_rows,
                )
                for name in names
            }
            info["sealing_s"] = round(time.perf_counter() - started, 2)
            payload_bytes = [len(b.payload) for batches in sealed.values() for b in batches]
            info["sealed_batch_bytes_mean"] = round(sum(payload_bytes) / len(payload_bytes))
            inserts = args.rows_per_branch - args.rows_per_branch // 5
            for count in args.levels:
                print(
                    f"{count} ingest instance(s): {args.branches} branches publishing ...",
                    flush=True,
                )
                level = throughput_level(count, office, tmp, sealed, inserts * args.branches)
                levels.append(level)
                counted = level["ingest_counts"]
                print(
                    f"ingests={count}  changes={level['changes']}  {level['seconds']:.2f} s  "
                    f"{level['changes_per_s']:.0f} changes/s "
                    f"(10-90%: {level['changes_per_s_10_90']:.0f}/s)  "
                    f"batches={level['batches_published']} "
                    f"gaps={counted.get('gap', 0)} duplicates={counted.get('duplicate', 0)}",
                    flush=True,
                )
        if args.part in ("all", "backlog"):
            started = time.perf_counter()
            last = fill_backlog(templates, args.backlog, BACKLOG_BRANCH)
            info["backlog_fill_s"] = round(time.perf_counter() - started, 2)
            print(
                f"catch-up: {last} changes waiting in the branch outbox, "
                f"{args.backlog_ingests} ingest instance(s) ...",
                flush=True,
            )
            backlog = catch_up(office, tmp, keys[BACKLOG_BRANCH], args.backlog_ingests, last)
            print(
                f"catch-up  changes={backlog['changes']}  {backlog['seconds']:.2f} s  "
                f"{backlog['changes_per_s']:.0f} changes/s  digests equal",
                flush=True,
            )
        info["load_after"] = machine_load()
    except BenchError as exc:
        print(f"error: {exc}\n{office.log_tails()}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    finally:
        try:
            office.close()
        except BenchError as exc:
            print(f"error stopping head office: {exc}", file=sys.stderr)
            status = status or 1
    if status == 0:
        print("goals:")
        for level in levels:
            goals.append(
                goal_line(
                    f"changes/s at head office, {level['ingests']} ingest(s)",
                    level["changes_per_s"],
                    GOAL_RATE,
                    "changes/s",
                    higher=True,
                )
            )
        if backlog:
            goals.append(
                goal_line(
                    f"catch-up of {backlog['changes']} changes",
                    backlog["seconds"],
                    GOAL_CATCH_UP_S,
                    "s",
                    higher=False,
                )
            )
    report = {
        "machine": machine_info(),
        "load": info,
        "config": {
            "branches": args.branches,
            "rows_per_branch": args.rows_per_branch,
            "batch_rows": args.batch_rows,
            "window": WINDOW,
            "ingests": args.levels,
            "backlog": args.backlog,
            "backlog_ingests": args.backlog_ingests,
            "changes": "patient registrations (4 in 5) and updates (1 in 5), shaped like "
            "the app's own outbox rows, sent as shared records (updates with their base)",
            "head_office": "private mosquitto (shipped config + ACL, a fresh one per level) and "
            "mariadbd 10.11 (tests/mariadb_support.py options, with MariaDB's own buffer pool and "
            "redo log sizes); each HqIngest its own process",
        },
        "throughput": levels,
        "catch_up": backlog,
        "goals": goals,
        "ok": status == 0,
    }
    write_report(args.out, report, tmp, keep=args.keep_tmp)
    return status


if __name__ == "__main__":
    sys.exit(main())
