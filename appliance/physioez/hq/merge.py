"""How head office merges edits of one shared record (a patient seen at several branches).

Each edit a branch sends carries, besides the record's new state, its *base*: the values its
changed fields held before the edit, and the last head-office change the branch had applied
(its ``hq_seq``). Field by field, head office then tells apart:

- an edit made knowing the value head office holds (the value is its base, and it was set
  by the same branch or reached it from head office before the edit): it is applied;
- a concurrent edit of the same field (anything else that changes it): the one with the
  higher (HLC, branch) wins, the same winner whichever arrives first, and the clash is
  returned as a :class:`FieldConflict` for the review queue.

Fields an edit did not change stay as head office holds them, so two branches changing
different fields of one patient both keep their change. Each field's :class:`Stamp` says who
set it and which head-office change carried it to the branches; property tests check that
partitioned branches end with the same record whatever order their edits arrive in.

An edit without a base (from a branch one schema version behind, or a record re-sent by
anti-entropy after head office lost its copy) cannot be told from a concurrent one: each
differing field goes to the higher stamp, without a conflict entry.

This module is pure (no MySQL): ``hq_store`` loads and stores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from physioez.core.kernel.clock import HlcTimestamp

# Fields that change with every write and say nothing about the record itself.
META_FIELDS = frozenset({"hlc", "version", "updated_at", "origin_branch", "created_at"})
HEAD_OFFICE_NODE = "HQ"


@dataclass(frozen=True)
class Stamp:
    """Who last set a field, and from which of head office's changes branches learnt it.

    ``hlc`` and ``branch`` rank concurrent edits (later wins; compared as a pair).
    ``down_seq`` is the head-office change (``hq_outbox`` seq) that carried the value to the
    branches: a branch that had applied it knew the value. ``None`` until head office queues
    that change (see ``hq_store``)."""

    hlc: str
    branch: str
    down_seq: int | None = None

    @property
    def rank(self) -> tuple[str, str]:
        return (self.hlc, self.branch)

    def to_json(self) -> list:
        return [self.hlc, self.branch, self.down_seq]

    @classmethod
    def from_json(cls, value: list) -> Stamp:
        return cls(value[0], value[1], value[2])


# A field no edit has changed since the record was created: any edit is later, every branch
# knew it.
AS_CREATED = Stamp("", "", 0)


@dataclass(frozen=True)
class FieldConflict:
    """A field two branches changed without knowing of each other's edit."""

    field: str
    winner: Stamp
    winner_value: Any
    loser: Stamp
    loser_value: Any


@dataclass
class Merged:
    state: dict[str, Any]
    hlc: str
    stamps: dict[str, Stamp]
    deleted: bool
    conflicts: list[FieldConflict] = field(default_factory=list)


def data_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name not in META_FIELDS}


def after(*stamps: str, floor_ms: int = 0) -> str:
    """A head-office HLC later than every one of ``stamps`` (and not before ``floor_ms``):
    a merged state must be newer than each state it merged, or a branch holding one of them
    would keep its own copy."""
    latest = max(HlcTimestamp.parse(stamp) for stamp in stamps)
    if floor_ms > latest.wall_ms:
        return HlcTimestamp(floor_ms, 0, HEAD_OFFICE_NODE).encode()
    return HlcTimestamp(latest.wall_ms, latest.counter + 1, HEAD_OFFICE_NODE).encode()


def head_office_now() -> str:
    return HlcTimestamp(int(time.time() * 1000), 0, HEAD_OFFICE_NODE).encode()


