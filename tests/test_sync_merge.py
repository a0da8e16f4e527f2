"""Field-by-field merge of shared records at head office (physioez.hq.merge), without MySQL.

The property that matters: branches that edit one patient while out of touch end with the
same record at head office whatever order their edits arrive in, and an edit is never lost
without a trace (it survives, is overtaken by its own branch's later edit, or is the losing
side of a recorded conflict).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from physioez.core.kernel.clock import HlcTimestamp
from physioez.hq import merge

FIELDS = ("phone", "email", "address")
START = {
    "id": "p1",
    "origin_branch": "BR01",
    "hlc": HlcTimestamp(1_000_000, 0, "BR01").encode(),
    "version": 1,
    "created_at": "2026-11-20T10:00:00.000000Z",
    "updated_at": "2026-11-20T10:00:00.000000Z",
    "deleted_at": None,
    "phone": "9000000000",
    "email": "",
    "address": "",
}


def edit(local: dict, branch: str, wall_ms: int, **changes) -> dict:
    """A branch's edit of its local copy, as its outbox row carries it."""
    hlc = HlcTimestamp(wall_ms, 0, branch).encode()
    row = dict(local, **changes, hlc=hlc, version=local["version"] + 1)
    # Partitioned: the branch applied no head-office change since the record was made.
    base = {"hq_seq": 0, "values": {k: local[k] for k in changes}}
    return {"row": row, "hlc": hlc, "branch": branch, "base": base}


def apply_all(edits: list[dict]) -> tuple[merge.Merged, list[merge.FieldConflict]]:
    """Head office's side: each edit merged in arrival order, each merged state queued down
    as the next head-office change."""
    held, stamps, deleted = None, {}, False
    conflicts: list[merge.FieldConflict] = []
    latest = None
    first = {"row": START, "hlc": START["hlc"], "branch": "BR01", "base": None, "op": "insert"}
    for down_seq, item in enumerate([first, *edits], start=1):
        result = merge.merge(
            held,
            deleted,
            stamps,
            item["row"],
            item["hlc"],
            item["branch"],
            item.get("op", "update"),
            item["base"],
        )
        if result is None:
            continue  # nothing changed
        held, deleted = result.state, result.deleted
        stamps = merge.settle(result.stamps, down_seq)
        conflicts.extend(result.conflicts)
        latest = result
    return latest, conflicts


def test_two_branches_changing_different_fields_both_keep_their_change():
    a = edit(START, "BR01", 2_000_000, phone="9111111111")
    b = edit(START, "BR02", 1_500_000, email="b@example.com")
    for order in ([a, b], [b, a]):
        merged, conflicts = apply_all(order)
        assert merged.state["phone"] == "9111111111"
        assert merged.state["email"] == "b@example.com"
        assert conflicts == []


def test_the_same_field_goes_to_the_later_stamp_whatever_the_order_and_is_recorded():
    a = edit(START, "BR01", 2_000_000, phone="9111111111")
    b = edit(START, "BR02", 2_000_000 + 7_200_000, phone="9222222222")  # clock 2 h ahead
    for order in ([a, b], [b, a]):
        merged, conflicts = apply_all(order)
        assert merged.state["phone"] == "9222222222"
        [conflict] = conflicts
        assert conflict.field == "phone" and conflict.winner.branch == "BR02"
        assert conflict.loser_value == "9111111111"


def test_an_edit_that_knew_the_other_is_no_conflict_even_with_an_older_clock():
    a = edit(START, "BR01", 5_000_000, phone="9111111111")
    b = edit(a["row"], "BR02", 3_000_000, phone="9333333333")
    b["base"]["hq_seq"] = 2  # it had applied head office's change carrying a's edit
    merged, conflicts = apply_all([a, b])
    assert merged.state["phone"] == "9333333333" and conflicts == []


