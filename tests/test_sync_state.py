"""The branch side of replication: outbox batches in order, acks only forward, digests."""

from __future__ import annotations

from physioez.reception.services import patients
from physioez.reception.services.patients import PatientDetails
from physioez.sync.services import state
from tests.reception_fixtures import MONDAY


def register(actor, count: int) -> None:
    for n in range(count):
        patients.register(
            actor, PatientDetails(first_name=f"Sync{n}", phone=f"98765{n:05d}"), MONDAY
        )


def test_pending_rows_come_in_seq_order_cut_by_rows_and_bytes(app, system_actor):
    start = state.last_seq()
    register(system_actor, 5)
    rows = state.pending_rows(start, limit=1000, max_bytes=10**9)
    seqs = [row["seq"] for row in rows]
    assert seqs == sorted(seqs) and seqs[0] == start + 1 and seqs[-1] == state.last_seq()
    assert len(state.pending_rows(start, limit=2, max_bytes=10**9)) == 2
    one = state.pending_rows(start, limit=1000, max_bytes=1)
    assert len(one) == 1  # a single large row still goes


def test_acks_only_move_forward(app):
    assert state.record_ack(7) == 7
    assert state.record_ack(3) == 7
    assert state.acked_seq() == 7


def test_digest_follows_the_latest_state_of_each_record(app, system_actor):
    register(system_actor, 2)
    before = state.branch_digests()["patient"]
    assert before.count == 2
    register(system_actor, 1)
    after = state.branch_digests()["patient"]
    assert after.count == 3 and after.digest != before.digest


def test_the_lag_reads_at_a_glance():
    from physioez.sync.views import how_long

    assert [how_long(s) for s in (-1, 4, 119, 120, 3599, 3600 + 5 * 60, 2 * 86400 + 1)] == [
        "0 s",
        "4 s",
        "119 s",
        "2 min",
        "59 min",
        "1 h 05 min",
        "2 days",
    ]


def test_the_oldest_waiting_change_is_the_first_one_not_acked(app, system_actor):
    from physioez.core.kernel import records
    from physioez.core.kernel.models import Role

    assert state.oldest_waiting_at(state.last_seq()) is None
    records.create(Role, system_actor, code="lag_probe", name="Lag probe")
    assert state.oldest_waiting_at(state.acked_seq()) is not None