def merge(
    held: dict[str, Any] | None,
    held_deleted: bool,
    stamps: dict[str, Stamp],
    incoming: dict[str, Any],
    incoming_hlc: str,
    branch: str,
    operation: str,
    base: dict[str, Any] | None,
    now_ms: int = 0,
) -> Merged | None:
    """The record's state after ``incoming`` (``branch``'s edit) meets what head office
    holds; ``None`` when nothing changes (a state already held; a tombstone stays one)."""
    mine = Stamp(incoming_hlc, branch)
    if held is None:
        return Merged(dict(incoming), incoming_hlc, {}, operation == "delete")
    if held_deleted:
        return None
    if operation == "delete":
        hlc = incoming_hlc if incoming_hlc > held["hlc"] else after(held["hlc"], incoming_hlc)
        return Merged(dict(incoming, hlc=hlc), hlc, dict(stamps), True)

    merged_stamps = dict(stamps)
    values = dict(held)
    conflicts: list[FieldConflict] = []
    if base is not None:
        known_seq, before = int(base["hq_seq"]), base["values"]
        edited = {name: incoming.get(name) for name in before if name not in META_FIELDS}
    else:
        known_seq, before = -1, {}
        edited = {
            name: value for name, value in data_fields(incoming).items() if value != held.get(name)
        }
    for name, new in edited.items():
        current = held.get(name)
        held_stamp = stamps.get(name, AS_CREATED)
        if current == new:
            # Both set the same value: the later rank stands for later clashes; branches that
            # learnt the value from the earlier change still knew it.
            if mine.rank > held_stamp.rank:
                merged_stamps[name] = Stamp(mine.hlc, mine.branch, held_stamp.down_seq)
        elif name in before and current == before[name] and _knew(held_stamp, mine, known_seq):
            values[name] = new
            merged_stamps[name] = mine
        else:
            incoming_wins = mine.rank > held_stamp.rank
            if incoming_wins:
                values[name] = new
                merged_stamps[name] = mine
            if base is not None:
                conflicts.append(
                    FieldConflict(
                        name,
                        mine if incoming_wins else held_stamp,
                        new if incoming_wins else current,
                        held_stamp if incoming_wins else mine,
                        current if incoming_wins else new,
                    )
                )
    if merged_stamps == stamps and data_fields(held) == data_fields(incoming):
        return None  # nothing new (a state head office already holds, sent again)
    if data_fields(values) == data_fields(incoming) and incoming_hlc > held["hlc"]:
        # The common case: a clean successor of what is held; it goes on as the branch wrote it.
        return Merged(dict(incoming), incoming_hlc, merged_stamps, False, conflicts)
    hlc = after(held["hlc"], incoming_hlc, floor_ms=now_ms)
    values.update(
        hlc=hlc,
        version=max(int(held.get("version", 1)), int(incoming.get("version", 1))) + 1,
        updated_at=max(str(held.get("updated_at") or ""), str(incoming.get("updated_at") or "")),
    )
    return Merged(values, hlc, merged_stamps, False, conflicts)


def _knew(held_stamp: Stamp, mine: Stamp, known_seq: int) -> bool:
    """Whether an edit was made knowing the edit that set the field's current value: it is
    the branch's own earlier edit (a branch's edits arrive in order), or the branch had
    applied the head-office change that carried it. An equal value alone proves nothing:
    another branch may have set the same value concurrently."""
    if held_stamp.branch == mine.branch:
        return True
    return held_stamp.down_seq is not None and known_seq >= held_stamp.down_seq


def with_values(
    held: dict[str, Any], stamps: dict[str, Stamp], chosen: dict[str, Any], hlc: str
) -> tuple[dict[str, Any], dict[str, Stamp]]:
    """``held`` with an admin's chosen values, stamped by head office at ``hlc``."""
    values = dict(held, **chosen, hlc=hlc, version=int(held.get("version", 1)) + 1)
    merged_stamps = dict(stamps)
    for name in chosen:
        merged_stamps[name] = Stamp(hlc, HEAD_OFFICE_NODE)
    return values, merged_stamps


def settle(stamps: dict[str, Stamp], down_seq: int) -> dict[str, Stamp]:
    """The stamps once head office has queued the merged state as change ``down_seq``."""
    return {
        name: stamp if stamp.down_seq is not None else replace(stamp, down_seq=down_seq)
        for name, stamp in stamps.items()
    }