def test_a_merged_state_is_newer_than_each_state_it_merged():
    a = edit(START, "BR01", 2_000_000, phone="9111111111")
    b = edit(START, "BR02", 1_500_000, email="b@example.com")
    merged, _ = apply_all([a, b])
    assert merged.hlc > a["hlc"] and merged.hlc > b["hlc"]
    assert HlcTimestamp.parse(merged.hlc).node == merge.HEAD_OFFICE_NODE


def test_a_tombstone_stays_whatever_arrives_later():
    deleted = dict(START, deleted_at="2026-11-21T10:00:00.000000Z")
    tomb = {
        "row": dict(deleted, hlc=HlcTimestamp(3_000_000, 0, "BR01").encode()),
        "hlc": HlcTimestamp(3_000_000, 0, "BR01").encode(),
        "branch": "BR01",
        "base": None,
        "op": "delete",
    }
    late = edit(START, "BR02", 9_000_000, phone="9444444444")
    merged, _ = apply_all([tomb, late])
    assert merged.deleted and merged.state["deleted_at"] is not None
    assert (
        merge.merge(
            merged.state, True, {}, late["row"], late["hlc"], "BR02", "update", late["base"]
        )
        is None
    )


values = st.sampled_from(["a", "b", "c", ""])


@st.composite
def offline_edits(draw) -> dict[str, list[dict]]:
    """Each branch edits its own copy a few times, starting from the same record, each with
    its own clock (some far ahead): what two or three partitioned branches send later."""
    per_branch = {}
    for branch in draw(
        st.lists(st.sampled_from(["BR01", "BR02", "BR03"]), min_size=2, max_size=3, unique=True)
    ):
        local = dict(START)
        wall = 2_000_000 + draw(st.integers(0, 8_000_000))
        edits = []
        for _ in range(draw(st.integers(1, 3))):
            changed = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2, unique=True))
            change = {name: draw(values) for name in changed}
            # As records.update does: a field set to the value it has is no change.
            change = {name: value for name, value in change.items() if local[name] != value}
            if not change:
                continue
            wall += draw(st.integers(1, 1000))
            made = edit(local, branch, wall, **change)
            edits.append(made)
            local = made["row"]
        per_branch[branch] = edits
    return per_branch


@st.composite
def two_interleavings(draw):
    per_branch = draw(offline_edits())

    def interleave() -> list[dict]:
        queues = {branch: list(edits) for branch, edits in per_branch.items() if edits}
        order = []
        while queues:
            branch = draw(st.sampled_from(sorted(queues)))
            order.append(queues[branch].pop(0))
            if not queues[branch]:
                del queues[branch]
        return order

    return per_branch, interleave(), interleave()


@settings(max_examples=500, deadline=None)
@given(two_interleavings())
def test_partitioned_branches_end_the_same_whatever_the_arrival_order(case):
    """Each field ends with the value of the latest (HLC, branch) among the branches' last
    edits of it, and a branch's value that lost is on record as a conflict."""
    per_branch, first, second = case
    for order in (first, second):
        merged, conflicts = apply_all(order)
        for name in FIELDS:
            heads = {}  # branch -> (stamp, value) of its last edit of the field
            for branch, edits in per_branch.items():
                for made in edits:
                    if name in made["base"]["values"]:
                        heads[branch] = ((made["hlc"], branch), made["row"][name])
            if not heads:
                assert merged.state[name] == START[name]
                continue
            final = max(heads.values())[1]
            assert merged.state[name] == final, (name, heads, order)
            # A head that lost is on record, unless some branch set that value and later
            # changed it itself (it replaced a value it knew).
            replaced = set()
            for edits in per_branch.values():
                values_set = [made["row"][name] for made in edits if name in made["base"]["values"]]
                replaced.update(values_set[:-1])
            for _, value in heads.values():
                if value != final and value not in replaced:
                    assert any(c.field == name and c.loser_value == value for c in conflicts), (
                        name,
                        heads,
                    )
