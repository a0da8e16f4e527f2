"""Head office's conflict review from the command line, against a real MariaDB."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from physioez.core.kernel.clock import HlcTimestamp
from physioez.core.kernel.db import close_database
from physioez.hq import apply, outbox, store
from physioez.hq.cli import main
from physioez.hq.store import MySqlSettings
from physioez.sync.services import envelope

pytestmark = pytest.mark.slow

PATIENT = {
    "id": "0192f0a0-0000-7000-8000-000000000001",
    "origin_branch": "BR01",
    "hlc": HlcTimestamp(1_700_000_000_000, 0, "BR01").encode(),
    "version": 1,
    "created_at": "2026-11-20T10:00:00.000000Z",
    "updated_at": "2026-11-20T10:00:00.000000Z",
    "deleted_at": None,
    "first_name": "Asha",
    "phone": "9000000000",
}


def change(seq: int, branch: str, wall_ms: int, op: str, **values) -> envelope.Batch:
    hlc = HlcTimestamp(wall_ms, 0, branch).encode()
    row = {
        "seq": seq,
        "table": "patient",
        "op": op,
        "key": PATIENT["id"],
        "hlc": hlc,
        "row": dict(PATIENT, **values, hlc=hlc, version=1 if op == "insert" else 2),
        "schema_version": 1,
        "own": "shared",
    }
    if op == "update":
        row["base"] = {"hq_seq": 0, "values": {name: PATIENT[name] for name in values}}
    return envelope.Batch(branch, seq, seq, envelope.SCHEMA_VERSION, [row])


@pytest.fixture
def hq_cli(tmp_path, monkeypatch, mariadb_shared):
    params = mariadb_shared.params
    secret = tmp_path / "mysql-password"
    secret.write_text(str(params["password"]))
    config = tmp_path / "physioez.toml"
    config.write_text(
        f'[branch]\nid = "HQCLI"\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        f'key_file = "{tmp_path / "keys" / "kek"}"\n[auth]\nhash_profile = '
        f'"fast-insecure-for-tests"\n[hq]\nmysql_host = "{params["host"]}"\n'
        f'mysql_port = {params["port"]}\nmysql_user = "{params["user"]}"\n'
        f'mysql_password_file = "{secret}"\nmysql_database = "{params["database"]}"\n'
    )
    monkeypatch.setenv("PHYSIOEZ_CONFIG", str(config))
    mysql = MySqlSettings(**{k: v for k, v in params.items() if k != "charset"})
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        close_database()
        return result

    yield run, mysql
    close_database()


def test_an_admin_lists_a_conflict_and_brings_the_replaced_value_back(hq_cli):
    run, mysql = hq_cli
    connection = mysql.connect()
    store.create_schema(connection)
    apply.apply_batch(connection, change(1, "BR01", 1_700_000_000_000, "insert"))
    apply.apply_batch(connection, change(2, "BR01", 1_700_000_100_000, "update", phone="1"))
    apply.apply_batch(connection, change(1, "BR02", 1_700_000_200_000, "update", phone="2"))
    listed = run("conflicts")
    assert listed.exit_code == 0, listed.output
    assert "phone: kept '2' from BR02, replaced '1' from BR01" in listed.output
    [conflict] = apply.open_conflicts(connection)

    reversed_ = run("reverse", str(conflict["id"]))
    assert reversed_.exit_code == 0 and "reversed" in reversed_.output
    assert run("conflicts").output.strip() == "No open conflicts."
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_json FROM replicated_row WHERE row_key = %s", (PATIENT["id"],))
        assert json.loads(cursor.fetchone()[0])["phone"] == "1"
        # The record and a notice for each branch involved go down.
        cursor.execute("SELECT table_name, target FROM hq_outbox ORDER BY seq DESC LIMIT 3")
        assert sorted(cursor.fetchall()) == [
            ("patient", "*"),
            ("sync_conflict", "BR01"),
            ("sync_conflict", "BR02"),
        ]
    connection.commit()
    connection.close()
    again = run("reverse", str(conflict["id"]))
    assert again.exit_code != 0 and f"no open conflict {conflict['id']}" in again.output


def test_head_office_sets_and_withdraws_a_chain_policy(hq_cli):
    run, mysql = hq_cli
    connection = mysql.connect()
    store.create_schema(connection)
    refused = run("set-policy", "billing.discount_limit_percent", '{"receptionist": 150}')
    assert refused.exit_code != 0 and "0-100 percent" in refused.output
    unknown = run("set-policy", "paths.data_dir", "/tmp")
    assert unknown.exit_code != 0 and "not a chain policy" in unknown.output

    sent = run("set-policy", "billing.discount_limit_percent", '{"receptionist": 5}')
    assert sent.exit_code == 0, sent.output
    assert run("clear-policy", "billing.discount_limit_percent").exit_code == 0
    rows, _ = outbox.down_rows(connection, "BR01", 0)
    assert [(row["table"], row["op"]) for row in rows] == [
        ("chain_policy", "update"),
        ("chain_policy", "delete"),
    ]
    assert json.loads(rows[0]["row"]["value"]) == {"receptionist": 5}
    assert rows[1]["row"]["deleted_at"] is not None and rows[0]["key"] == rows[1]["key"]
    connection.close()
