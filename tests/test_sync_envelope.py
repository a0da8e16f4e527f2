"""Batches on the wire: sealed so the broker sees nothing, signed so head office knows who sent
them; every forgery, alteration or misdirection is refused with its reason."""

from __future__ import annotations

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from physioez.sync import envelope
from physioez.sync.envelope import Batch, Rejected

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
    payload = envelope.seal(batch(), BR01, HQ.public_key)
    with pytest.raises(Rejected) as refused:
        envelope.open_batch(payload, HQ, KEYS, "BR02")
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


def test_topics():
    assert envelope.branch_of_topic(envelope.up_topic("BR01")) == "BR01"
    assert envelope.branch_of_topic("physioez/v1/branch/BR01/ack") is None
    assert envelope.branch_of_topic("elsewhere/BR01/up") is None
