"""Replication end to end: the branch's SQLite, a real Mosquitto, head office's real MariaDB.

Every scenario ends with head office holding what the branch holds (equal per-table digests),
every seq applied once (rows written at head office == outbox rows), and the branch's acked
seq at its last seq.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import paho.mqtt.client as paho
import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from physioez.core.kernel import records
from physioez.core.kernel.db import database
from physioez.hq import apply, digests, outbox, store
from physioez.hq.ingest import HqIngest
from physioez.hq.store import MySqlSettings
from physioez.reception.services import patients
from physioez.reception.services.patients import PatientDetails
from physioez.sync.services import envelope, state
from physioez.sync.services.mqtt import BrokerSettings, new_client
from physioez.sync.services.publisher import BranchPublisher
from tests.reception_fixtures import MONDAY

pytestmark = pytest.mark.slow

BRANCH = "TEST"  # the test settings' branch id
PASSWORDS = {BRANCH: "branch-secret", "BR02": "other-branch-secret", "hq-ingest": "ingest-secret"}
CANARY = "Zebulon Canarywala"
CONVERGE_S = 40.0


@dataclass
class Chain:
    broker: object
    mysql: MySqlSettings
    hq_key: PrivateKey
    branch_key: SigningKey
    publisher: BranchPublisher | None
    ingests: list[HqIngest]
    tls: bool = False

    def broker_settings(self, user: str) -> BrokerSettings:
        if self.tls:
            return BrokerSettings(
                "127.0.0.1",
                self.broker.tls_port,
                user,
                PASSWORDS[user],
                tls_ca=str(self.broker.ca_file),
                keepalive=5,
            )
        return BrokerSettings("127.0.0.1", self.broker.port, user, PASSWORDS[user], keepalive=5)

    def add_ingest(self, name: str, **hooks) -> HqIngest:
        ingest = HqIngest(
            instance=name,
            hq_private_key=self.hq_key,
            broker=self.broker_settings("hq-ingest"),
            mysql=self.mysql,
            **hooks,
        )
        ingest.start()
        self.ingests.append(ingest)
        return ingest

    def send(self, batch: envelope.Batch) -> None:
        """Publish ``batch`` as this branch would (signed, sealed, QoS 1), by hand."""
        sender = raw_client(self, BRANCH)
        try:
            sender.publish(
                envelope.up_topic(BRANCH),
                envelope.seal(batch, self.branch_key, self.hq_key.public_key),
                qos=1,
            ).wait_for_publish(5)
        finally:
            sender.loop_stop()
            sender.disconnect()

    def rows_written(self) -> int:
        return sum(ingest.counts["rows"] for ingest in self.ingests)

    def converge(self, timeout: float = CONVERGE_S, other_branches_rows: int = 0) -> None:
        """Wait until head office holds everything, each seq once, and the branch knows it
        (``other_branches_rows``: rows other branches sent meanwhile, also counted)."""
        deadline = time.monotonic() + timeout
        connection = self.mysql.connect()
        try:
            while True:
                last = state.last_seq()
                applied = store.applied_seq(connection, BRANCH)
                if applied == last and state.acked_seq() == last:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"not converged: outbox {last}, head office {applied}, "
                        f"acked {state.acked_seq()}, ingest {[i.counts for i in self.ingests]}"
                    )
                self.publisher.wake()
                time.sleep(0.1)
            assert digests.hq_digests(connection, BRANCH) == state.branch_digests()
        finally:
            connection.close()
        assert self.rows_written() == state.last_seq() + other_branches_rows, (
            "a seq was applied twice or never"
        )


def build_chain(mosquitto, mariadb_shared, *, tls: bool = False) -> Chain:
    broker = mosquitto(PASSWORDS, tls=tls)
    mysql = MySqlSettings(**{k: v for k, v in mariadb_shared.params.items() if k != "charset"})
    hq_key, branch_key = PrivateKey.generate(), SigningKey.generate()
    connection = mysql.connect()
    store.create_schema(connection)
    store.register_branch(
        connection,
        BRANCH,
        envelope.encode_key(branch_key.verify_key),
        envelope.encode_key(envelope.derived_box_key(bytes(branch_key)).public_key),
    )
    connection.close()
    built = Chain(broker, mysql, hq_key, branch_key, None, [], tls)
    built.publisher = BranchPublisher(
        branch=BRANCH,
        signing_key=branch_key,
        hq_public_key=hq_key.public_key,
        broker=built.broker_settings(BRANCH),
        ack_timeout_s=2.0,
        tick_s=0.2,
        hq_verify_key=envelope.derived_signing_key(bytes(hq_key)).verify_key,
        pull_every_s=1.0,
    )
    built.add_ingest("one")
    built.publisher.start()
    records.on_outbox_commit(built.publisher.wake)
    return built


def tear_down(built: Chain) -> None:
    records.off_outbox_commit(built.publisher.wake)
    built.publisher.stop()
    for ingest in built.ingests:
        ingest.stop()


@pytest.fixture
def chain(app, mosquitto, mariadb_shared) -> Iterator[Chain]:
    built = build_chain(mosquitto, mariadb_shared)
    try:
        yield built
    finally:
        tear_down(built)


@pytest.fixture
def tls_chain(app, mosquitto, mariadb_shared) -> Iterator[Chain]:
    built = build_chain(mosquitto, mariadb_shared, tls=True)
    try:
        yield built
    finally:
        tear_down(built)


def register(actor, count: int, prefix: str = "Sync", consents: dict | None = None) -> None:
    for n in range(count):
        patients.register(
            actor,
            PatientDetails(
                first_name=f"{prefix}{n}",
                last_name=CANARY.split()[1],
                phone=f"9{n:09d}",
                consents=consents or {},
            ),
            MONDAY,
        )


def raw_client(chain: Chain, user: str) -> paho.Client:
    settings = chain.broker_settings(user)
    client = new_client(f"test-raw-{user}-{time.monotonic_ns()}", settings)
    client.connect("127.0.0.1", settings.port)
    client.loop_start()
    return client


def test_changes_reach_head_office_once_and_the_broker_never_sees_a_name(chain, system_actor):
    spy = raw_client(chain, "hq-ingest")  # a second, non-shared reader of every up topic
    seen: list[bytes] = []
    spy.on_message = lambda client, userdata, message: seen.append(bytes(message.payload))
    spy.subscribe(f"{envelope.TOPIC_ROOT}/+/up", qos=1)
    time.sleep(0.3)
    register(system_actor, 1, prefix="Zebulon")
    register(system_actor, 40)
    chain.converge()
    spy.loop_stop()
    spy.disconnect()
    assert seen, "the spy saw no batch"
    assert not any(CANARY.split()[1].encode() in payload for payload in seen)
    chain.broker.persist()
    assert CANARY.split()[1].encode() not in chain.broker.db_file.read_bytes()


def test_head_office_holds_each_entity_as_a_typed_table_with_its_branch(chain, system_actor):
    from datetime import date, datetime

    from physioez.core.kernel import records as record_service
    from physioez.reception.models import Patient, PatientConsent

    register(system_actor, 3, prefix="Typed", consents={"treatment": True})
    patient = Patient.get(Patient.first_name == "Typed1")
    record_service.update(patient, system_actor, date_of_birth=date(1980, 5, 17))
    chain.converge()
    db = chain.mysql.connect()
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT first_name, branch_id, date_of_birth, created_at, dob_estimated, alerts "
            "FROM patient WHERE id = %s",
            (patient.id,),
        )
        first_name, branch, born, created, estimated, alerts = cursor.fetchone()
        assert (first_name, branch, born, estimated) == ("Typed1", BRANCH, date(1980, 5, 17), 0)
        assert isinstance(created, datetime) and json.loads(alerts) == []
        cursor.execute("SELECT COUNT(*) FROM patient WHERE first_name LIKE 'Typed%%'")
        assert cursor.fetchone()[0] == 3
        cursor.execute("SELECT COUNT(*), MIN(branch_id) FROM patient_consent")
        assert cursor.fetchone() == (PatientConsent.select().count(), BRANCH)
    db.commit()
    db.close()


def test_the_same_batch_delivered_three_times_is_applied_once(chain, system_actor):
    register(system_actor, 5)
    chain.converge()
    rows = state.pending_rows(0, 200, 10**9)
    batch = envelope.Batch(BRANCH, rows[0]["seq"], rows[-1]["seq"], envelope.SCHEMA_VERSION, rows)
    payload = envelope.seal(batch, chain.branch_key, chain.hq_key.public_key)
    sender = raw_client(chain, BRANCH)
    for _ in range(3):
        sender.publish(envelope.up_topic(BRANCH), payload, qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 10
    while chain.ingests[0].counts["duplicate"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    sender.loop_stop()
    sender.disconnect()
    assert chain.ingests[0].counts["duplicate"] >= 3
    chain.converge()


def test_broker_killed_mid_stream(chain, system_actor):
    writer = threading.Thread(target=register, args=(system_actor, 150))
    writer.start()
    time.sleep(0.3)
    chain.broker.kill()
    time.sleep(1.0)
    chain.broker.start()
    writer.join()
    chain.converge()


def test_mysql_down_for_a_while_then_back(chain, system_actor, mariadb_shared):
    register(system_actor, 5)
    chain.converge()
    mariadb_shared.stop()
    register(system_actor, 20)
    time.sleep(2.5)  # the branch keeps working; head office cannot take anything
    assert state.acked_seq() < state.last_seq()
    mariadb_shared.start()
    chain.converge()
    assert chain.ingests[0].counts["mysql_unavailable"] >= 1


def test_ingest_dies_after_commit_before_ack(chain, system_actor):
    chain.ingests[0].stop()
    chain.ingests.clear()
    crashed = []

    def crash_once(batch) -> None:
        if not crashed:
            crashed.append(batch.last_seq)
            raise RuntimeError("ingest killed between commit and ack")

    chain.add_ingest("fragile", before_ack=crash_once)
    # All ten in one batch, so no later batch's ack can cover the lost one: only the
    # branch's resend after its ack timeout can.
    chain.publisher.stop()
    register(system_actor, 10)
    restart_publisher(chain)
    chain.converge()
    assert crashed, "the crash was never reached"
    assert chain.ingests[0].counts["duplicate"] >= 1  # the resend found it committed


def test_a_gap_asks_the_branch_to_resend(chain, system_actor):
    register(system_actor, 3)
    chain.converge()
    chain.publisher.stop()  # nothing else in flight while we forge a gap
    register(system_actor, 6)
    rows = state.pending_rows(state.acked_seq() + 3, 200, 10**9)  # skips three seqs
    batch = envelope.Batch(BRANCH, rows[0]["seq"], rows[-1]["seq"], envelope.SCHEMA_VERSION, rows)
    chain.send(batch)
    deadline = time.monotonic() + 10
    while chain.ingests[0].counts["gap"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chain.ingests[0].counts["gap"] == 1
    restarted = BranchPublisher(
        branch=BRANCH,
        signing_key=chain.branch_key,
        hq_public_key=chain.hq_key.public_key,
        broker=chain.broker_settings(BRANCH),
        ack_timeout_s=2.0,
        tick_s=0.2,
    )
    chain.publisher = restarted
    restarted.start()
    chain.converge()


def test_forged_tampered_and_replayed_batches_are_refused_and_nothing_applied(chain, system_actor):
    register(system_actor, 4)
    chain.converge()
    before = chain.rows_written()
    rows = state.pending_rows(0, 200, 10**9)
    batch = envelope.Batch(BRANCH, rows[0]["seq"], rows[-1]["seq"], envelope.SCHEMA_VERSION, rows)
    tampered = bytearray(envelope.seal(batch, chain.branch_key, chain.hq_key.public_key))
    tampered[100] ^= 0x01
    impostor = envelope.seal(batch, SigningKey.generate(), chain.hq_key.public_key)
    replay = envelope.seal(batch, chain.branch_key, chain.hq_key.public_key)
    sender = raw_client(chain, BRANCH)
    for payload in (bytes(tampered), impostor, replay):
        sender.publish(envelope.up_topic(BRANCH), payload, qos=1).wait_for_publish(5)
    counts = chain.ingests[0].counts
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (
        counts["rejected_unsealable"] and counts["rejected_bad_signature"] and counts["duplicate"]
    ):
        time.sleep(0.05)
    sender.loop_stop()
    sender.disconnect()
    assert counts["rejected_unsealable"] == 1 and counts["rejected_bad_signature"] == 1
    assert chain.rows_written() == before
    connection = chain.mysql.connect()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reason FROM rejected_batch ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == ["unsealable", "bad_signature"]
    connection.close()
    chain.converge()


def test_two_ingest_instances_share_the_work(chain, system_actor):
    second = chain.add_ingest("two")
    time.sleep(0.5)
    for _ in range(6):
        register(system_actor, 15)
        time.sleep(0.1)
    chain.converge()
    assert chain.ingests[0].counts["applied"] and second.counts["applied"], [
        i.counts for i in chain.ingests
    ]


def test_replication_over_tls_with_the_clinics_ca(tls_chain, system_actor):
    register(system_actor, 12)
    tls_chain.converge()


def test_a_batch_of_an_unknown_schema_version_is_held_not_acked(chain, system_actor):
    register(system_actor, 2)
    chain.converge()
    before = chain.rows_written()
    rows = state.pending_rows(0, 200, 10**9)
    future = envelope.Batch(
        BRANCH, rows[0]["seq"], rows[-1]["seq"], envelope.SCHEMA_VERSION + 1, rows
    )
    sender = raw_client(chain, BRANCH)
    acks: list[bytes] = []
    watcher = raw_client(chain, BRANCH)
    watcher.on_message = lambda client, userdata, message: acks.append(bytes(message.payload))
    watcher.subscribe(envelope.ack_topic(BRANCH), qos=1)
    time.sleep(0.3)
    sender.publish(
        envelope.up_topic(BRANCH),
        envelope.seal(future, chain.branch_key, chain.hq_key.public_key),
        qos=1,
    ).wait_for_publish(5)
    deadline = time.monotonic() + 10
    while not chain.ingests[0].counts["unknown_schema"] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    for client in (sender, watcher):
        client.loop_stop()
        client.disconnect()
    assert chain.ingests[0].counts["unknown_schema"] == 1
    assert acks == [] and chain.rows_written() == before


def test_a_branch_one_version_behind_is_still_applied(chain, system_actor):
    """Branches are upgraded one by one after head office: a version-1 batch (no bases on
    shared edits) is applied and acked like any other."""
    from physioez.core.kernel import records as record_service
    from physioez.reception.models import Patient

    register(system_actor, 2, prefix="Older")
    chain.converge()
    chain.publisher.stop()
    record_service.update(Patient.get(Patient.first_name == "Older0"), system_actor, phone="1")
    rows = [
        {key: value for key, value in row.items() if key != "base"}
        for row in state.pending_rows(state.acked_seq(), 200, 10**9)
    ]
    older = envelope.Batch(
        BRANCH, rows[0]["seq"], rows[-1]["seq"], envelope.SCHEMA_VERSION - 1, rows
    )
    chain.send(older)
    db = chain.mysql.connect()
    wait_until(lambda: store.applied_seq(db, BRANCH) == state.last_seq(), "not applied", timeout=10)
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT row_json FROM replicated_row WHERE row_key = %s",
            (Patient.get(Patient.first_name == "Older0").id,),
        )
        assert '"phone":"1"' in cursor.fetchone()[0]
    db.commit()
    db.close()
    assert hq_conflicts(chain) == []


def test_the_replication_page_shows_the_link_and_what_waits(chain, app, client_for, system_actor):
    app.extensions["physioez_sync"] = chain.publisher
    try:
        # Signing staff in writes their accounts too: make them before the waiting count.
        it_admin, desk = client_for("it_admin"), client_for("receptionist")
        register(system_actor, 3)
        chain.converge()
        page = it_admin.get("/system/replication").data.decode()
        assert 'data-testid="sync-connected">Connected<' in page
        assert 'data-testid="sync-waiting">0<' in page
        assert 'data-testid="sync-lag">none<' in page
        asked = it_admin.post("/system/replication/check", follow_redirects=True)
        assert b"Asked head office for its digests" in asked.data
        assert wait_for_check(chain.publisher, 0).differing == ()
        assert "Everything matches" in it_admin.get("/system/replication").data.decode()
        assert desk.get("/system/replication").status_code == 403
    finally:
        app.extensions.pop("physioez_sync")


def test_a_table_sent_again_from_the_page_arrives_in_chunks_and_applies_once(
    chain, app, client_for, system_actor, monkeypatch
):
    monkeypatch.setattr(state, "RESEND_CHUNK", 5)
    app.extensions["physioez_sync"] = chain.publisher
    try:
        it_admin, desk = client_for("it_admin"), client_for("receptionist")
        register(system_actor, 12, consents={"treatment": True})
        chain.converge()
        refused = it_admin.post("/system/replication/resend", data={"table": "no_such_table"})
        assert refused.status_code == 302 and state.resends() == []
        assert desk.post("/system/replication/resend", data={"table": "patient"}).status_code == 403
        page = it_admin.post(
            "/system/replication/resend", data={"table": "patient_consent"}, follow_redirects=True
        ).text
        assert "Sending all 12 records of patient_consent to head office again" in page
        wait_until(lambda: state.resends() == [], "the re-send never finished")
        chain.converge()
        resent = database.execute_sql(
            "SELECT COUNT(*) FROM outbox WHERE table_name = 'patient_consent'"
        ).fetchone()[0]
        assert resent == 24  # each record once more, nothing twice
    finally:
        app.extensions.pop("physioez_sync")


def wait_for_check(publisher: BranchPublisher, since: float, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check = publisher.status().last_check
        if check is not None and check.checked_at > since:
            return check
        time.sleep(0.05)
    raise AssertionError("head office never answered the digest request")


def test_anti_entropy_finds_and_repairs_what_head_office_lost(chain, system_actor):
    register(system_actor, 12, consents={"treatment": True})
    chain.converge()
    started = time.monotonic()
    assert chain.publisher.check_with_head_office()
    assert wait_for_check(chain.publisher, started).differing == ()
    connection = chain.mysql.connect()
    with connection.cursor() as cursor:
        # Head office loses one of the branch's own records and another is altered behind
        # replication's back; of the shared patients, it loses what the branch sent of one
        # and damages another's.
        cursor.execute(
            "DELETE FROM replicated_row WHERE table_name = 'patient_consent' "
            "ORDER BY row_key LIMIT 1"
        )
        cursor.execute(
            "UPDATE replicated_row SET row_json = REPLACE(row_json, 'true', 'false') "
            "WHERE table_name = 'patient_consent' ORDER BY row_key DESC LIMIT 1"
        )
        cursor.execute(
            "DELETE FROM shared_received WHERE table_name = 'patient' ORDER BY row_key LIMIT 1"
        )
        cursor.execute(
            "UPDATE shared_received SET row_hash = REPEAT('0', 64) WHERE table_name = 'patient' "
            "ORDER BY row_key DESC LIMIT 1"
        )
    connection.commit()
    connection.close()
    started = time.monotonic()
    assert chain.publisher.check_with_head_office()
    check = wait_for_check(chain.publisher, started)
    assert sorted({table for table, _ in check.differing}) == ["patient", "patient_consent"]
    assert check.resent_rows >= 24
    chain.converge()
    started = time.monotonic()
    assert chain.publisher.check_with_head_office()
    assert wait_for_check(chain.publisher, started).differing == ()


def hq_role_row(code: str, hlc: str, name: str) -> dict:
    from physioez.core.kernel.ids import uuid7_str

    return {
        "id": uuid7_str(),
        "origin_branch": "HQ",
        "hlc": hlc,
        "version": 1,
        "created_at": "2026-11-20T10:00:00.000000Z",
        "updated_at": "2026-11-20T10:00:00.000000Z",
        "deleted_at": None,
        "code": code,
        "name": name,
        "description": "Set by head office",
        "permissions": ["core.shell.use", "billing.invoices.read"],
        "head_office": True,
        "builtin": False,
    }


def test_head_office_changes_come_down_sealed_applied_once_and_never_echo(chain):
    from physioez.core.kernel.models import AuditEvent, Role
    from physioez.sync.services import downstream

    role = hq_role_row("hq_auditor", "999999999999999-0000-HQ", "Auditor (head office)")
    connection = chain.mysql.connect()
    seq = outbox.enqueue_down(connection, table="role", key=role["id"], row=role, hlc=role["hlc"])
    # A row for a table the branch owns is refused, whatever head office sends.
    outbox.enqueue_down(
        connection, table="invoice", key="not-a-real-invoice", row={"id": "x"}, hlc=role["hlc"]
    )
    connection.close()
    outbox_before = state.last_seq()
    assert chain.publisher.pull()
    deadline = time.monotonic() + 10
    while downstream.hq_applied_seq() < seq + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    arrived = Role.get(Role.code == "hq_auditor")
    assert arrived.name == "Auditor (head office)" and arrived.head_office
    assert state.last_seq() == outbox_before, "a change from head office echoed back up"
    assert AuditEvent.select().where(AuditEvent.action == "role.replicated").count() == 1
    # The same rows again change nothing; an older state never overwrites a newer one.
    assert downstream.apply_down(
        [
            {
                "seq": seq,
                "table": "role",
                "key": role["id"],
                "op": "update",
                "hlc": role["hlc"],
                "row": role,
            }
        ],
        seq,
    ) == (0, 1)
    older = dict(role, name="Old name", hlc="000000000000001-0000-HQ")
    assert downstream.apply_down(
        [
            {
                "seq": seq + 5,
                "table": "role",
                "key": role["id"],
                "op": "update",
                "hlc": older["hlc"],
                "row": older,
            }
        ],
        seq + 5,
    ) == (0, 1)
    assert Role.get_by_id(role["id"]).name == "Auditor (head office)"


class OtherBranch:
    """A second branch, BR02, with its clock two hours ahead: it edits shared patients by
    publishing signed batches, as its publisher would."""

    def __init__(self, chain: Chain) -> None:
        self.key = SigningKey.generate()
        connection = chain.mysql.connect()
        store.register_branch(connection, "BR02", envelope.encode_key(self.key.verify_key))
        connection.close()
        self.chain = chain
        self.client = raw_client(chain, "BR02")
        self.seq = 0
        self.skewed_ms = int(time.time() * 1000) + 2 * 3600 * 1000

    def edit(self, patient_id: str, **changes) -> None:
        """Edit the patient as first registered (this branch's first outbox row of it): the
        other branch has applied nothing from head office since (hq_seq 0)."""
        from physioez.core.kernel.clock import HlcTimestamp

        base = next(
            row for row in state.pending_rows(0, 10_000, 10**9) if row["key"] == patient_id
        )["row"]
        self.seq += 1
        hlc = HlcTimestamp(self.skewed_ms + self.seq, 0, "BR02").encode()
        row = {
            "seq": self.seq,
            "table": "patient",
            "op": "update",
            "key": patient_id,
            "hlc": hlc,
            "row": dict(base, **changes, version=2, hlc=hlc),
            "schema_version": 1,
            "own": "shared",
            "base": {"hq_seq": 0, "values": {name: base[name] for name in changes}},
        }
        batch = envelope.Batch("BR02", self.seq, self.seq, envelope.SCHEMA_VERSION, [row])
        self.client.publish(
            envelope.up_topic("BR02"),
            envelope.seal(batch, self.key, self.chain.hq_key.public_key),
            1,
        ).wait_for_publish(5)

    def applied(self) -> int:
        db = self.chain.mysql.connect()
        try:
            return store.applied_seq(db, "BR02")
        finally:
            db.close()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def wait_until(predicate, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def hq_conflicts(chain: Chain) -> list[dict]:
    db = chain.mysql.connect()
    try:
        return apply.open_conflicts(db)
    finally:
        db.close()


def restart_publisher(chain: Chain) -> None:
    chain.publisher = BranchPublisher(
        branch=BRANCH,
        signing_key=chain.branch_key,
        hq_public_key=chain.hq_key.public_key,
        broker=chain.broker_settings(BRANCH),
        ack_timeout_s=2.0,
        tick_s=0.2,
        hq_verify_key=envelope.derived_signing_key(bytes(chain.hq_key)).verify_key,
        pull_every_s=1.0,
    )
    chain.publisher.start()


def test_two_branches_editing_different_details_of_a_patient_both_keep_them(chain, system_actor):
    from physioez.core.kernel import records as record_service
    from physioez.reception.models import Patient

    other = OtherBranch(chain)
    register(system_actor, 1, prefix="Merge")
    chain.converge()
    patient = Patient.get(Patient.first_name == "Merge0")
    chain.publisher.stop()  # this branch edits while out of touch
    record_service.update(patient, system_actor, phone="9111111111")
    other.edit(patient.id, email="merge@br02.example")
    wait_until(lambda: other.applied() == 1, "the other branch's edit was not applied")
    restart_publisher(chain)
    wait_until(
        lambda: Patient.get_by_id(patient.id).email == "merge@br02.example",
        "the merged record never came down",
    )
    merged = Patient.get_by_id(patient.id)
    assert merged.phone == "9111111111", "this branch's own change was lost"
    assert hq_conflicts(chain) == []
    db = chain.mysql.connect()
    with db.cursor() as cursor:  # head office's patient table holds the merged record
        cursor.execute("SELECT phone, email, branch_id FROM patient WHERE id = %s", (patient.id,))
        assert cursor.fetchone() == ("9111111111", "merge@br02.example", BRANCH)
    db.commit()
    db.close()
    # What this branch sent matches what head office received from it.
    chain.converge(other_branches_rows=other.seq)
    other.close()


def test_concurrent_edits_of_one_detail_two_hours_apart_resolve_the_same_way(
    chain, app, client_for, system_actor
):
    """Two branches change one patient's phone, the other's clock two hours ahead. The same
    edit wins whichever arrives first, the conflict is recorded at head office and shown on
    this branch's replication page, the winner comes down, and an admin can reverse it."""
    from physioez.core.kernel import records as record_service
    from physioez.core.kernel.clock import HlcTimestamp
    from physioez.reception.models import Patient

    other = OtherBranch(chain)
    register(system_actor, 2, prefix="Shared")
    chain.converge()
    first, second = Patient.select().where(Patient.first_name.startswith("Shared"))
    # First patient: this branch's edit reaches head office first, then the other's.
    record_service.update(first, system_actor, phone="9111111111")
    chain.converge()
    other.edit(first.id, phone="9888888881")
    wait_until(lambda: len(hq_conflicts(chain)) == 1, "the first conflict was not recorded")
    # Second patient: both edit while this branch is offline; the other's arrives first.
    chain.publisher.stop()
    record_service.update(Patient.get_by_id(second.id), system_actor, phone="9222222222")
    other.edit(second.id, phone="9888888882")
    wait_until(lambda: other.applied() == 2, "the other edit was not applied")
    restart_publisher(chain)
    wait_until(lambda: len(hq_conflicts(chain)) == 2, "the second conflict was not recorded")
    found = {c["key"]: c for c in hq_conflicts(chain)}
    for patient, mine in ((first, "9111111111"), (second, "9222222222")):
        assert found[patient.id]["winner"] == "BR02" and found[patient.id]["loser"] == BRANCH
        assert found[patient.id]["fields"] == ["phone"]
        assert found[patient.id]["loser_values"] == {"phone": mine}
    wait_until(
        lambda: (
            Patient.get_by_id(first.id).phone == "9888888881"
            and Patient.get_by_id(second.id).phone == "9888888882"
        ),
        "the winner never came down",
    )
    # The branch is told: its replication page lists both, values only for patient readers.
    app.extensions["physioez_sync"] = chain.publisher
    try:
        owner, it_admin = client_for("owner"), client_for("it_admin")
        wait_until(
            lambda: 'data-testid="sync-conflicts"' in owner.get("/system/replication").text,
            "the conflicts never reached the branch",
        )
        page = owner.get("/system/replication").text
        assert "Shared0" in page and "Shared1" in page and "9888888881" in page
        assert "9111111111" in page and "BR02" in page
        assert "9111111111" not in it_admin.get("/system/replication").text
        # An admin at head office reverses the first: this branch's phone everywhere.
        db = chain.mysql.connect()
        apply.reverse_conflict(
            db,
            found[first.id]["id"],
            HlcTimestamp(other.skewed_ms + 10_000, 0, "HQ").encode(),
        )
        db.close()
        wait_until(
            lambda: Patient.get_by_id(first.id).phone == "9111111111",
            "the reversal never came down",
        )
        assert [c["key"] for c in hq_conflicts(chain)] == [second.id]
        wait_until(
            lambda: "Shared0" not in owner.get("/system/replication").text,
            "the branch still lists the reversed conflict",
        )
    finally:
        app.extensions.pop("physioez_sync")
    chain.converge(other_branches_rows=other.seq)
    other.close()


def test_a_long_partition_with_writes_on_both_sides(chain, system_actor):
    """The branch loses its link for a while (a black hole, found by keepalive) and keeps
    working; meanwhile head office changes a role and another branch edits a patient this
    branch is also editing. When the link heals, everything reaches both sides once and the
    patient keeps both branches' changes."""
    from physioez.core.kernel import records as record_service
    from physioez.core.kernel.models import Role
    from physioez.reception.models import Patient
    from physioez.sync.services import downstream
    from tests.tcp_proxy import PartitionableProxy

    proxy = PartitionableProxy(chain.broker.port)
    chain.publisher.stop()
    chain.publisher = BranchPublisher(
        branch=BRANCH,
        signing_key=chain.branch_key,
        hq_public_key=chain.hq_key.public_key,
        broker=BrokerSettings("127.0.0.1", proxy.port, BRANCH, PASSWORDS[BRANCH], keepalive=2),
        ack_timeout_s=2.0,
        tick_s=0.2,
        hq_verify_key=envelope.derived_signing_key(bytes(chain.hq_key)).verify_key,
        pull_every_s=1.0,
    )
    chain.publisher.start()
    other = OtherBranch(chain)
    try:
        register(system_actor, 5, prefix="Before")
        chain.converge()
        patient = Patient.get(Patient.first_name == "Before0")

        proxy.cut()
        cut_at = state.last_seq()
        writer = threading.Thread(target=register, args=(system_actor, 40, "During"))
        writer.start()
        record_service.update(Patient.get_by_id(patient.id), system_actor, phone="9555555555")
        other.edit(patient.id, email="partition@br02.example")
        role = hq_role_row("hq_partition", "999999999999998-0000-HQ", "Set during the cut")
        db = chain.mysql.connect()
        outbox.enqueue_down(db, table="role", key=role["id"], row=role, hlc=role["hlc"])
        db.close()
        writer.join()
        wait_until(lambda: not chain.publisher.status().connected, "the cut was never noticed")
        time.sleep(3.0)  # a while longer, the branch still writing nothing through
        assert state.acked_seq() <= cut_at < state.last_seq()
        assert not Role.select().where(Role.code == "hq_partition").exists()

        proxy.heal()
        chain.converge(timeout=60, other_branches_rows=other.seq)
        wait_until(
            lambda: Role.select().where(Role.code == "hq_partition").exists(),
            "head office's change made during the cut never arrived",
            timeout=30,
        )
        wait_until(
            lambda: Patient.get_by_id(patient.id).email == "partition@br02.example",
            "the other branch's edit never arrived",
            timeout=30,
        )
        assert Patient.get_by_id(patient.id).phone == "9555555555"
        assert hq_conflicts(chain) == []
        assert downstream.hq_applied_seq() >= 2
    finally:
        other.close()
        chain.publisher.stop()
        proxy.close()


# The pump's thread is made to die on purpose here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_scheduler_tick_starts_a_pump_that_died_again(chain, system_actor):
    from physioez.sync.services import runtime

    register(system_actor, 2)
    chain.converge()
    publisher = chain.publisher
    working_pump = publisher._pump

    def crash() -> None:
        raise SystemExit("the pump thread ends, as an unforeseen BaseException would end it")

    publisher._pump = crash
    publisher.wake()
    wait_until(lambda: not publisher._thread.is_alive(), "the pump did not stop")
    publisher._pump = working_pump
    register(system_actor, 5)
    time.sleep(1.0)
    assert state.acked_seq() < state.last_seq(), "nothing should move while the pump is down"
    [tick] = runtime.publisher_jobs(publisher)
    assert tick.id == "sync-catch-up"
    tick.func()
    chain.converge()
