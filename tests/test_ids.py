"""Tests for UUIDv7: bit layout per RFC 9562 and strict in-process ordering."""

from __future__ import annotations

import threading
import time
import uuid
from itertools import pairwise

import pytest

from physioez.core.kernel import ids
from physioez.core.kernel.ids import Uuid7Generator, is_uuid7, uuid7, uuid7_str, uuid7_time_ms

T0 = 1_700_000_000_000
HOUR_MS = 3600 * 1000


class FakeClock:
    """A settable clock so same-millisecond bursts and backward steps are deterministic."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def zeros(n: int) -> bytes:
    return b"\x00" * n


def _strictly_increasing(values: list[uuid.UUID]) -> bool:
    return all(x.int < y.int for x, y in pairwise(values))


# --- layout --------------------------------------------------------------------------------------


def test_version_and_variant_bits() -> None:
    for _ in range(200):
        u = uuid7()
        assert u.version == 7
        assert u.variant == uuid.RFC_4122
        assert (u.int >> 76) & 0xF == 0x7
        assert (u.int >> 62) & 0b11 == 0b10
        text = str(u)
        assert text[14] == "7"
        assert text[19] in "89ab"


def test_exact_layout_with_zero_randomness() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0), random_bytes=zeros)
    first = gen.new()
    assert first.int == (T0 << 80) | (0x7 << 76) | (0b10 << 62)
    assert str(first).startswith(f"{T0:012x}"[:8] + "-" + f"{T0:012x}"[8:] + "-7000-8")
    # Same millisecond: the counter's low bit sits just above the 32 random tail bits.
    second = gen.new()
    assert second.int - first.int == 1 << 32


def test_counter_carries_from_rand_b_into_rand_a() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0), random_bytes=zeros)
    gen.new()
    gen._counter = (1 << 30) - 1
    u = gen.new()
    rand_a = (u.int >> 64) & 0xFFF
    rand_b = u.int & ((1 << 62) - 1)
    assert rand_a == 1
    assert rand_b == 0
    assert u.version == 7 and u.variant == uuid.RFC_4122


def test_random_tail_changes_between_ids() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0))
    tails = {gen.new().int & 0xFFFFFFFF for _ in range(200)}
    # 200 draws from 2**32 values colliding down to <150 distinct would mean no real randomness.
    assert len(tails) > 150


def test_independent_generators_do_not_collide_in_same_ms() -> None:
    made = {Uuid7Generator(clock_ms=FakeClock(T0)).new() for _ in range(2000)}
    assert len(made) == 2000


# --- time ----------------------------------------------------------------------------------------


def test_time_extraction_matches_clock() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0 + 123))
    u = gen.new()
    assert uuid7_time_ms(u) == T0 + 123
    assert uuid7_time_ms(str(u)) == T0 + 123


def test_explicit_now_ms() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(0))
    assert uuid7_time_ms(gen.new(now_ms=T0 + 7)) == T0 + 7


def test_default_generator_uses_wall_clock() -> None:
    before = time.time_ns() // 1_000_000
    u = uuid7()
    after = time.time_ns() // 1_000_000
    # The default generator may hold a slightly later timestamp after a burst, never an earlier.
    assert before <= uuid7_time_ms(u) <= after + 1000


def test_time_extraction_rejects_other_versions() -> None:
    with pytest.raises(ValueError, match="not a UUIDv7"):
        uuid7_time_ms(uuid.uuid4())
    with pytest.raises(ValueError):
        uuid7_time_ms(str(uuid.uuid1()))


@pytest.mark.parametrize("bad", [-1, 1 << 48])
def test_now_ms_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        Uuid7Generator().new(now_ms=bad)


@pytest.mark.parametrize("bad", [1.5, True, "1700000000000"])
def test_now_ms_wrong_type(bad: object) -> None:
    with pytest.raises(TypeError):
        Uuid7Generator().new(now_ms=bad)  # type: ignore[arg-type]


def test_max_timestamp_accepted() -> None:
    u = Uuid7Generator().new(now_ms=(1 << 48) - 1)
    assert uuid7_time_ms(u) == (1 << 48) - 1


# --- monotonicity --------------------------------------------------------------------------------


def test_many_ids_in_one_ms_strictly_increase() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0))
    made = [gen.new() for _ in range(10_000)]
    assert _strictly_increasing(made)
    assert [str(u) for u in made] == sorted(str(u) for u in made)
    assert {uuid7_time_ms(u) for u in made} == {T0}


def test_monotonic_when_clock_steps_back_two_hours() -> None:
    clock = FakeClock(T0)
    gen = Uuid7Generator(clock_ms=clock)
    before = [gen.new() for _ in range(5)]
    clock.ms = T0 - 2 * HOUR_MS
    after = [gen.new() for _ in range(500)]
    made = before + after
    assert _strictly_increasing(made)
    assert {uuid7_time_ms(u) for u in after} == {T0}
    # When the clock passes the held timestamp again, ids pick up real time once more.
    clock.ms = T0 + 1
    resumed = gen.new()
    assert resumed.int > made[-1].int
    assert uuid7_time_ms(resumed) == T0 + 1


def test_explicit_earlier_now_ms_still_increases() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0))
    first = gen.new()
    second = gen.new(now_ms=T0 - 5000)
    assert second.int > first.int


def test_counter_overflow_advances_timestamp() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0))
    first = gen.new()
    gen._counter = ids._COUNTER_MAX
    second = gen.new()
    assert uuid7_time_ms(second) == T0 + 1
    assert second.int > first.int
    third = gen.new()
    assert uuid7_time_ms(third) == T0 + 1
    assert third.int > second.int


def test_counter_seed_leaves_headroom() -> None:
    gen = Uuid7Generator(clock_ms=FakeClock(T0), random_bytes=lambda n: b"\xff" * n)
    gen.new()
    assert gen._counter < 1 << 41
    # Even the largest seed leaves room for plenty of ids before the timestamp must move.
    made = [gen.new() for _ in range(1000)]
    assert {uuid7_time_ms(u) for u in made} == {T0}


def test_thread_safety_unique_and_ordered() -> None:
    gen = Uuid7Generator()
    n_threads, per_thread = 8, 2000
    results: list[list[uuid.UUID]] = [[] for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads)

    def work(i: int) -> None:
        barrier.wait()
        out = results[i]
        for _ in range(per_thread):
            out.append(gen.new())

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    every = [u for chunk in results for u in chunk]
    assert len(set(every)) == n_threads * per_thread
    for chunk in results:
        assert _strictly_increasing(chunk)
    assert [str(u) for u in sorted(every, key=lambda u: u.int)] == sorted(str(u) for u in every)


# --- text form -----------------------------------------------------------------------------------


def test_uuid7_str_is_canonical() -> None:
    made = [uuid7_str() for _ in range(100)]
    for s in made:
        assert len(s) == 36
        assert s == s.lower()
        assert str(uuid.UUID(s)) == s
        assert is_uuid7(s)
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_is_uuid7_accepts_generated_and_uppercase() -> None:
    s = str(Uuid7Generator(clock_ms=FakeClock(T0)).new())
    assert is_uuid7(s)
    assert is_uuid7(s.upper())
    assert is_uuid7("01890a5d-ac96-774b-bcce-b302099a8057")  # RFC 9562 appendix A.6 example


@pytest.mark.parametrize(
    "bad",
    [
        "",
        str(uuid.uuid4()),
        str(uuid.uuid1()),
        "01890a5d-ac96-674b-bcce-b302099a8057",  # version 6
        "01890a5d-ac96-774b-ccce-b302099a8057",  # variant 110
        "01890a5d-ac96-774b-7cce-b302099a8057",  # variant 0
        "01890a5dac96774bbcceb302099a8057",  # no hyphens
        "{01890a5d-ac96-774b-bcce-b302099a8057}",
        "urn:uuid:01890a5d-ac96-774b-bcce-b302099a8057",
        "01890a5d-ac96-774b-bcce-b302099a805",  # 35 chars
        "01890a5d-ac96-774b-bcce-b302099a8057\n",
        " 01890a5d-ac96-774b-bcce-b302099a8057",
        "01890a5g-ac96-774b-bcce-b302099a8057",
        "01890a5d_ac96_774b_bcce_b302099a8057",
    ],
)
def test_is_uuid7_rejects(bad: str) -> None:
    assert is_uuid7(bad) is False


@pytest.mark.parametrize(
    "bad",
    [None, 123, b"01890a5d-ac96-774b-bcce-b302099a8057", uuid.UUID(int=0)],
)
def test_is_uuid7_rejects_non_strings(bad: object) -> None:
    assert is_uuid7(bad) is False  # type: ignore[arg-type]
