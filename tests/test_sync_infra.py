"""The real components replication runs on: head office's Mosquitto with the shipped
configuration and ACL, and MariaDB, each started privately by the fixtures.

These tests pin what the broker and the database guarantee (and what they do not), which the
sync code relies on; the sync tests themselves build on the same fixtures.
"""

from __future__ import annotations

import contextlib
import ssl

import pymysql
import pytest

from tests.mqtt_support import topic
from tests.server_process import pid_alive

pytestmark = pytest.mark.slow

USERS = {"BR01": "br01-secret", "BR02": "br02-secret", "hq-ingest": "hq-secret"}
HQ_SHARE = "$share/hq-ingest/physioez/v1/branch/+/up"
NOT_AUTHORIZED = 0x87
NO_MATCHING_SUBSCRIBERS = 0x10
GRANTED_QOS_1 = 1
SESSION_EXPIRY_S = 3600


def test_batches_reach_hq_once_through_a_shared_subscription(mosquitto):
    broker = mosquitto(USERS)
    ingest_1 = broker.client("hq-ingest", client_id="hq-ingest-1")
    ingest_2 = broker.client("hq-ingest", client_id="hq-ingest-2")
    for ingest in (ingest_1, ingest_2):
        assert ingest.subscribe(HQ_SHARE).value == GRANTED_QOS_1
    branch = broker.client("BR01")

    sent = [f"batch-{n}".encode() for n in range(10)]
    for payload in sent:
        assert branch.publish(topic("BR01", "up"), payload).value == 0

    got_1, got_2 = [], []
    while len(got_1) + len(got_2) < len(sent):
        got_1 += ingest_1.received(within=0.05)
        got_2 += ingest_2.received(within=0.05)
        assert len(got_1) + len(got_2) <= len(sent)
    got_1 += ingest_1.received(within=0.3)
    got_2 += ingest_2.received(within=0.05)
    assert sorted(m.payload for m in got_1 + got_2) == sorted(sent)  # each exactly once
    assert got_1 and got_2, "the broker should share the batches between both instances"
    assert {m.topic for m in got_1 + got_2} == {topic("BR01", "up")}


def test_the_shipped_flow_settings_are_in_force(mosquitto):
    broker = mosquitto(USERS)
    connack = broker.probe("BR01").connect()
    # MQTT 5's CONNACK carries max_packet_size, and max_inflight_messages as Receive Maximum
    # (a branch's 4 batches in flight fit under it).
    assert connack.properties.MaximumPacketSize == 8 * 1024 * 1024
    assert connack.properties.ReceiveMaximum == 20


def test_wrong_password_and_anonymous_clients_are_refused(mosquitto):
    broker = mosquitto(USERS)
    wrong = broker.probe("BR01", password="guess").connect()
    # Mosquitto 2.0 answers a bad password with 0x87 Not authorized (not 0x86).
    assert wrong.reason_code.value == NOT_AUTHORIZED
    unknown = broker.probe("BR01", client_id="stranger")
    unknown.client.username_pw_set("BR99", "anything")
    assert unknown.connect().reason_code.value == NOT_AUTHORIZED
    anonymous = broker.probe("BR01", client_id="anonymous")
    anonymous.client.username_pw_set(None)
    assert anonymous.connect().reason_code.value == NOT_AUTHORIZED  # allow_anonymous false


def test_a_branch_publishes_only_to_its_own_up_and_status(mosquitto):
    broker = mosquitto(USERS)
    ingest = broker.client("hq-ingest")
    assert ingest.subscribe(HQ_SHARE).value == GRANTED_QOS_1
    assert ingest.subscribe("physioez/v1/branch/+/status").value == GRANTED_QOS_1
    branch = broker.client("BR01")

    # MQTT 5 answers a refused QoS 1 publish with PUBACK 0x87 Not authorized.
    for forged in (
        topic("BR02", "up"),
        topic("BR02", "status"),
        topic("BR01", "ack"),  # its own ack and down are head office's to write
        topic("BR01", "down"),
    ):
        code = branch.publish(forged, b"forged")
        assert code.value == NOT_AUTHORIZED, (forged, code)
        assert code.getName() == "Not authorized"
    # hq-ingest cannot write a batch as if it came from a branch.
    assert ingest.publish(topic("BR01", "up"), b"forged by hq").value == NOT_AUTHORIZED

    assert branch.publish(topic("BR01", "status"), b"online").value == 0
    assert branch.publish(topic("BR01", "up"), b"marker").value == 0
    # Messages from one connection arrive in order: nothing refused can come after the marker.
    got = [ingest.next_message(), ingest.next_message(), *ingest.received(within=0.3)]
    assert [(m.topic, m.payload) for m in got] == [
        (topic("BR01", "status"), b"online"),
        (topic("BR01", "up"), b"marker"),
    ]


def test_a_branch_never_receives_another_branchs_messages(mosquitto):
    broker = mosquitto(USERS)
    ingest = broker.client("hq-ingest")
    nosy = broker.client("BR01")
    other = broker.client("BR02")
    # Mosquitto's acl_file does not check SUBSCRIBE (config/mosquitto/acl says why): the
    # subscription is granted, and the read check stops every message at delivery instead.
    assert nosy.subscribe(topic("BR02", "down")).value == GRANTED_QOS_1
    assert nosy.subscribe("physioez/#").value == GRANTED_QOS_1
    assert other.subscribe(topic("BR02", "down")).value == GRANTED_QOS_1
    assert other.subscribe(topic("BR02", "ack")).value == GRANTED_QOS_1

    assert ingest.publish(topic("BR02", "down"), b"for BR02").value == 0
    assert ingest.publish(topic("BR02", "ack"), b"BR02 seq 7").value == 0
    assert other.publish(topic("BR02", "up"), b"BR02 batch").value == 0
    assert other.next_message().payload == b"for BR02"
    assert other.next_message().payload == b"BR02 seq 7"

    # The marker is published last on one connection, so it arrives after anything before it.
    assert ingest.publish(topic("BR01", "down"), b"marker").value == 0
    assert nosy.next_message().payload == b"marker"
    assert nosy.received(within=0.3) == []


