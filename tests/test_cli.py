"""The physioez command line, run the way an IT person runs it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from physioez.cli import main
from physioez.core.kernel.db import close_database, database, write_transaction


@pytest.fixture
def cli(tmp_path, monkeypatch):
    config = tmp_path / "physioez.toml"
    config.write_text(
        f'[branch]\nid = "CLI"\n[paths]\ndata_dir = "{tmp_path / "data"}"\n'
        f'key_file = "{tmp_path / "keys" / "kek"}"\n[auth]\nhash_profile = '
        '"fast-insecure-for-tests"\n'
    )
    monkeypatch.setenv("PHYSIOEZ_CONFIG", str(config))
    runner = CliRunner()

    def run(*args, input=None):
        result = runner.invoke(main, list(args), input=input, catch_exceptions=False)
        close_database()
        return result

    yield run
    close_database()


def test_migrate_is_idempotent(cli):
    first = cli("migrate")
    assert first.exit_code == 0 and "applying core.0001_identity" in first.output
    again = cli("migrate")
    assert again.exit_code == 0 and "0 applied now" in again.output


def test_bad_config_stops_with_the_key_named(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("PHYSIOEZ_AUTH__LOCKOUT_THRESHOLD", "lots")
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert "auth.lockout_threshold" in result.output and "PHYSIOEZ_AUTH__LOCKOUT_THRESHOLD" in (
        result.output
    )


def test_create_admin_and_refusals(cli):
    result = cli(
        "create-admin",
        "--username",
        "boss",
        "--full-name",
        "Dr Kavya Rao",
        "--password-stdin",
        input="a long owner password\n",
    )
    assert result.exit_code == 0 and "Owner 'boss' created" in result.output
    again = cli(
        "create-admin",
        "--username",
        "boss",
        "--full-name",
        "x",
        "--password-stdin",
        input="a long owner password\n",
    )
    assert again.exit_code == 1 and "is taken" in again.output
    short = cli(
        "create-admin", "--username", "b2", "--full-name", "x", "--password-stdin", input="short\n"
    )
    assert short.exit_code == 1 and "at least" in short.output


def test_seed_demo_is_repeatable_and_prints_sign_ins(cli):
    first = cli("seed-demo")
    assert first.exit_code == 0 and "10 demo accounts created" in first.output
    assert "receptionist" in first.output and "physioez-demo" in first.output
    assert "4 practitioners, 300 patients" in first.output
    again = cli("seed-demo")
    assert "0 demo accounts created" in again.output and "already there" in again.output
    from physioez.app import boot
    from physioez.core.kernel.settings import load_settings
    from physioez.reception.models import APPOINTMENT_STATUSES, Appointment

    boot(load_settings())
    statuses = {a.status for a in Appointment.select(Appointment.status)}
    assert statuses == set(APPOINTMENT_STATUSES)  # every status, for a realistic demo
    from physioez.core.kernel.audit import verify_chain

    assert verify_chain().ok


def test_audit_verify_names_the_first_bad_event(cli):
    cli("seed-demo")
    assert "chain intact" in cli("audit", "verify").output
    cli("migrate")
    from physioez.app import boot
    from physioez.core.kernel.settings import load_settings

    boot(load_settings())
    seq = database.execute_sql(
        "SELECT seq, id FROM audit_event ORDER BY seq LIMIT 1 OFFSET 12"
    ).fetchone()
    with write_transaction():
        database.execute_sql(
            "UPDATE audit_event SET actor_roles = 'owner' WHERE seq = ?", (seq[0],)
        )
    close_database()
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"BROKEN at event #{seq[0]} ({seq[1]})" in result.output


def test_audit_history_at_a_time(cli):
    cli("seed-demo")
    before = datetime.now(UTC).isoformat()
    from physioez.admin.services.staff import assign_roles
    from physioez.app import boot
    from physioez.core.kernel import identity
    from physioez.core.kernel.audit import Actor
    from physioez.core.kernel.settings import load_settings

    boot(load_settings())
    staff = identity.find_staff_by_username("reception")
    assign_roles(Actor.system("test"), staff, ["receptionist", "billing"])
    close_database()
    then = json.loads(cli("audit", "history", "staff", staff.id, "--at", before).output)
    assert then["state"]["role_codes"] == ["receptionist"]
    assert then["state"]["password_hash"] == "[redacted]"
    now = json.loads(cli("audit", "history", "staff", staff.id).output)
    assert now["state"]["role_codes"] == ["billing", "receptionist"]
    missing = cli("audit", "history", "staff", staff.id, "--at", "2001-01-01T00:00Z")
    assert missing.exit_code == 1 and "did not exist" in missing.output
    naive = cli("audit", "history", "staff", staff.id, "--at", "2026-01-01T00:00")
    assert naive.exit_code == 2 and "UTC offset" in naive.output


def test_keys_rotate_keeps_data_readable(cli, tmp_path):
    from physioez.app import boot
    from physioez.core.kernel.settings import load_settings
    from physioez.core.platform.keys import open_branch_keyring

    cli("migrate")
    settings = load_settings()
    boot(settings)
    token = open_branch_keyring(settings.paths.key_file).encrypt_field("canary clinical note")
    old_key = settings.paths.key_file.read_text()
    close_database()
    result = cli("keys", "rotate")
    assert result.exit_code == 0 and "1 data keys re-wrapped" in result.output
    assert settings.paths.key_file.read_text() != old_key
    assert oct(settings.paths.key_file.stat().st_mode & 0o777) == "0o600"
    boot(settings)
    assert open_branch_keyring(settings.paths.key_file).decrypt_field(token) == (
        "canary clinical note"
    )


def test_keys_init_creates_a_root_only_key_once(cli, tmp_path):
    first = cli("keys", "init")
    assert first.exit_code == 0 and "created (mode 0600)" in first.output
    key_file = tmp_path / "keys" / "kek"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert oct(key_file.parent.stat().st_mode & 0o777) == "0o700"
    assert "already there" in cli("keys", "init").output
    key_file.chmod(0o644)
    refused = cli("keys", "init")
    assert refused.exit_code == 1 and "chmod 600" in refused.output
