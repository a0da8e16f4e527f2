"""Tests for the hybrid logical clock: ordering must survive skewed and backwards wall clocks."""

from __future__ import annotations

import random
import threading
from itertools import pairwise

import pytest

from physioez.core.kernel.clock import (
    COUNTER_LIMIT,
    ClockDriftError,
    HlcTimestamp,
    HybridLogicalClock,
)

T0 = 1_700_000_000_000
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS


class FakeClock:
    """A settable wall clock, so skew and backward steps are deterministic."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


# --- now() ---------------------------------------------------------------------------------------


def test_now_follows_physical_time_and_resets_counter() -> None:
    wall = FakeClock(T0)
    hlc = HybridLogicalClock("a", wall)
    assert hlc.now() == HlcTimestamp(T0, 0, "a")
    assert hlc.now() == HlcTimestamp(T0, 1, "a")
    assert hlc.now() == HlcTimestamp(T0, 2, "a")
    wall.ms = T0 + 5
    assert hlc.now() == HlcTimestamp(T0 + 5, 0, "a")


def test_now_monotonic_when_wall_clock_steps_back_two_hours() -> None:
    wall = FakeClock(T0)
    hlc = HybridLogicalClock("a", wall)
    before = [hlc.now() for _ in range(3)]
    wall.ms = T0 - 2 * HOUR_MS
    after = [hlc.now() for _ in range(50)]
    stamps = before + after
    assert all(x < y for x, y in pairwise(stamps))
    # The logical wall time holds at the old value instead of following the clock back.
    assert {s.wall_ms for s in after} == {T0}
    assert after[-1].counter == 52
    # Once physical time passes the held value again, the HLC re-attaches to it.
    wall.ms = T0 + 1
    assert hlc.now() == HlcTimestamp(T0 + 1, 0, "a")


def test_counter_overflow_advances_wall_instead_of_wrapping() -> None:
    hlc = HybridLogicalClock("a", FakeClock(T0))
    stamps = [hlc.now() for _ in range(COUNTER_LIMIT + 2)]
    assert stamps[COUNTER_LIMIT - 1] == HlcTimestamp(T0, COUNTER_LIMIT - 1, "a")
    assert stamps[COUNTER_LIMIT] == HlcTimestamp(T0 + 1, 0, "a")
    assert stamps[COUNTER_LIMIT + 1] == HlcTimestamp(T0 + 1, 1, "a")
    assert all(x < y for x, y in pairwise(stamps))


def test_update_counter_overflow_advances_wall() -> None:
    hlc = HybridLogicalClock("b", FakeClock(T0))
    got = hlc.update(HlcTimestamp(T0, COUNTER_LIMIT - 1, "a"))
    assert got == HlcTimestamp(T0 + 1, 0, "b")


# --- update() ------------------------------------------------------------------------------------


def test_send_to_node_two_hours_behind_orders_after_sender() -> None:
    wall_a = FakeClock(T0)
    wall_b = FakeClock(T0 - 2 * HOUR_MS)
    a = HybridLogicalClock("a", wall_a)
    b = HybridLogicalClock("b", wall_b)
    b_before = b.now()
    sent = a.now()
    assert b_before < sent  # B's own history is behind A's
    received = b.update(sent)
    assert received > sent
    assert received == HlcTimestamp(T0, 1, "b")
    later = [b.now() for _ in range(20)]
    wall_b.ms += 1000  # B's clock moves on, but is still far behind
    later += [b.now() for _ in range(20)]
    assert all(s > sent for s in later)
    assert all(x < y for x, y in pairwise(later))


def test_causality_chain_a_to_b_to_a() -> None:
    wall_a = FakeClock(T0)
    wall_b = FakeClock(T0 - 2 * HOUR_MS)
    a = HybridLogicalClock("a", wall_a)
    b = HybridLogicalClock("b", wall_b)
    a1 = a.now()
    b1 = b.update(a1)
    b2 = b.now()
    a2 = a.update(b2)
    a3 = a.now()
    assert a1 < b1 < b2 < a2 < a3
    assert (a2.wall_ms, a2.counter) == (T0, b2.counter + 1)


def test_causality_chain_when_receiver_clock_is_ahead() -> None:
    a = HybridLogicalClock("a", FakeClock(T0))
    b = HybridLogicalClock("b", FakeClock(T0 + 500))
    a1 = a.now()
    b1 = b.update(a1)
    # Physical time dominates: stay on it with a fresh counter.
    assert b1 == HlcTimestamp(T0 + 500, 0, "b")
    a2 = a.update(b1)
    assert a2 == HlcTimestamp(T0 + 500, 1, "a")
    assert a1 < b1 < a2


@pytest.mark.parametrize(
    ("local_counter", "remote", "expected"),
    [
        # all three wall times equal: max of both counters + 1
        (3, HlcTimestamp(T0, 7, "r"), (T0, 8)),
        (9, HlcTimestamp(T0, 7, "r"), (T0, 10)),
        # local ahead of remote and physical: local counter + 1
        (3, HlcTimestamp(T0 - 10, 70, "r"), (T0, 4)),
        # remote ahead of local and physical: remote counter + 1
        (3, HlcTimestamp(T0 + 10, 70, "r"), (T0 + 10, 71)),
    ],
)
def test_update_merge_rules(
    local_counter: int, remote: HlcTimestamp, expected: tuple[int, int]
) -> None:
    wall = FakeClock(T0)
    hlc = HybridLogicalClock("l", wall)
    for _ in range(local_counter + 1):
        hlc.now()
    assert hlc.peek() == HlcTimestamp(T0, local_counter, "l")
    wall.ms = T0 - 1000  # physical time is behind everything
    got = hlc.update(remote)
    assert (got.wall_ms, got.counter, got.node) == (*expected, "l")


# --- drift --------------------------------------------------------------------------------------


def test_drift_rejected_without_advancing_clock() -> None:
    hlc = HybridLogicalClock("b", FakeClock(T0))
    last = hlc.now()
    remote = HlcTimestamp(T0 + DAY_MS + 1, 0, "a")
    with pytest.raises(ClockDriftError) as info:
        hlc.update(remote)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert str(T0 + DAY_MS + 1) in message
    assert str(T0) in message
    assert (info.value.remote_ms, info.value.physical_ms) == (T0 + DAY_MS + 1, T0)
    assert hlc.peek() == last
    assert hlc.now() == HlcTimestamp(T0, 1, "b")


def test_drift_exactly_at_limit_is_accepted() -> None:
    hlc = HybridLogicalClock("b", FakeClock(T0), max_drift_ms=1000)
    assert hlc.update(HlcTimestamp(T0 + 1000, 4, "a")) == HlcTimestamp(T0 + 1000, 5, "b")
    with pytest.raises(ClockDriftError):
        hlc.update(HlcTimestamp(T0 + 2001, 0, "a"))


def test_remote_far_behind_is_not_drift() -> None:
    hlc = HybridLogicalClock("b", FakeClock(T0), max_drift_ms=1000)
    assert hlc.update(HlcTimestamp(T0 - 10 * DAY_MS, 3, "a")) == HlcTimestamp(T0, 0, "b")


# --- peek / construction -------------------------------------------------------------------------


def test_peek_does_not_advance() -> None:
    hlc = HybridLogicalClock("a", FakeClock(T0))
    assert hlc.peek() is None
    issued = hlc.now()
    assert hlc.peek() == issued
    assert hlc.peek() == issued
    assert hlc.now() == HlcTimestamp(T0, 1, "a")
    received = hlc.update(HlcTimestamp(T0 + 3, 0, "z"))
    assert hlc.peek() == received


@pytest.mark.parametrize("node", ["", "a-b", "-", "a b", "a\n", "\t"])
def test_bad_node_rejected(node: str) -> None:
    with pytest.raises(ValueError):
        HybridLogicalClock(node)


def test_negative_max_drift_rejected() -> None:
    with pytest.raises(ValueError):
        HybridLogicalClock("a", max_drift_ms=-1)


def test_default_wall_clock_is_unix_ms() -> None:
    import time

    before = time.time_ns() // 1_000_000
    stamp = HybridLogicalClock("a").now()
    after = time.time_ns() // 1_000_000
    assert before <= stamp.wall_ms <= after


# --- encode / parse ------------------------------------------------------------------------------


def test_encode_format() -> None:
    assert HlcTimestamp(T0, 42, "n1").encode() == "1700000000000-00042-n1"
    assert HlcTimestamp(0, 0, "x").encode() == "0000000000000-00000-x"
    assert HlcTimestamp(T0, COUNTER_LIMIT - 1, "x").encode() == "1700000000000-65535-x"


def _random_stamps(seed: int, n: int) -> list[HlcTimestamp]:
    rng = random.Random(seed)
    nodes = ["a", "ab", "b", "node9", "node10", "Z", "z", "n\u00e9", "a_b.c:1"]
    walls = [0, 1, 9, 10, T0, T0 + 1, 10**13 - 1]
    counters = [0, 1, 9, 10, 99, 100, COUNTER_LIMIT - 1]
    stamps = []
    for _ in range(n):
        # Mix boundary values (where digit-count bugs show) with uniform random ones.
        wall = rng.choice(walls) if rng.random() < 0.3 else rng.randrange(10**13)
        counter = rng.choice(counters) if rng.random() < 0.3 else rng.randrange(COUNTER_LIMIT)
        stamps.append(HlcTimestamp(wall, counter, rng.choice(nodes)))
    return stamps


@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_encode_parse_round_trip(seed: int) -> None:
    for stamp in _random_stamps(seed, 400):
        encoded = stamp.encode()
        assert HlcTimestamp.parse(encoded) == stamp
        assert encoded.startswith(f"{stamp.wall_ms:013d}-")


@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_lexicographic_order_equals_tuple_order(seed: int) -> None:
    stamps = _random_stamps(seed, 400)
    by_tuple = [s.encode() for s in sorted(stamps)]
    by_text = sorted(s.encode() for s in stamps)
    assert by_tuple == by_text
    rng = random.Random(seed + 1)
    for _ in range(2000):
        x, y = rng.choice(stamps), rng.choice(stamps)
        assert (x < y) == (x.encode() < y.encode())
        assert (x == y) == (x.encode() == y.encode())


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "170000000000-00042-n1",  # 12-digit wall
        "17000000000000-00042-n1",  # 14-digit wall
        "1700000000000-0042-n1",  # 4-digit counter
        "1700000000000-00042-",  # empty node
        "1700000000000-00042",  # missing node
        "1700000000000-00042-a-b",  # node with separator
        "1700000000000-65536-n1",  # counter beyond limit
        " 1700000000000-00042-n1",
        "1700000000000-00042-n1\n",
        "1700000000000-0004a-n1",
        "-700000000000-00042-n1",
        "\uff11700000000000-00042-n1",  # fullwidth digit
    ],
)
def test_parse_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid HLC timestamp"):
        HlcTimestamp.parse(bad)


def test_parse_rejects_non_string() -> None:
    with pytest.raises(ValueError):
        HlcTimestamp.parse(b"1700000000000-00042-n1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("wall", "counter", "node"),
    [(-1, 0, "a"), (10**13, 0, "a"), (0, -1, "a"), (0, COUNTER_LIMIT, "a"), (0, 0, "a-b")],
)
def test_timestamp_rejects_out_of_range_fields(wall: int, counter: int, node: str) -> None:
    with pytest.raises(ValueError):
        HlcTimestamp(wall, counter, node)


def test_timestamp_rejects_non_int_fields() -> None:
    with pytest.raises(TypeError):
        HlcTimestamp(True, 0, "a")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        HlcTimestamp(0, 1.0, "a")  # type: ignore[arg-type]


# --- threads -------------------------------------------------------------------------------------


def test_thread_safety_unique_and_sortable() -> None:
    hlc = HybridLogicalClock("t")
    n_threads, per_thread = 8, 2000
    results: list[list[HlcTimestamp]] = [[] for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads)

    def work(i: int) -> None:
        barrier.wait()
        out = results[i]
        for _ in range(per_thread):
            out.append(hlc.now())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    every = [s for chunk in results for s in chunk]
    assert len(every) == n_threads * per_thread
    assert len(set(every)) == len(every)
    assert len({s.encode() for s in every}) == len(every)
    for chunk in results:
        assert all(x < y for x, y in pairwise(chunk))
    assert [s.encode() for s in sorted(every)] == sorted(s.encode() for s in every)
    assert hlc.peek() == max(every)
