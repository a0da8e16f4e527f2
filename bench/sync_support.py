"""Helpers shared by bench/sync_latency.py and bench/hq_ingest.py.

Head office's servers are the test suite's own (``tests/mqtt_support.py``'s
``MosquittoBroker``, ``tests/mariadb_support.py``'s ``MariaDBServer``): a private Mosquitto
with the shipped configuration and ACL, and a private MariaDB 10.11, each on a free 127.0.0.1
port with its data in a temp dir, so the machine's own services (1883, 3306) are never used.
The branch is a real app database booted with ``physioez.app.boot`` in this process.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.mqtt_support and tests.mariadb_support

from nacl.public import PrivateKey  # noqa: E402
from tests.mariadb_support import SERVER_OPTIONS, SHRUNK_FOR_TESTS, MariaDBServer  # noqa: E402
from tests.mariadb_support import missing_requirement as mariadb_missing  # noqa: E402
from tests.mqtt_support import MosquittoBroker  # noqa: E402
from tests.mqtt_support import missing_requirement as mosquitto_missing  # noqa: E402

from common import BenchError, free_port, percentile, write_config  # noqa: E402
from physioez.hq import store  # noqa: E402
from physioez.hq.store import MySqlSettings  # noqa: E402
from physioez.sync.services.mqtt import BrokerSettings  # noqa: E402

__all__ = [
    "INGEST_USER",
    "BenchError",
    "HeadOffice",
    "boot_branch",
    "head_office",
    "latency_summary",
    "patient_changes",
]

INGEST_USER = "hq-ingest"


@dataclass
class HeadOffice:
    """A private Mosquitto and MariaDB under ``root``, with head office's schema and key."""

    root: Path
    users: dict[str, str]
    broker: MosquittoBroker | None = None
    mariadb: MariaDBServer | None = None
    hq_key: PrivateKey = field(default_factory=PrivateKey.generate)
    brokers_started: int = 0

    def start(self) -> HeadOffice:
        reason = mosquitto_missing() or mariadb_missing()
        if reason:
            raise BenchError(reason)
        (self.root / "mariadb").mkdir(parents=True)
        self.restart_broker()
        # MariaDB's own defaults for the buffer pool (128 MiB) and redo log (96 MiB), not the
        # tests' shrunk ones (32 MiB, 8 MiB: a redo log that small forces a checkpoint every
        # few batches); a commit is still on disk (innodb_flush_log_at_trx_commit=1).
        self.mariadb = MariaDBServer(  # mariadb-install-db, ~1 s
            self.root / "mariadb",
            options=tuple(o for o in SERVER_OPTIONS if o not in SHRUNK_FOR_TESTS),
        )
        self.mariadb.start()
        self.mariadb.create_database_and_user()
        import physioez.app  # noqa: F401 - every module's models, for the entity tables

        with contextlib.closing(self.mysql.connect()) as connection:
            store.create_schema(connection)
        return self

    def restart_broker(self) -> None:
        """A fresh Mosquitto (new port, empty store): no session of an earlier run is left."""
        if self.broker is not None:
            self.broker.close()
        self.brokers_started += 1
        folder = self.root / f"mosquitto-{self.brokers_started}"
        folder.mkdir(parents=True)
        self.broker = MosquittoBroker(folder, self.users)
        self.broker.start()

    @property
    def mysql(self) -> MySqlSettings:
        assert self.mariadb is not None
        params = {k: v for k, v in self.mariadb.params.items() if k != "charset"}
        return MySqlSettings(**params)

    def broker_settings(self, user: str) -> BrokerSettings:
        assert self.broker is not None
        return BrokerSettings("127.0.0.1", self.broker.port, user, self.users[user], keepalive=10)

    def reset_replicated(self) -> None:
        """Head office forgets every applied row and cursor (branch keys stay registered)."""
        with contextlib.closing(self.mysql.connect()) as connection:
            with connection.cursor() as cursor:
                for table in (
                    "patient",
                    "replicated_row",
                    "branch_cursor",
                    "shared_received",
                    "hq_outbox",
                    "sync_conflict",
                ):
                    cursor.execute(f"TRUNCATE TABLE {table}")
            connection.commit()

    def log_tails(self) -> str:
        parts = []
        if self.broker is not None:
            parts.append("--- mosquitto ---\n" + self.broker.log_tail(15))
        if self.mariadb is not None:
            parts.append("--- mariadbd ---\n" + self.mariadb.log_tail(15))
        return "\n".join(parts)

    def close(self) -> None:
        """Stop both servers (SIGTERM, checked gone) whatever happened."""
        errors = []
        for server in (self.broker, self.mariadb):
            if server is None:
                continue
            try:
                server.close()
            except AssertionError as exc:
                errors.append(str(exc))
        if errors:
            raise BenchError("; ".join(errors))