def test_a_persistent_session_gets_what_was_published_while_away(mosquitto):
    # autosave_interval 0: the broker saves only when told (SIGUSR1) or when it stops cleanly,
    # so the test knows exactly what a kill -9 keeps.
    broker = mosquitto(USERS, settings={"autosave_interval": "0"})
    first = broker.client(
        "hq-ingest", client_id="hq-ingest-1", clean_start=True, session_expiry=SESSION_EXPIRY_S
    )
    assert first.subscribe(HQ_SHARE).value == GRANTED_QOS_1
    volatile = broker.client("hq-ingest", client_id="hq-ingest-volatile")  # no session expiry
    assert volatile.subscribe("physioez/v1/branch/+/status").value == GRANTED_QOS_1
    first.disconnect()
    volatile.disconnect()
    branch = broker.client("BR01")
    assert branch.publish(topic("BR01", "up"), b"while away").value == 0
    # The volatile session ended at its disconnect: MQTT 5's PUBACK says so (0x10 is a
    # success code; the sync code must not take it for a refusal).
    code = branch.publish(topic("BR01", "status"), b"online")
    assert (code.value, code.is_failure) == (NO_MATCHING_SUBSCRIBERS, False)

    again = broker.client(
        "hq-ingest", client_id="hq-ingest-1", clean_start=False, session_expiry=SESSION_EXPIRY_S
    )
    assert again.next_message().payload == b"while away"
    again.disconnect()
    gone = broker.probe("hq-ingest", client_id="hq-ingest-volatile").connect(clean_start=False)
    assert not gone.session_present  # a session without expiry ends at its disconnect

    # Across a kill -9: what the broker had saved comes back, what it had not is lost.
    assert branch.publish(topic("BR01", "up"), b"saved").value == 0
    broker.persist()
    assert branch.publish(topic("BR01", "up"), b"after the last save").value == 0
    branch.disconnect()
    old_pid = broker.pid
    broker.kill()
    assert not pid_alive(old_pid)
    broker.start()

    resumed = broker.probe("hq-ingest", client_id="hq-ingest-1")
    result = resumed.connect(clean_start=False, session_expiry=SESSION_EXPIRY_S)
    assert result.session_present
    assert resumed.next_message().payload == b"saved"
    assert resumed.received(within=0.5) == []


def test_tls_with_the_test_ca_and_not_without_it(mosquitto):
    broker = mosquitto(USERS, tls=True)
    assert broker.ca_file is not None and broker.ca_file.exists()
    ingest = broker.client("hq-ingest", tls=True)
    assert ingest.subscribe(HQ_SHARE).value == GRANTED_QOS_1
    branch = broker.client("BR01", tls=True)
    assert branch.publish(topic("BR01", "up"), b"sealed batch").value == 0
    assert ingest.next_message().payload == b"sealed batch"

    without_ca = broker.probe("BR01", client_id="no-ca", tls=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        without_ca.connect()


def test_mariadb_keeps_committed_rows_across_kill_9(mariadb):
    conn = mariadb.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT @@autocommit, @@character_set_connection")
        assert cur.fetchone() == (0, "utf8mb4")
        cur.execute(
            "CREATE TABLE visit (id INT PRIMARY KEY, note VARCHAR(50) NOT NULL) ENGINE=InnoDB"
        )
        cur.execute("INSERT INTO visit VALUES (1, %s)", ("paid ₹500 🩺",))
    conn.commit()
    pending = mariadb.connect()
    with pending.cursor() as cur:
        cur.execute("INSERT INTO visit VALUES (2, 'never committed')")
        cur.execute("SELECT COUNT(*) FROM visit")
        assert cur.fetchone() == (2,)  # visible inside its own transaction

    old_pid, port = mariadb.pid, mariadb.port
    mariadb.kill()
    assert not pid_alive(old_pid)
    # Down: the open connection fails, and so does a new one.
    with pytest.raises(pymysql.err.OperationalError):
        conn.ping(reconnect=False)
    with pytest.raises(pymysql.err.OperationalError):
        mariadb.connect()
    for stale in (conn, pending):
        with contextlib.suppress(pymysql.err.Error):
            stale.close()

    mariadb.start()  # crash recovery from the redo log, same port and data
    assert mariadb.port == port and mariadb.pid != old_pid
    with contextlib.closing(mariadb.connect()) as back, back.cursor() as cur:
        cur.execute("SELECT id, note FROM visit ORDER BY id")
        assert cur.fetchall() == ((1, "paid ₹500 🩺"),)

    mariadb.stop()
    mariadb.start()
    with contextlib.closing(mariadb.connect()) as back, back.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM visit")
        assert cur.fetchone() == (1,)


_shared_pids: set[int] = set()


@pytest.mark.parametrize("run", [1, 2])
def test_mariadb_shared_gives_each_test_an_empty_database(mariadb_shared, run):
    _shared_pids.add(mariadb_shared.pid)
    assert len(_shared_pids) == 1, "both runs should share one server"
    with contextlib.closing(mariadb_shared.connect()) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == ()
        cur.execute("CREATE TABLE leftover (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO leftover VALUES (%s)", (run,))
        conn.commit()
