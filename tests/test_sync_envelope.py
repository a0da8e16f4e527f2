"""Batches on the wire: sealed so the broker sees nothing, signed so head office knows who sent
them; every forgery, alteration or misdirection is refused with its reason."""

from __future__ import annotations

import resource
import zlib

import pytest
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey

from physioez.sync.services import envelope
from physioez.sync.services.envelope import Batch, Rejected

HQ = PrivateKey.generate()
BR01 = SigningKey.generate()
BR02 = SigningKey.generate()
KEYS = {"BR01": BR01.verify_key, "BR02": BR02.verify_key}


def batch(branch: str = "BR01", first: int = 1, count: int = 3) -> Batch:
    rows = [
        {
            "seq": seq,
            "table": "patient",
            "op": "insert",
            "key": f"p{seq}",
            "hlc": f"{seq:015d}-0000-{branch}",
            "row": {"first_name": "Canary Kumari", "id": f"p{seq}"},
            "schema_version": 1,
        }
        for seq in range(first, first + count)
    ]
    return Batch(branch, first, first + count - 1, envelope.SCHEMA_VERSION, rows)


def test_a_sealed_batch_opens_at_head_office_and_hides_its_rows():
    sent = batch()
    payload = envelope.seal(sent, BR01, HQ.public_key)
    assert b"Canary" not in payload and b"patient" not in payload
    opened = envelope.open_batch(payload, HQ, KEYS, "BR01")
    assert opened == sent


def test_tampered_batch_is_refused():
    payload = bytearray(envelope.seal(batch(), BR01, HQ.public_key))
    payload[60] ^= 0x01
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(bytes(payload), HQ, KEYS, "BR01")
    assert refused.value.reason == "unsealable"


def test_a_branch_cannot_sign_for_another():
    forged = envelope.seal(batch(branch="BR02"), BR01, HQ.public_key)
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(forged, HQ, KEYS, "BR02")
    assert refused.value.reason == "bad_signature"


def test_a_batch_on_another_branchs_topic_is_refused():
    """The topic's branch key checks the signature, so another branch's batch fails there."""
    payload = envelope.seal(batch(), BR01, HQ.public_key)
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(payload, HQ, KEYS, "BR02")
    assert refused.value.reason == "bad_signature"


def test_a_batch_naming_another_branch_than_its_signer_is_refused():
    payload = envelope.seal(batch(branch="BR02"), BR01, HQ.public_key)
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(payload, HQ, KEYS, "BR01")
    assert refused.value.reason == "wrong_topic"


def test_unknown_branch_and_other_head_office_are_refused():
    stranger = SigningKey.generate()
    with pytest.raises(Rejected) as unknown:
        envelope.open_batch(
            envelope.seal(batch(branch="BR09"), stranger, HQ.public_key), HQ, KEYS, "BR09"
        )
    assert unknown.value.reason == "unknown_branch"
    elsewhere = PrivateKey.generate()
    with pytest.raises(Rejected) as sealed_elsewhere:
        envelope.open_batch(envelope.seal(batch(), BR01, elsewhere.public_key), HQ, KEYS, "BR01")
    assert sealed_elsewhere.value.reason == "unsealable"


def test_rows_must_cover_the_announced_range():
    holey = batch(count=3)
    holey = Batch(holey.branch, 1, 4, holey.schema_version, holey.rows)
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(envelope.seal(holey, BR01, HQ.public_key), HQ, KEYS, "BR01")
    assert refused.value.reason == "malformed"


BOMB_BYTES = 1 << 30  # 1 GiB of zeros: about 1 MiB once compressed
CAP = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A compressed body that inflates to 1 GiB, made a MiB at a time."""
    packer = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(BOMB_BYTES // len(zeros))]
    return b"".join([*parts, packer.flush()])


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@pytest.fixture
def inflations(monkeypatch) -> list[int]:
    """The real inflate, counted."""
    calls = []
    real = envelope.inflate

    def counted(compressed, max_bytes):
        calls.append(len(compressed))
        return real(compressed, max_bytes)

    monkeypatch.setattr(envelope, "inflate", counted)
    return calls


@pytest.mark.parametrize("signer", [None, BR02, SigningKey.generate()])
def test_a_forged_bomb_is_refused_before_anything_is_inflated(bomb, inflations, signer):
    """Unsigned, signed by another branch or by a stranger: refused on the signature."""
    signed = b"\x00" * 64 + bomb if signer is None else bytes(signer.sign(bomb))
    payload = SealedBox(HQ.public_key).encrypt(signed)
    before = max_rss_bytes()
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(payload, HQ, KEYS, "BR01", max_bytes=CAP)
    assert refused.value.reason == "bad_signature"
    assert inflations == []
    assert max_rss_bytes() - before < 64 * 1024 * 1024


def test_a_signed_bomb_is_refused_at_the_cap_with_memory_bounded(bomb, inflations):
    payload = SealedBox(HQ.public_key).encrypt(bytes(BR01.sign(bomb)))
    before = max_rss_bytes()
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(payload, HQ, KEYS, "BR01", max_bytes=CAP)
    assert refused.value.reason == "too_large"
    assert inflations == [len(bomb)]
    assert max_rss_bytes() - before < 64 * 1024 * 1024


def test_a_batch_just_under_the_cap_opens_and_a_payload_over_it_is_not_unsealed():
    sent = batch(count=50)
    size = len(sent.to_bytes())
    assert (
        envelope.open_batch(
            envelope.seal(sent, BR01, HQ.public_key), HQ, KEYS, "BR01", max_bytes=size
        )
        == sent
    )
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(
            envelope.seal(sent, BR01, HQ.public_key), HQ, KEYS, "BR01", max_bytes=size - 1
        )
    assert refused.value.reason == "too_large"
    with pytest.raises(Rejected) as oversized:
        envelope.open_batch(bytes(200), HQ, KEYS, "BR01", max_bytes=100)
    assert oversized.value.reason == "too_large"


def test_a_truncated_signed_body_is_unreadable():
    truncated = zlib.compress(batch().to_bytes())[:-8]
    payload = SealedBox(HQ.public_key).encrypt(bytes(BR01.sign(truncated)))
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(payload, HQ, KEYS, "BR01")
    assert refused.value.reason == "unreadable"


def test_a_down_batch_is_inflated_only_up_to_its_cap(bomb):
    hq_signing = SigningKey.generate()
    branch_box = PrivateKey.generate()
    payload = SealedBox(branch_box.public_key).encrypt(bytes(hq_signing.sign(bomb)))
    with pytest.raises(Rejected) as refused:
        envelope.open_down(payload, branch_box, hq_signing.verify_key, "BR01", max_bytes=CAP)
    assert refused.value.reason == "too_large"


def test_topics():
    assert envelope.branch_of_topic(envelope.up_topic("BR01")) == "BR01"
    assert envelope.branch_of_topic("physioez/v1/branch/BR01/ack") is None
    assert envelope.branch_of_topic("elsewhere/BR01/up") is None
