"""This appliance's identity in the chain: its branch code and its hybrid logical clock."""

from __future__ import annotations

from dataclasses import dataclass

from physioez.core.kernel.clock import HybridLogicalClock


@dataclass
class Node:
    branch_id: str
    clock: HybridLogicalClock
    # The branch's IANA zone, for words a person reads ("arrived for 10:00").
    timezone: str = "UTC"


_current: Node | None = None


def configure_node(branch_id: str, timezone: str = "UTC") -> Node:
    global _current
    if _current is None or _current.branch_id != branch_id:
        _current = Node(branch_id, HybridLogicalClock(branch_id))
    _current.timezone = timezone
    return _current


def current_node() -> Node:
    if _current is None:
        raise RuntimeError("configure_node() must run before any replicated write")
    return _current
