"""Batches on the wire: signed by the branch, sealed to head office.

A batch is canonical JSON (branch, seq range, schema version, rows), compressed, signed with
the branch's Ed25519 key and then sealed with head office's public key (libsodium sealed box),
so the broker and anyone reading its store see only random bytes: never a patient's name.
Head office opens the box and verifies the signature with the key of the branch whose topic
the message came on before it inflates anything: a forged message costs one signature check,
never a decompression. What a signature vouches for is inflated only up to a cap, so even a
branch's own key cannot make head office hold a zip bomb in memory.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from nacl.encoding import Base64Encoder, RawEncoder
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.hash import blake2b
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from physioez.core.kernel.canonical import canonical_json

PROTOCOL = 1
# Head office applies batches of the schema versions it knows: this one and the one before,
# so branches can be upgraded one at a time (head office first).
#   1: outbox rows with their ownership.
#   2: edits of shared records also carry their base (sync.merge); head office merges a
#      version-1 edit without one, field by field by stamp.
SCHEMA_VERSION = 2

TOPIC_ROOT = "physioez/v1/branch"
# Down rows of this pseudo-table tell a branch of a conflict over a shared record that it took
# part in (and, later, that an admin reversed it); they are not records of any table.
CONFLICT_NOTICE_TABLE = "sync_conflict"
# The most a message may inflate to unless the caller says otherwise (head office passes its
# ``hq.max_batch_mb``): a batch holds at most ``sync.batch_kb`` (4 MiB at most) of rows.
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


def up_topic(branch: str) -> str:
    return f"{TOPIC_ROOT}/{branch}/up"


def ack_topic(branch: str) -> str:
    return f"{TOPIC_ROOT}/{branch}/ack"


def down_topic(branch: str) -> str:
    return f"{TOPIC_ROOT}/{branch}/down"


def status_topic(branch: str) -> str:
    return f"{TOPIC_ROOT}/{branch}/status"


def branch_of_topic(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 5 and "/".join(parts[:3]) == TOPIC_ROOT and parts[4] == "up":
        return parts[3]
    return None


class Rejected(Exception):
    """A batch head office will not apply: forged, tampered, misaddressed or unreadable.

    ``reason`` is a short code for the log and the metrics; the batch is dropped, never acked.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Batch:
    branch: str
    first_seq: int
    last_seq: int
    schema_version: int
    rows: list[dict[str, Any]]  # outbox rows: seq, table, op, key, hlc, row

    def to_bytes(self) -> bytes:
        body = {
            "protocol": PROTOCOL,
            "branch": self.branch,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "schema_version": self.schema_version,
            "rows": self.rows,
        }
        return canonical_json(body, ascii_only=True).encode()


@dataclass(frozen=True)
class DigestRequest:
    """The branch asks head office for its per-month digests, once it has applied ``as_of_seq``."""

    branch: str
    as_of_seq: int

    def to_bytes(self) -> bytes:
        body = {
            "protocol": PROTOCOL,
            "kind": "digest_request",
            "branch": self.branch,
            "as_of_seq": self.as_of_seq,
        }
        return canonical_json(body, ascii_only=True).encode()


@dataclass(frozen=True)
class PullRequest:
    """The branch asks for head office's changes after the last one it applied."""

    branch: str
    after_hq_seq: int

    def to_bytes(self) -> bytes:
        body = {
            "protocol": PROTOCOL,
            "kind": "pull_request",
            "branch": self.branch,
            "after_hq_seq": self.after_hq_seq,
        }
        return canonical_json(body, ascii_only=True).encode()


@dataclass(frozen=True)
class DownBatch:
    """Head office's changes for one branch, in head-office seq order; ``more`` if it was cut."""

    branch: str
    after_hq_seq: int
    last_hq_seq: int
    rows: list[dict[str, Any]]
    more: bool

    def to_bytes(self) -> bytes:
        body = {
            "protocol": PROTOCOL,
            "kind": "down",
            "branch": self.branch,
            "after_hq_seq": self.after_hq_seq,
            "last_hq_seq": self.last_hq_seq,
            "rows": self.rows,
            "more": self.more,
        }
        return canonical_json(body, ascii_only=True).encode()


def derived_box_key(seed: bytes) -> PrivateKey:
    """A Curve25519 key derived from a signing seed, so one secret file serves both roles
    without using the same key for signing and for encryption."""
    return PrivateKey(blake2b(seed, digest_size=32, person=b"physioez-box", encoder=RawEncoder))


def derived_signing_key(seed: bytes) -> SigningKey:
    return SigningKey(blake2b(seed, digest_size=32, person=b"physioez-sign", encoder=RawEncoder))


def seal_down(batch: DownBatch, hq_signing_key: SigningKey, branch_box_key: PublicKey) -> bytes:
    signed = hq_signing_key.sign(zlib.compress(batch.to_bytes(), 6))
    return SealedBox(branch_box_key).encrypt(bytes(signed))


