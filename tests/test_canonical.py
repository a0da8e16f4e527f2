"""Canonical JSON keeps its exact bytes: audit chains and head office's digests written before
a change must still verify after it. The expected values below were computed by the code as it
was before audit, outbox, envelopes, digests and head office shared one function."""

from __future__ import annotations

import hashlib

from physioez.core.kernel.audit import _HASHED_FIELDS, _event_hash
from physioez.core.kernel.canonical import canonical_json
from physioez.core.kernel.models import JsonField
from physioez.sync.services import envelope
from physioez.sync.services.state import record_hash

SAMPLE = {
    "zeta": 1,
    "name": "Anaïs Kōhler ಕನ್ನಡ हिन्दी",
    "amount_minor": 125000,
    "tags": ["b", "a"],
    "nested": {"y": None, "x": True},
    "ratio": 0.1,
    "emoji": "✓",
    "quote": '"\\/\n\u2028',
}
UTF8 = (
    '{"amount_minor":125000,"emoji":"✓","name":"Anaïs Kōhler ಕನ್ನಡ हिन्दी",'
    '"nested":{"x":true,"y":null},"quote":"\\"\\\\/\\n\u2028","ratio":0.1,'
    '"tags":["b","a"],"zeta":1}'
)
ASCII_ROW = (
    '{"amount_minor":125000,"emoji":"\\u2713","name":"Ana\\u00efs K\\u014dhler '
    '\\u0c95\\u0ca8\\u0ccd\\u0ca8\\u0ca1 \\u0939\\u093f\\u0928\\u094d\\u0926\\u0940",'
    '"nested":{"x":true,"y":null},"quote":"\\"\\\\/\\n\\u2028","ratio":0.1,'
    '"tags":["b","a"],"zeta":1}'
)


def test_stored_rows_audit_and_outbox_keep_utf8_as_is():
    assert canonical_json(SAMPLE) == UTF8
    assert JsonField().db_value(SAMPLE) == UTF8


def test_an_audit_events_hash_is_unchanged():
    fields = {name: f"v-{name}-ಕ" for name in _HASHED_FIELDS}
    assert _event_hash("0" * 64, fields) == (
        "f875db7bd3284cbc8754e77e39576551d29e798f4b758ea549c20c9b09908afc"
    )


def test_replication_digests_and_receipts_keep_their_escapes():
    assert canonical_json(SAMPLE, ascii_only=True) == ASCII_ROW
    expected = "6ee18cbe1cbabba0812de65e94ea0f92f6285aae16020c3b29e2ec96c69fb34b"
    assert record_hash(UTF8) == expected
    assert hashlib.sha256(ASCII_ROW.encode()).hexdigest() == expected  # head office's receipt


def test_a_batch_on_the_wire_is_unchanged():
    row = {"seq": 1, "table": "patient", "op": "insert", "key": "p1", "hlc": "1-0-BR01"}
    batch = envelope.Batch("BR01", 1, 1, 2, [{**row, "row": SAMPLE}])
    assert (
        batch.to_bytes()
        == (
            '{"branch":"BR01","first_seq":1,"last_seq":1,"protocol":1,"rows":[{"hlc":"1-0-BR01",'
            '"key":"p1","op":"insert","row":' + ASCII_ROW + ',"seq":1,"table":"patient"}],'
            '"schema_version":2}'
        ).encode()
    )
    assert hashlib.sha256(batch.to_bytes()).hexdigest() == (
        "ec020394c3b718e6defa2692bee4d2c7e958537f3edb2398f57844fbbaee7d2d"
    )