@contextlib.contextmanager
def head_office(root: Path, users: dict[str, str]) -> Iterator[HeadOffice]:
    office = HeadOffice(root, dict(users))
    try:
        yield office.start()
    finally:
        office.close()


def boot_branch(tmp: Path, branch: str, written_by: str):
    """A real branch: a TOML config in ``tmp`` and ``physioez.app.boot`` on it (migrations,
    default roles). Returns the settings; the app's data layer is open in this process."""
    from physioez.app import boot
    from physioez.core.kernel.settings import load_settings

    config = write_config(
        tmp / "branch.toml",
        port=free_port(),  # not served: the config format asks for one
        data_dir=tmp / "data",
        key_file=tmp / "keys" / "kek",
        branch=branch,
        written_by=written_by,
    )
    settings = load_settings(config, environ={})
    boot(settings)
    return settings


def patient_changes(templates: list[dict], count: int, branch: str, first_number: int):
    """``count`` changes to patient records shaped exactly like ``templates`` (real snapshots
    the app wrote): registrations with fresh UUIDv7 ids, HLCs, MRNs, names and phones, all of
    ``branch``; every fifth change is instead an update (version + 1, a new address) of a
    patient registered earlier in the stream.

    Yields outbox rows as the publisher reads them, without ``seq``: table, op, key, row
    (a dict), hlc, ownership ("shared", as patients are) and, for updates, the base head
    office merges on; in HLC order.
    """
    from physioez.core.kernel.clock import HlcTimestamp
    from physioez.core.kernel.ids import Uuid7Generator

    ids = Uuid7Generator()
    wall = int(time.time() * 1000)
    made: list[dict] = []
    for n in range(count):
        wall_ms = wall + n // 50  # 50 changes per ms of HLC, counter below 50
        hlc = HlcTimestamp(wall_ms, n % 50, branch).encode()
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall_ms / 1000))
        at += f".{wall_ms % 1000:03d}000Z"
        if n % 5 == 4 and made:
            row = dict(made[(n * 7919) % len(made)])
            base = {"hq_seq": 0, "values": {"address": row["address"]}}
            row.update(
                version=row["version"] + 1,
                hlc=hlc,
                updated_at=at,
                address=f"{n % 400 + 1}, {('MG Road', 'Park Street', 'Linking Road')[n % 3]}",
            )
            made[(n * 7919) % len(made)] = row
            yield {
                "table": "patient",
                "op": "update",
                "key": row["id"],
                "row": row,
                "hlc": hlc,
                "own": "shared",
                "base": base,
            }
            continue
        template = templates[n % len(templates)]
        number = first_number + n
        row = dict(template)
        row.update(
            id=str(ids.new(wall_ms)),
            hlc=hlc,
            created_at=at,
            updated_at=at,
            version=1,
            mrn=f"{branch}-{number:06d}",
            first_name=f"{str(template['first_name']).rstrip('0123456789')}{number}",
            phone=f"9{number % 10**9:09d}",
            phone_key=f"9{number % 10**9:09d}",
            origin_branch=branch,
        )
        made.append(row)
        yield {
            "table": "patient",
            "op": "insert",
            "key": row["id"],
            "row": row,
            "hlc": hlc,
            "own": "shared",  # as the publisher marks patients: merged at head office
        }


def latency_summary(values_ms: list[float]) -> dict:
    ordered = sorted(values_ms)
    if not ordered:
        return {"n": 0}

    def at(pct: float) -> float | None:
        value = percentile(ordered, pct)
        return None if value is None else round(value, 2)

    return {
        "n": len(ordered),
        "min": round(ordered[0], 2),
        "p50": at(50),
        "p90": at(90),
        "p95": at(95),
        "p99": at(99),
        "max": round(ordered[-1], 2),
        "mean": round(sum(ordered) / len(ordered), 2),
    }
