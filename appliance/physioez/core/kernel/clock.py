"""Hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014).

Appliances sync records with each other and their wall clocks disagree; a plain timestamp would
let a record edited later on a slow machine lose to an older edit. An HLC stamp stays close to
wall time (useful to humans and for retention) yet never goes backwards and always exceeds every
stamp this node has seen, so "happened-before" implies "sorts before".
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "COUNTER_LIMIT",
    "ClockDriftError",
    "HlcTimestamp",
    "HybridLogicalClock",
]

# More than 2**16 events in one millisecond means something is wrong; rather than wrap (which
# would break ordering) the clock borrows the next millisecond.
COUNTER_LIMIT = 1 << 16
_WALL_DIGITS = 13
_COUNTER_DIGITS = 5
_WALL_MAX = 10**_WALL_DIGITS - 1
DEFAULT_MAX_DRIFT_MS = 24 * 3600 * 1000

_ENCODED_RE = re.compile(r"([0-9]{13})-([0-9]{5})-([^-]+)")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _check_node(node: object) -> str:
    # "-" is the field separator of the encoded form; whitespace would let a stray newline or
    # padding survive a parse; an empty node would make stamps of different machines collide.
    if not isinstance(node, str):
        raise TypeError(f"node must be a str, got {type(node).__name__}")
    if not node:
        raise ValueError("node must not be empty")
    if "-" in node:
        raise ValueError(f"node {node!r} must not contain '-'")
    if any(ch.isspace() or not ch.isprintable() for ch in node):
        raise ValueError(f"node {node!r} must not contain whitespace or control characters")
    return node


class ClockDriftError(ValueError):
    """A peer's clock is implausibly far ahead; adopting it would drag ours into the future."""

    def __init__(self, remote_ms: int, physical_ms: int, max_drift_ms: int) -> None:
        self.remote_ms = remote_ms
        self.physical_ms = physical_ms
        self.max_drift_ms = max_drift_ms
        super().__init__(
            f"remote wall time {remote_ms} ms is {remote_ms - physical_ms} ms ahead of local "
            f"physical time {physical_ms} ms (limit {max_drift_ms} ms)"
        )


@dataclass(frozen=True, order=True)
class HlcTimestamp:
    """One HLC stamp; field order is the sort order, with ``node`` breaking ties."""

    wall_ms: int
    counter: int
    node: str

    def __post_init__(self) -> None:
        # Validate here so encode() is guaranteed fixed-width and therefore sorts correctly.
        for name in ("wall_ms", "counter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if not 0 <= self.wall_ms <= _WALL_MAX:
            raise ValueError(f"wall_ms {self.wall_ms} is outside 0..{_WALL_MAX}")
        if not 0 <= self.counter < COUNTER_LIMIT:
            raise ValueError(f"counter {self.counter} is outside 0..{COUNTER_LIMIT - 1}")
        _check_node(self.node)

    def encode(self) -> str:
        """Fixed-width text whose string order equals tuple order, for DB columns and sync."""
        return f"{self.wall_ms:0{_WALL_DIGITS}d}-{self.counter:0{_COUNTER_DIGITS}d}-{self.node}"

    @classmethod
    def parse(cls, s: str) -> HlcTimestamp:
        """Inverse of ``encode``; strict, because a sloppy parse would corrupt ordering."""
        if not isinstance(s, str):
            raise ValueError(f"HLC timestamp must be a str, got {type(s).__name__}")
        m = _ENCODED_RE.fullmatch(s)
        if m is None:
            raise ValueError(
                f"invalid HLC timestamp {s!r}: expected "
                f"'<{_WALL_DIGITS}-digit wall ms>-<{_COUNTER_DIGITS}-digit counter>-<node>'"
            )
        try:
            return cls(int(m.group(1)), int(m.group(2)), m.group(3))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid HLC timestamp {s!r}: {exc}") from exc


class HybridLogicalClock:
    """Thread-safe HLC for one node.

    ``wall_clock_ms`` is injectable so tests can simulate skewed or backwards-stepping clocks.
    """

    def __init__(
        self,
        node: str,
        wall_clock_ms: Callable[[], int] = _wall_ms,
        max_drift_ms: int = DEFAULT_MAX_DRIFT_MS,
    ) -> None:
        self._node = _check_node(node)
        if max_drift_ms < 0:
            raise ValueError(f"max_drift_ms must be >= 0, got {max_drift_ms}")
        self._wall_clock_ms = wall_clock_ms
        self._max_drift_ms = max_drift_ms
        self._lock = threading.Lock()
        self._wall = 0
        self._counter = 0
        self._last: HlcTimestamp | None = None

    @property
    def node(self) -> str:
        return self._node

    def _issue(self, wall: int, counter: int) -> HlcTimestamp:
        if counter >= COUNTER_LIMIT:
            wall, counter = wall + 1, 0
        # Build the stamp first: if it is invalid (e.g. a broken wall clock) state stays intact.
        stamp = HlcTimestamp(wall, counter, self._node)
        self._wall, self._counter, self._last = wall, counter, stamp
        return stamp

    def now(self) -> HlcTimestamp:
        """Stamp a local or send event; never returns a stamp <= any previously returned one."""
        with self._lock:
            pt = self._wall_clock_ms()
            wall = max(self._wall, pt)
            counter = self._counter + 1 if wall == self._wall else 0
            return self._issue(wall, counter)

    def update(self, remote: HlcTimestamp) -> HlcTimestamp:
        """Stamp a receive event so that the result exceeds both ``remote`` and our own history.

        Raises ``ClockDriftError`` (leaving the clock untouched) when the remote wall time is
        more than ``max_drift_ms`` ahead of our physical time: one peer with a broken clock must
        not be able to push every node into the far future.
        """
        with self._lock:
            pt = self._wall_clock_ms()
            if remote.wall_ms - pt > self._max_drift_ms:
                raise ClockDriftError(remote.wall_ms, pt, self._max_drift_ms)
            local_wall, local_counter = self._wall, self._counter
            wall = max(local_wall, remote.wall_ms, pt)
            if wall == local_wall and wall == remote.wall_ms:
                counter = max(local_counter, remote.counter) + 1
            elif wall == local_wall:
                counter = local_counter + 1
            elif wall == remote.wall_ms:
                counter = remote.counter + 1
            else:
                counter = 0
            return self._issue(wall, counter)

    def peek(self) -> HlcTimestamp | None:
        """Last stamp issued (None before the first), for diagnostics without advancing."""
        with self._lock:
            return self._last
