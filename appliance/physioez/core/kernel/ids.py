"""Time-ordered identifiers (UUIDv7, RFC 9562).

Primary keys are UUIDv7 so that rows inserted later sort later: B-tree indexes stay append-mostly,
and ids can be merged from several appliances without a central sequence. Within one process the
ids must be *strictly* increasing, even if many are made in one millisecond or the wall clock is
stepped backwards by NTP or an operator, because callers use id order as creation order.

Layout (most significant first)::

    unix_ts_ms:48 | ver:4 (=7) | rand_a:12 | var:2 (=0b10) | rand_b:62

The 12 bits of ``rand_a`` plus the top 30 bits of ``rand_b`` hold a 42-bit counter (RFC 9562
section 6.2, fixed-length dedicated counter, seeded randomly each millisecond); the low 32 bits of
``rand_b`` are fresh random bits on every call, so ids stay hard to guess.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable

__all__ = [
    "Uuid7Generator",
    "is_uuid7",
    "uuid7",
    "uuid7_str",
    "uuid7_time_ms",
]

_TS_MAX = (1 << 48) - 1
_COUNTER_BITS = 42
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
# The seed leaves the top counter bit clear so that at least 2**41 ids fit into one millisecond
# before the overflow path (advance the timestamp) is needed.
_SEED_BITS = _COUNTER_BITS - 1
_RAND_B_COUNTER_BITS = 30
_TAIL_BITS = 32

_UUID7_RE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    re.IGNORECASE | re.ASCII,
)


def _unix_ms() -> int:
    # time_ns avoids the float rounding of time.time() near millisecond boundaries.
    return time.time_ns() // 1_000_000


class Uuid7Generator:
    """Holds the last timestamp and counter, so monotonicity survives clock steps.

    The clock and randomness are injectable so tests can replay a clock that jumps backwards
    without sleeping or patching ``time``.
    """

    def __init__(
        self,
        clock_ms: Callable[[], int] = _unix_ms,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._clock_ms = clock_ms
        self._random_bytes = random_bytes
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def _rand(self, bits: int) -> int:
        nbytes = (bits + 7) // 8
        return int.from_bytes(self._random_bytes(nbytes), "big") & ((1 << bits) - 1)

    def new(self, now_ms: int | None = None) -> uuid.UUID:
        """Return the next id; ``now_ms`` overrides the clock (e.g. for back-filled records).

        An overriding ``now_ms`` earlier than the last id still yields a larger id, because
        strict ordering within the process matters more than the embedded time being exact.
        """
        if now_ms is None:
            now_ms = self._clock_ms()
        if isinstance(now_ms, bool) or not isinstance(now_ms, int):
            raise TypeError(f"now_ms must be an int, got {type(now_ms).__name__}")
        if not 0 <= now_ms <= _TS_MAX:
            raise ValueError(f"now_ms {now_ms} is outside the 48-bit UUIDv7 range")

        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._counter = self._rand(_SEED_BITS)
            elif self._counter < _COUNTER_MAX:
                # Same millisecond, or the clock went backwards: keep the old timestamp.
                self._counter += 1
            else:
                # Counter exhausted: borrow the next millisecond rather than wrap around.
                if self._last_ms >= _TS_MAX:
                    raise OverflowError("UUIDv7 timestamp space exhausted")
                self._last_ms += 1
                self._counter = self._rand(_SEED_BITS)
            ts, counter = self._last_ms, self._counter

        tail = self._rand(_TAIL_BITS)
        rand_a = counter >> _RAND_B_COUNTER_BITS
        rand_b = ((counter & ((1 << _RAND_B_COUNTER_BITS) - 1)) << _TAIL_BITS) | tail
        value = (ts << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
        return uuid.UUID(int=value)


_default = Uuid7Generator()


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """Return a process-wide strictly increasing UUIDv7 (see ``Uuid7Generator.new``)."""
    return _default.new(now_ms)


def uuid7_str() -> str:
    """Return a new UUIDv7 as the canonical lowercase 36-char string used in storage and URLs."""
    return str(_default.new())


def uuid7_time_ms(u: uuid.UUID | str) -> int:
    """Return the unix-ms timestamp embedded in a UUIDv7.

    Rejects other versions because their leading 48 bits are not a time, and silently returning
    garbage would corrupt any ordering or retention logic built on it.
    """
    if isinstance(u, str):
        u = uuid.UUID(u)
    if u.version != 7 or u.variant != uuid.RFC_4122:
        raise ValueError(f"{u} is not a UUIDv7")
    return u.int >> 80


def is_uuid7(value: str) -> bool:
    """True only for the hyphenated 36-char form with version 7 and the RFC variant.

    Braced, URN and unhyphenated spellings are refused so that one id has one textual form.
    """
    return isinstance(value, str) and _UUID7_RE.fullmatch(value) is not None
