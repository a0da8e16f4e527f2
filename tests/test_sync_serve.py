"""Replication as a clinic runs it: ``physioez serve`` with ``sync.enabled``, a real Mosquitto,
head office's ingest and MariaDB. The served app starts the publisher and its scheduler tick;
the demo clinic's whole history reaches head office and the replication page says so."""

from __future__ import annotations

import re
import sqlite3
import time

import pytest
from nacl.public import PrivateKey

from physioez.hq import store
from physioez.hq.ingest import HqIngest
from physioez.hq.store import MySqlSettings
from physioez.sync.services import envelope
from physioez.sync.services.mqtt import BrokerSettings
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow

PASSWORDS = {"TEST": "branch-secret", "hq-ingest": "ingest-secret"}


def test_a_served_branch_replicates_its_history_and_shows_it(tmp_path, mosquitto, mariadb_shared):
    broker = mosquitto(PASSWORDS)
    hq_key = PrivateKey.generate()
    secret = tmp_path / "broker-password"
    secret.write_text(PASSWORDS["TEST"])
    server = LiveServer(
        tmp_path / "branch",
        extra_config="\n".join(
            [
                "[sync]",
                "enabled = true",
                'broker_host = "127.0.0.1"',
                f"broker_port = {broker.port}",
                f'password_file = "{secret}"',
                f'hq_public_key = "{envelope.encode_key(hq_key.public_key)}"',
                'hq_verify_key = "'
                + envelope.encode_key(envelope.derived_signing_key(bytes(hq_key)).verify_key)
                + '"',
            ]
        ),
    )
    server.port = 8080  # for the key command; start() picks a free port
    server.write_config()
    keys = server.cli("sync", "keys").stdout
    verify, box = re.search(r"register-branch TEST (\S+) (\S+)", keys).groups()
    mysql = MySqlSettings(**{k: v for k, v in mariadb_shared.params.items() if k != "charset"})
    connection = mysql.connect()
    store.create_schema(connection)
    store.register_branch(connection, "TEST", verify, box)
    ingest = HqIngest(
        instance="serve-test",
        hq_private_key=hq_key,
        broker=BrokerSettings("127.0.0.1", broker.port, "hq-ingest", PASSWORDS["hq-ingest"]),
        mysql=mysql,
    )
    ingest.start()
    try:
        with server:
            database = server.data_dir / "physioez.sqlite3"
            deadline = time.monotonic() + 90
            while True:
                with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as branch:
                    last = branch.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
                    acked = branch.execute(
                        "SELECT value FROM sync_state WHERE name = 'acked_seq'"
                    ).fetchone()[0]
                if acked == last and store.applied_seq(connection, "TEST") == last:
                    break
                assert time.monotonic() < deadline, (
                    f"outbox {last}, acked {acked}, head office "
                    f"{store.applied_seq(connection, 'TEST')}:\n"
                    + server.log_path.read_text()[-3000:]
                )
                time.sleep(0.5)
            assert last > 1000, "the demo clinic should have a history to send"
            owner = server.session()
            owner.sign_in("owner")
            page = owner.get("/system/replication").text
            assert 'data-testid="sync-connected">Connected<' in page
            assert 'data-testid="sync-waiting">0<' in page
    finally:
        ingest.stop()
        connection.close()
