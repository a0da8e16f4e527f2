"""Replication's domain events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from physioez.core.kernel.events import DomainEvent


@dataclass(frozen=True)
class ReplicationChanged(DomainEvent):
    """Connected, disconnected or acknowledged: the replication page redraws itself."""

    name: ClassVar[str] = "replication.changed"
