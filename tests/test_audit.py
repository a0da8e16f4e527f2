"""The audit chain: every mutation logged in its transaction, tampering found and named."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from physioez.admin.services.staff import assign_roles, update_profile
from physioez.core.kernel import records
from physioez.core.kernel.audit import (
    Actor,
    record_read,
    record_security,
    state_at,
    verify_chain,
)
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.models import AuditEvent, OutboxEntry, Role, Staff
from physioez.core.kernel.node import current_node


def test_create_update_delete_write_audit_and_outbox_together(app, system_actor):
    before_events = AuditEvent.select().count()
    role = records.create(
        Role, system_actor, code="physio_lead", name="Physio lead", permissions=["core.shell.use"]
    )
    records.update(role, system_actor, name="Lead physiotherapist")
    records.soft_delete(role, system_actor)
    events = list(AuditEvent.select().where(AuditEvent.seq > 0).order_by(AuditEvent.seq))
    mine = [e for e in events[before_events:] if e.entity_id == role.id]
    assert [e.action for e in mine] == ["role.create", "role.update", "role.delete"]
    assert json.loads(mine[1].before)["name"] == "Physio lead"
    assert json.loads(mine[1].after)["name"] == "Lead physiotherapist"
    outbox = list(
        OutboxEntry.select().where(OutboxEntry.row_key == role.id).order_by(OutboxEntry.seq)
    )
    assert [o.operation for o in outbox] == ["insert", "update", "delete"]
    assert [json.loads(o.row_json)["version"] for o in outbox] == [1, 2, 3]
    assert outbox[0].table_name == "role" and outbox[0].schema_version == 1
    hlcs = [o.hlc for o in outbox]
    assert hlcs == sorted(hlcs) and len(set(hlcs)) == 3
    assert json.loads(outbox[0].row_json)["origin_branch"] == current_node().branch_id


def test_a_failed_transaction_leaves_no_row_no_event_no_outbox(app, system_actor):
    counts = (Role.select().count(), AuditEvent.select().count(), OutboxEntry.select().count())
    with pytest.raises(RuntimeError), write_transaction():
        records.create(Role, system_actor, code="doomed", name="Doomed")
        raise RuntimeError("crash after the write")
    assert (
        Role.select().count(),
        AuditEvent.select().count(),
        OutboxEntry.select().count(),
    ) == counts


def test_no_op_update_writes_nothing(app, system_actor):
    role = records.create(Role, system_actor, code="steady", name="Steady")
    count = AuditEvent.select().count()
    records.update(role, system_actor, name="Steady")
    assert AuditEvent.select().count() == count and role.version == 1


def test_side_records_refuse_to_be_written_outside_a_transaction(app, system_actor):
    from physioez.core.kernel.audit import record_mutation

    with pytest.raises(RuntimeError, match="inside write_transaction"):
        record_mutation(system_actor, "x.y", "x", "1", None, {})


def test_secrets_are_redacted_in_audit_but_replicated_in_outbox(app, make_staff):
    staff = make_staff("receptionist")
    event = AuditEvent.get(
        (AuditEvent.entity_id == staff.id) & (AuditEvent.action == "staff.create")
    )
    after = json.loads(event.after)
    assert after["password_hash"] == "[redacted]" and after["pin_hash"] == "[redacted]"
    outbox = OutboxEntry.get(OutboxEntry.row_key == staff.id)
    assert json.loads(outbox.row_json)["password_hash"].startswith("$argon2id$")


def test_event_carries_actor_ip_device(app, client_for):
    client = client_for("branch_manager")
    client.post(
        "/admin/staff/new",
        data={
            "full_name": "Meera Nair",
            "username": "meera",
            "roles": ["receptionist"],
            "password": "temporary-pass-1",
        },
        headers={"User-Agent": "FrontDeskTablet/1"},
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
    )
    event = AuditEvent.get(
        AuditEvent.action == "staff.create", AuditEvent.actor_id == client.staff.id
    )
    assert event.actor_roles == "branch_manager"
    assert event.ip == "192.0.2.10" and event.device == "FrontDeskTablet/1"
    assert event.entity_type == "staff" and json.loads(event.after)["username"] == "meera"


def test_chain_verifies_then_names_the_first_tampered_event(app, make_staff):
    for _ in range(3):
        make_staff("receptionist")
    result = verify_chain()
    assert result.ok and result.checked >= 13  # roles + staff
    victim = AuditEvent.select().order_by(AuditEvent.seq).offset(5).first()
    after = json.loads(victim.after)
    after["name"] = "Tampered"
    with write_transaction():
        database.execute_sql(
            "UPDATE audit_event SET after = ? WHERE seq = ?", (json.dumps(after), victim.seq)
        )
    result = verify_chain()
    assert not result.ok
    assert result.first_break.seq == victim.seq and result.first_break.event_id == victim.id
    assert "altered" in result.first_break.reason
    assert result.checked == 5


def test_a_deleted_event_breaks_the_link_of_the_next(app, make_staff):
    make_staff("receptionist")
    victim = AuditEvent.select().order_by(AuditEvent.seq).offset(3).first()
    with write_transaction():
        database.execute_sql("DELETE FROM audit_event WHERE seq = ?", (victim.seq,))
    result = verify_chain()
    assert not result.ok and result.first_break.seq == victim.seq + 1
    assert "removed or altered" in result.first_break.reason


def test_rehashing_a_tampered_event_is_still_caught_by_the_next_link(app, make_staff):
    from physioez.core.kernel.audit import _HASHED_FIELDS, _event_hash

    make_staff("receptionist")
    make_staff("receptionist")
    victim = AuditEvent.select().order_by(AuditEvent.seq).offset(2).first()
    victim.action = "role.forged"
    fields = {name: getattr(victim, name) for name in _HASHED_FIELDS}
    with write_transaction():
        database.execute_sql(
            "UPDATE audit_event SET action = ?, hash = ? WHERE seq = ?",
            ("role.forged", _event_hash(victim.prev_hash, fields), victim.seq),
        )
    result = verify_chain()
    assert result.first_break.seq == victim.seq + 1


def test_history_rebuilds_a_record_at_a_moment(app, system_actor, make_staff):
    staff = make_staff("receptionist")
    moment_one = datetime.now(UTC)
    time.sleep(0.002)
    update_profile(system_actor, staff, "Asha Menon", "asha@clinic.test", "")
    moment_two = datetime.now(UTC)
    time.sleep(0.002)
    assign_roles(system_actor, staff, ["receptionist", "billing"])
    then = state_at("staff", staff.id, moment_one)
    assert then.exists and then.state["full_name"] == "Test Receptionist"
    later = state_at("staff", staff.id, moment_two)
    assert later.state["full_name"] == "Asha Menon" and later.state["role_codes"] == [
        "receptionist"
    ]
    now = state_at("staff", staff.id, datetime.now(UTC))
    assert now.state["role_codes"] == ["billing", "receptionist"]
    before_birth = state_at("staff", staff.id, datetime(2000, 1, 1, tzinfo=UTC))
    assert not before_birth.exists and before_birth.state is None


def test_reads_and_security_events_are_logged_but_not_history(app, make_staff):
    staff = make_staff("therapist")
    actor = Actor(staff.id, ("therapist",), "192.0.2.5", "tablet")
    record_read(actor, "clinical_note", "note-1", purpose="treatment")
    record_security(actor, "auth.sign_in_failed", "staff", staff.id, {"method": "pin"})
    read = AuditEvent.get(AuditEvent.kind == "read")
    assert read.action == "clinical_note.read" and json.loads(read.detail) == {
        "purpose": "treatment"
    }
    assert not state_at("clinical_note", "note-1", datetime.now(UTC)).exists
    assert verify_chain().ok


def test_staff_admin_flows_are_audited(app, client_for, make_staff):
    manager = client_for("branch_manager")
    staff = make_staff("receptionist")
    manager.post(f"/admin/staff/{staff.id}/roles", data={"roles": ["receptionist", "billing"]})
    manager.post(f"/admin/staff/{staff.id}/password", data={"password": "new-temporary-1"})
    manager.post(f"/admin/staff/{staff.id}/active", data={"active": "0"})
    actions = [
        e.action
        for e in AuditEvent.select()
        .where(AuditEvent.entity_id == staff.id)
        .order_by(AuditEvent.seq)
    ]
    assert actions == [
        "staff.create",
        "staff.roles_changed",
        "staff.password_reset",
        "staff.deactivated",
    ]
    assert Staff.get_by_id(staff.id).session_epoch == 2
