"""The path of every mutation: change the row, log the audit event, queue the outbox row.

All three happen in one transaction, so head office can never receive a change that the
branch's audit log lacks, nor the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from physioez.core.kernel.audit import Actor, record_mutation
from physioez.core.kernel.canonical import canonical_json
from physioez.core.kernel.db import after_commit, require_transaction, write_transaction
from physioez.core.kernel.models import (
    BaseModel,
    OutboxEntry,
    ReplicatedModel,
    format_utc,
    insert_row,
    utcnow,
)
from physioez.core.kernel.node import current_node

M = TypeVar("M", bound=BaseModel)


def create(model: type[M], actor: Actor, **fields: Any) -> M:
    with write_transaction():
        instance = model(**fields)
        if isinstance(instance, ReplicatedModel):
            node = current_node()
            instance.origin_branch = node.branch_id
            instance.hlc = node.clock.now().encode()
            instance.created_at = instance.updated_at = utcnow()
        insert_row(instance)
        after = instance.audit_snapshot()
        record_mutation(
            actor, f"{model.audit_entity}.create", model.audit_entity, _key(instance), None, after
        )
        _enqueue(instance, "insert")
    return instance


def update(instance: M, actor: Actor, action: str | None = None, **changes: Any) -> M:
    """Apply ``changes``; a no-op change writes nothing and returns the row unchanged."""
    with write_transaction():
        changed = {k: v for k, v in changes.items() if getattr(instance, k) != v}
        if not changed:
            return instance
        snapshot = instance.snapshot()
        before = instance.redacted(snapshot)
        base = _shared_base(instance, snapshot, changed)
        for name, value in changed.items():
            setattr(instance, name, value)
        if isinstance(instance, ReplicatedModel):
            instance.version += 1
            instance.hlc = current_node().clock.now().encode()
            instance.updated_at = utcnow()
        instance.save()
        entity = type(instance).audit_entity
        record_mutation(
            actor,
            action or f"{entity}.update",
            entity,
            _key(instance),
            before,
            instance.audit_snapshot(),
        )
        _enqueue(instance, "update", base)
    return instance


def _shared_base(
    instance: BaseModel, snapshot: dict[str, Any], changed: dict[str, Any]
) -> dict[str, Any] | None:
    """For a shared record, what the changed fields held before this edit (as the outbox
    spells values) and the last head-office change applied here: head office merges on them.
    Other tables need no base: one branch owns each of their rows."""
    if not isinstance(instance, ReplicatedModel) or instance.ownership != "shared":
        return None
    return {
        "hq_seq": _applied_from_head_office(),  # what the branch knew of others' edits
        "values": {name: snapshot[name] for name in changed if name in snapshot},
    }


def soft_delete(instance: ReplicatedModel, actor: Actor) -> ReplicatedModel:
    with write_transaction():
        before = instance.audit_snapshot()
        instance.deleted_at = utcnow()
        instance.version += 1
        instance.hlc = current_node().clock.now().encode()
        instance.updated_at = instance.deleted_at
        instance.save()
        entity = type(instance).audit_entity
        record_mutation(
            actor, f"{entity}.delete", entity, instance.id, before, instance.audit_snapshot()
        )
        _enqueue(instance, "delete")
    return instance


def _key(instance: BaseModel) -> str:
    return str(instance._pk)


def _no_head_office() -> int:
    return 0


# How far this branch has applied head office's changes; replication sets it (the core does
# not know replication's tables).
_applied_from_head_office: Callable[[], int] = _no_head_office


def track_head_office(applied_seq: Callable[[], int]) -> None:
    global _applied_from_head_office
    _applied_from_head_office = applied_seq


# Called after a transaction that wrote outbox rows commits: replication pushes at once.
_outbox_listeners: list[Callable[[], None]] = []


def on_outbox_commit(listener: Callable[[], None]) -> None:
    if listener not in _outbox_listeners:
        _outbox_listeners.append(listener)


def off_outbox_commit(listener: Callable[[], None]) -> None:
    if listener in _outbox_listeners:
        _outbox_listeners.remove(listener)


def _notify_outbox() -> None:
    for listener in list(_outbox_listeners):
        listener()


def _enqueue(instance: BaseModel, operation: str, base: dict[str, Any] | None = None) -> None:
    if not isinstance(instance, ReplicatedModel):
        return
    require_transaction("An outbox row")
    if _outbox_listeners:
        after_commit(_notify_outbox)
    entry = OutboxEntry(
        table_name=instance._meta.table_name,
        operation=operation,
        row_key=instance.id,
        row_json=canonical_json(instance.snapshot()),
        hlc=instance.hlc,
        schema_version=type(instance).schema_version,
        created_at=format_utc(utcnow()),
        base_json=None if base is None else canonical_json(base),
    )
    insert_row(entry)