def open_down(
    payload: bytes,
    branch_box_key: PrivateKey,
    hq_verify_key: VerifyKey,
    branch: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> DownBatch:
    """Open head office's batch for ``branch``; raises :class:`Rejected`."""
    try:
        signed = SealedBox(branch_box_key).decrypt(payload)
        message = hq_verify_key.verify(signed)
    except (CryptoError, BadSignatureError):
        raise Rejected("bad_signature", "not from this head office, or altered") from None
    body = _read(message, max_bytes)
    if body.get("kind") != "down" or body.get("branch") != branch:
        raise Rejected("wrong_topic", "a down batch for another branch")
    try:
        return DownBatch(
            branch,
            int(body["after_hq_seq"]),
            int(body["last_hq_seq"]),
            list(body["rows"]),
            bool(body["more"]),
        )
    except (KeyError, TypeError, ValueError):
        raise Rejected("malformed") from None


def seal(
    batch: Batch | DigestRequest | PullRequest, signing_key: SigningKey, hq_public_key: PublicKey
) -> bytes:
    signed = signing_key.sign(zlib.compress(batch.to_bytes(), 6))
    return SealedBox(hq_public_key).encrypt(bytes(signed))


def open_batch(
    payload: bytes,
    hq_private_key: PrivateKey,
    branch_keys: dict[str, VerifyKey],
    topic_branch: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Batch:
    """Open a message that must be a batch; raises :class:`Rejected`."""
    opened = open_message(payload, hq_private_key, branch_keys, topic_branch, max_bytes)
    if not isinstance(opened, Batch):
        raise Rejected("malformed", "not a batch")
    return opened


def open_message(
    payload: bytes,
    hq_private_key: PrivateKey,
    branch_keys: dict[str, VerifyKey],
    topic_branch: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Batch | DigestRequest | PullRequest:
    """Open, verify and check where a message came from; raises :class:`Rejected`.

    The checks run cheapest first and nothing is inflated before the topic branch's key has
    verified the signature: size of the sealed payload, the seal, the signature, then the
    inflated size, and only then the JSON and what it claims.
    """
    if len(payload) > max_bytes:
        raise Rejected("too_large", f"{len(payload)} bytes sealed")
    try:
        signed = SealedBox(hq_private_key).decrypt(payload)
    except CryptoError:
        raise Rejected("unsealable", "not sealed to this head office, or altered") from None
    if len(signed) < 64:
        raise Rejected("unsigned")
    signature, message = signed[:64], signed[64:]
    key = branch_keys.get(topic_branch) if topic_branch is not None else None
    if key is None:
        raise Rejected("unknown_branch", repr(topic_branch))
    try:
        key.verify(message, signature)
    except BadSignatureError:
        raise Rejected("bad_signature", f"not signed by {topic_branch}'s key") from None
    body = _read(message, max_bytes)
    claimed = body.get("branch") if isinstance(body, dict) else None
    if claimed is None or topic_branch != claimed:
        raise Rejected("wrong_topic", f"{claimed}'s batch on {topic_branch}'s topic")
    if body.get("protocol") != PROTOCOL:
        raise Rejected("protocol", repr(body.get("protocol")))
    if body.get("kind") == "pull_request":
        try:
            return PullRequest(claimed, int(body["after_hq_seq"]))
        except (KeyError, TypeError, ValueError):
            raise Rejected("malformed") from None
    if body.get("kind") == "digest_request":
        try:
            return DigestRequest(claimed, int(body["as_of_seq"]))
        except (KeyError, TypeError, ValueError):
            raise Rejected("malformed") from None
    try:
        batch = Batch(
            branch=claimed,
            first_seq=int(body["first_seq"]),
            last_seq=int(body["last_seq"]),
            schema_version=int(body["schema_version"]),
            rows=list(body["rows"]),
        )
    except (KeyError, TypeError, ValueError):
        raise Rejected("malformed") from None
    seqs = [row.get("seq") for row in batch.rows]
    if not seqs or seqs != list(range(batch.first_seq, batch.last_seq + 1)):
        raise Rejected("malformed", "rows do not cover first_seq..last_seq in order")
    return batch


def inflate(compressed: bytes, max_bytes: int) -> bytes:
    """Decompress at most ``max_bytes``; raises :class:`Rejected` beyond that, so memory stays
    bounded whatever ratio the sender chose."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error:
        raise Rejected("unreadable") from None
    if len(data) > max_bytes:
        raise Rejected("too_large", f"inflates past {max_bytes} bytes")
    if not inflater.eof:
        raise Rejected("unreadable", "truncated")
    return data


def _read(message: bytes, max_bytes: int) -> Any:
    try:
        return json.loads(inflate(message, max_bytes))
    except ValueError:
        raise Rejected("unreadable") from None


def encode_key(key: SigningKey | VerifyKey | PrivateKey | PublicKey) -> str:
    return key.encode(Base64Encoder).decode()


def verify_key(text: str) -> VerifyKey:
    return VerifyKey(text.encode(), encoder=Base64Encoder)


def public_key(text: str) -> PublicKey:
    return PublicKey(text.encode(), encoder=Base64Encoder)


def conflict_from_row(row) -> dict:
    """A conflict as head office's ``sync_conflict`` and the branch's notice table store it
    (the same columns in the same order; values as JSON text)."""
    cid, table, key, fields, winner, loser, winner_values, loser_values, status, detected = row
    return {
        "id": cid,
        "table": table,
        "key": key,
        "fields": json.loads(fields),
        "winner": winner,
        "loser": loser,
        "winner_values": json.loads(winner_values),
        "loser_values": json.loads(loser_values),
        "status": status,
        "detected_at": detected,
    }
