"""Tests for encryption at rest: tokens, chunked files, the KEK file and key rotation.

Crash recovery is tested by making the store fail at the two points that matter: before and after
the rotation's transaction commits.
"""

from __future__ import annotations

import io
import os
import pickle
import stat
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from physioez.core.platform.crypto import (
    CryptoError,
    DecryptionError,
    KeyFileError,
    Keyring,
    KeyStoreError,
    KeyUnwrapError,
    WrappedKey,
    add_data_key,
    load_or_create_kek,
    open_keyring,
    pending_kek,
    rotate_kek,
    unwrap_key,
    wrap_key,
)

HEADER_SIZE = 4 + 1 + 4 + 16
SMALL_CHUNK = 16


class MemoryStore:
    """The WrappedKeyStore protocol over a list; replace_all is trivially all-or-nothing."""

    def __init__(self) -> None:
        self.keys: list[WrappedKey] = []

    def load(self) -> list[WrappedKey]:
        return list(self.keys)

    def add(self, key: WrappedKey) -> None:
        assert key.key_id not in {k.key_id for k in self.keys}
        self.keys.append(key)

    def replace_all(self, keys: list[WrappedKey]) -> None:
        self.keys = list(keys)


class Crash(Exception):
    """Stands in for a power cut at a chosen point."""


@pytest.fixture(autouse=True)
def _no_systemd_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring({1: Keyring.generate_key()}, active_id=1)


@pytest.fixture
def kek_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "kek"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def encrypt_bytes(keyring: Keyring, data: bytes, chunk_size: int = SMALL_CHUNK) -> bytes:
    out = io.BytesIO()
    keyring.encrypt_stream(io.BytesIO(data), out, chunk_size=chunk_size)
    return out.getvalue()


def decrypt_bytes(keyring: Keyring, blob: bytes) -> bytes:
    out = io.BytesIO()
    keyring.decrypt_stream(io.BytesIO(blob), out)
    return out.getvalue()


def split_chunks(blob: bytes) -> tuple[bytes, list[bytes]]:
    """Header and length-prefixed chunk records, so tests can splice them."""
    header, rest = blob[:HEADER_SIZE], blob[HEADER_SIZE:]
    records = []
    while rest:
        (length,) = struct.unpack(">I", rest[:4])
        records.append(rest[: 4 + length])
        rest = rest[4 + length :]
    return header, records


# --------------------------------------------------------------------------- fields


@pytest.mark.parametrize(
    "value",
    ["", "Lumbar disc herniation L4/L5", "Müller, Knie 🦵", b"", b"\x00\xffbinary\n", b"x" * 5000],
)
def test_field_round_trip_keeps_value_and_type(keyring: Keyring, value: str | bytes) -> None:
    token = keyring.encrypt_field(value)
    assert token.isascii()
    assert token.startswith("pez1s:1:" if isinstance(value, str) else "pez1b:1:")
    result = keyring.decrypt_field(token)
    assert result == value
    assert type(result) is type(value)


def test_none_passes_through(keyring: Keyring) -> None:
    assert keyring.encrypt_field(None) is None
    assert keyring.decrypt_field(None) is None


def test_token_never_contains_plaintext(keyring: Keyring) -> None:
    secret = "Diagnosis: depression, history of self-harm"
    token = keyring.encrypt_field(secret)
    assert secret not in token
    for word in ("Diagnosis", "depression", "self-harm"):
        assert word not in token
    assert keyring.encrypt_field(secret) != token  # fresh nonce every time


def _flip(text: str, position: int) -> str:
    replacement = "A" if text[position] != "A" else "B"
    return text[:position] + replacement + text[position + 1 :]


def test_tampered_tokens_are_rejected(keyring: Keyring) -> None:
    token = keyring.encrypt_field("Allergic to penicillin")
    prefix, key_id, payload = token.split(":")
    start = len(prefix) + len(key_id) + 2
    tampered = [
        _flip(token, start),  # nonce
        _flip(token, start + len(payload) // 2),  # ciphertext
        _flip(token, len(token) - 1),  # tail
        token[:-4],  # truncated
        token + "AAAA",  # extended
        "pez1b" + token[5:],  # type letter swapped
        f"{prefix}:7:{payload}",  # unknown key id
        f"pez2s:{key_id}:{payload}",  # unknown version
        "Allergic to penicillin",
        "",
        f"{prefix}:{key_id}:",
        f"{prefix}:{key_id}:{payload}\n",
    ]
    for bad in tampered:
        with pytest.raises(DecryptionError):
            keyring.decrypt_field(bad)


def test_token_from_another_database_is_rejected(keyring: Keyring) -> None:
    other = Keyring({1: Keyring.generate_key()}, active_id=1)
    with pytest.raises(DecryptionError, match="failed authentication"):
        keyring.decrypt_field(other.encrypt_field("x"))


def test_encrypt_field_rejects_other_types_without_echoing(keyring: Keyring) -> None:
    with pytest.raises(TypeError):
        keyring.encrypt_field(1234)  # type: ignore[call-overload]
    with pytest.raises(ValueError) as excinfo:
        keyring.encrypt_field("secret\ud800value")
    assert "secret" not in str(excinfo.value)
    assert excinfo.value.__context__ is None or excinfo.value.__suppress_context__


# --------------------------------------------------------------------------- streams


@pytest.mark.parametrize(
    "size",
    [0, 1, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 5 * SMALL_CHUNK, 5 * SMALL_CHUNK + 3],
)
def test_stream_round_trip(keyring: Keyring, size: int) -> None:
    data = os.urandom(size)
    blob = encrypt_bytes(keyring, data)
    assert blob.startswith(b"PEZF")
    assert decrypt_bytes(keyring, blob) == data


def test_stream_chunk_counts(keyring: Keyring) -> None:
    assert len(split_chunks(encrypt_bytes(keyring, b""))[1]) == 1
    assert len(split_chunks(encrypt_bytes(keyring, b"x"))[1]) == 1
    assert len(split_chunks(encrypt_bytes(keyring, b"x" * SMALL_CHUNK))[1]) == 1
    assert len(split_chunks(encrypt_bytes(keyring, b"x" * (SMALL_CHUNK + 1)))[1]) == 2
    assert len(split_chunks(encrypt_bytes(keyring, b"x" * (4 * SMALL_CHUNK)))[1]) == 4


def test_stream_round_trip_default_chunk_size(keyring: Keyring) -> None:
    data = os.urandom(200 * 1024 + 7)
    out = io.BytesIO()
    keyring.encrypt_stream(io.BytesIO(data), out)
    assert decrypt_bytes(keyring, out.getvalue()) == data


def test_stream_does_not_contain_plaintext(keyring: Keyring) -> None:
    data = b"Patient reports chronic pain. " * 20
    assert b"chronic" not in encrypt_bytes(keyring, data)


def _manipulations(keyring: Keyring) -> dict[str, bytes]:
    blob = encrypt_bytes(keyring, os.urandom(4 * SMALL_CHUNK + 5))
    header, chunks = split_chunks(blob)
    assert len(chunks) == 5
    other_header, other_chunks = split_chunks(encrypt_bytes(keyring, os.urandom(4 * SMALL_CHUNK)))
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    flipped = bytearray(blob)
    flipped[HEADER_SIZE + 40] ^= 0x01
    return {
        "reordered": header + b"".join(swapped),
        "last two reordered": header + b"".join([*chunks[:3], chunks[4], chunks[3]]),
        "middle dropped": header + b"".join(chunks[:2] + chunks[3:]),
        "first dropped": header + b"".join(chunks[1:]),
        "final dropped": header + b"".join(chunks[:-1]),
        "duplicated": header + b"".join(chunks[:2] + chunks[1:]),
        "final duplicated": header + b"".join([*chunks, chunks[-1]]),
        "truncated mid-chunk": blob[:-7],
        "truncated in length prefix": header + b"".join(chunks[:2]) + chunks[2][:2],
        "header only": header,
        "empty": b"",
        "trailing garbage": blob + b"\x00",
        "chunk from another file": header + other_chunks[0] + b"".join(chunks[1:]),
        "header from another file": other_header + b"".join(chunks),
        "bit flip": bytes(flipped),
        "bad magic": b"XEZF" + blob[4:],
        "unknown key id": blob[:5] + struct.pack(">I", 9) + blob[9:],
        "unknown version": blob[:4] + b"\x02" + blob[5:],
        "absurd length": header + struct.pack(">I", 2**31) + b"x" * 100,
    }


@pytest.mark.parametrize(
    "case",
    [
        "reordered",
        "last two reordered",
        "middle dropped",
        "first dropped",
        "final dropped",
        "duplicated",
        "final duplicated",
        "truncated mid-chunk",
        "truncated in length prefix",
        "header only",
        "empty",
        "trailing garbage",
        "chunk from another file",
        "header from another file",
        "bit flip",
        "bad magic",
        "unknown key id",
        "unknown version",
        "absurd length",
    ],
)
def test_stream_manipulation_is_detected(keyring: Keyring, case: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt_bytes(keyring, _manipulations(keyring)[case])


def test_empty_stream_truncation_is_detected(keyring: Keyring) -> None:
    header, _ = split_chunks(encrypt_bytes(keyring, b""))
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt_bytes(keyring, header)


def test_file_round_trip_is_private_and_atomic(keyring: Keyring, tmp_path: Path) -> None:
    plain, enc, back = tmp_path / "scan.pdf", tmp_path / "scan.pez", tmp_path / "back.pdf"
    plain.write_bytes(os.urandom(3 * SMALL_CHUNK + 1))
    keyring.encrypt_file(plain, enc, chunk_size=SMALL_CHUNK)
    keyring.decrypt_file(enc, back)
    assert back.read_bytes() == plain.read_bytes()
    assert mode(enc) == 0o600
    assert mode(back) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.pdf", "scan.pdf", "scan.pez"]


def test_decrypt_file_publishes_nothing_on_tampering(keyring: Keyring, tmp_path: Path) -> None:
    plain, enc, back = tmp_path / "a", tmp_path / "a.pez", tmp_path / "a.out"
    plain.write_bytes(os.urandom(3 * SMALL_CHUNK))
    keyring.encrypt_file(plain, enc, chunk_size=SMALL_CHUNK)
    header, chunks = split_chunks(enc.read_bytes())
    enc.write_bytes(header + b"".join(chunks[:-1]))
    with pytest.raises(DecryptionError):
        keyring.decrypt_file(enc, back)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "a.pez"]


# --------------------------------------------------------------------------- key file


def test_key_file_created_private(kek_path: Path) -> None:
    kek = load_or_create_kek(kek_path)
    assert len(kek) == 32
    assert mode(kek_path) == 0o600
    assert mode(kek_path.parent) == 0o700
    assert kek_path.read_text() == kek.hex() + "\n"
    assert load_or_create_kek(kek_path) == kek
    assert sorted(p.name for p in kek_path.parent.iterdir()) == ["kek"]


def test_concurrent_first_start_agrees_on_one_key(kek_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: load_or_create_kek(kek_path), range(16)))
    assert keys == {load_or_create_kek(kek_path)}
    assert sorted(p.name for p in kek_path.parent.iterdir()) == ["kek"]


@pytest.mark.parametrize("bad_mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o001])
def test_key_file_accessible_to_others_is_refused(kek_path: Path, bad_mode: int) -> None:
    kek = load_or_create_kek(kek_path)
    kek_path.chmod(bad_mode)
    with pytest.raises(KeyFileError) as excinfo:
        load_or_create_kek(kek_path)
    message = str(excinfo.value)
    assert f"chmod 600 {kek_path}" in message
    assert kek.hex() not in message


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key\n", b"ab" * 31 + b"\n", b"ab" * 33 + b"\n", b"zz" * 32 + b"\n", b"\x01" * 32],
)
def test_malformed_key_file_is_refused(kek_path: Path, content: bytes) -> None:
    kek_path.parent.mkdir(mode=0o700)
    kek_path.write_bytes(content)
    kek_path.chmod(0o600)
    with pytest.raises(KeyFileError) as excinfo:
        load_or_create_kek(kek_path)
    assert str(kek_path) in str(excinfo.value)
    if content.strip():
        assert content.strip().decode("latin-1") not in str(excinfo.value)


def test_key_file_accepts_uppercase_and_missing_newline(kek_path: Path) -> None:
    key = Keyring.generate_key()
    kek_path.parent.mkdir(mode=0o700)
    kek_path.write_text(key.hex().upper())
    kek_path.chmod(0o600)
    assert load_or_create_kek(kek_path) == key


@pytest.mark.parametrize("form", ["hex", "raw"])
def test_systemd_credential_is_used(
    kek_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    key = Keyring.generate_key()
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "physioez-kek").write_bytes(key.hex().encode() + b"\n" if form == "hex" else key)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert load_or_create_kek(kek_path) == key
    assert not kek_path.exists()

    store = MemoryStore()
    keyring = open_keyring(kek_path, store)
    assert unwrap_key(key, store.keys[0].wrapped)
    assert open_keyring(kek_path, store).decrypt_field(keyring.encrypt_field("x")) == "x"
    assert not kek_path.parent.exists()


def test_missing_credential_falls_back_to_key_file(
    kek_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    kek = load_or_create_kek(kek_path, credential_name="absent")
    assert kek_path.read_text() == kek.hex() + "\n"


def test_rotation_refused_with_systemd_credential(
    kek_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Keyring.generate_key()
    (tmp_path / "physioez-kek").write_bytes(key)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    store = MemoryStore()
    open_keyring(kek_path, store)
    with pytest.raises(KeyFileError, match="systemd-creds") as excinfo:
        rotate_kek(kek_path, store)
    assert key.hex() not in str(excinfo.value)


# --------------------------------------------------------------------------- wrapping


def test_wrap_round_trip_and_wrong_kek() -> None:
    kek, other, dek = (Keyring.generate_key() for _ in range(3))
    wrapped = wrap_key(kek, dek)
    assert dek not in wrapped
    assert unwrap_key(kek, wrapped) == dek
    with pytest.raises(KeyUnwrapError) as excinfo:
        unwrap_key(other, wrapped)
    message = str(excinfo.value)
    assert "does not match this database" in message
    for secret in (kek, other, dek):
        assert secret.hex() not in message
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__suppress_context__
    with pytest.raises(ValueError):
        wrap_key(kek[:16], dek)


def test_wrapped_key_repr_hides_ciphertext() -> None:
    key = WrappedKey(1, b"\x01secret-wrapped", True)
    assert "secret-wrapped" not in repr(key)


# --------------------------------------------------------------------------- keyring lifecycle


def test_open_keyring_first_start_and_reopen(kek_path: Path) -> None:
    store = MemoryStore()
    keyring = open_keyring(kek_path, store)
    assert [(k.key_id, k.active) for k in store.keys] == [(1, True)]
    assert keyring.active_id == 1
    assert mode(kek_path) == 0o600
    token = keyring.encrypt_field("note")
    assert open_keyring(kek_path, store).decrypt_field(token) == "note"
    assert len(store.keys) == 1


def test_missing_key_file_with_existing_keys_is_refused(kek_path: Path) -> None:
    store = MemoryStore()
    open_keyring(kek_path, store)
    kek_path.unlink()
    with pytest.raises(KeyFileError, match="restore"):
        open_keyring(kek_path, store)
    assert not kek_path.exists()  # did not quietly create a useless new key


def test_wrong_key_file_is_refused_without_key_material(kek_path: Path) -> None:
    store = MemoryStore()
    open_keyring(kek_path, store)
    old_hex = kek_path.read_text().strip()
    wrong = Keyring.generate_key()
    kek_path.write_text(wrong.hex() + "\n")
    with pytest.raises(KeyUnwrapError) as excinfo:
        open_keyring(kek_path, store)
    message = str(excinfo.value)
    assert str(kek_path) in message
    assert "does not match this database" in message
    assert old_hex not in message
    assert wrong.hex() not in message


def test_inconsistent_key_table_is_refused(kek_path: Path) -> None:
    store = MemoryStore()
    open_keyring(kek_path, store)
    store.keys = [WrappedKey(1, store.keys[0].wrapped, False)]
    with pytest.raises(KeyStoreError, match="0 active"):
        open_keyring(kek_path, store)


def test_rotation_rewraps_and_old_data_still_decrypts(kek_path: Path) -> None:
    store = MemoryStore()
    keyring = open_keyring(kek_path, store)
    token = keyring.encrypt_field("before rotation")
    blob = encrypt_bytes(keyring, b"attachment before rotation")
    add_data_key(kek_path, store)
    old_kek = load_or_create_kek(kek_path)

    assert rotate_kek(kek_path, store) == 2

    new_kek = load_or_create_kek(kek_path)
    assert new_kek != old_kek
    assert mode(kek_path) == 0o600
    assert pending_kek(kek_path) is None
    for key in store.keys:
        with pytest.raises(KeyUnwrapError):
            unwrap_key(old_kek, key.wrapped)
        unwrap_key(new_kek, key.wrapped)
    reopened = open_keyring(kek_path, store)
    assert reopened.active_id == 2
    assert reopened.decrypt_field(token) == "before rotation"
    assert decrypt_bytes(reopened, blob) == b"attachment before rotation"


def test_crash_after_commit_before_promotion_recovers(
    kek_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryStore()
    token = open_keyring(kek_path, store).encrypt_field("survives")
    old_kek = load_or_create_kek(kek_path)

    def commit_then_crash(keys: list[WrappedKey]) -> None:
        store.keys = list(keys)
        raise Crash

    monkeypatch.setattr(store, "replace_all", commit_then_crash)
    with pytest.raises(Crash):
        rotate_kek(kek_path, store)
    monkeypatch.undo()

    new_kek = pending_kek(kek_path)
    assert new_kek is not None
    assert load_or_create_kek(kek_path) == old_kek  # not promoted yet
    with pytest.raises(KeyUnwrapError):
        unwrap_key(old_kek, store.keys[0].wrapped)

    keyring = open_keyring(kek_path, store)
    assert keyring.decrypt_field(token) == "survives"
    assert load_or_create_kek(kek_path) == new_kek
    assert pending_kek(kek_path) is None
    assert mode(kek_path) == 0o600


def test_crash_before_commit_discards_stale_pending_key(
    kek_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryStore()
    token = open_keyring(kek_path, store).encrypt_field("survives")
    old_kek = load_or_create_kek(kek_path)
    before = list(store.keys)

    def crash(keys: list[WrappedKey]) -> None:
        raise Crash

    monkeypatch.setattr(store, "replace_all", crash)
    with pytest.raises(Crash):
        rotate_kek(kek_path, store)
    monkeypatch.undo()
    assert pending_kek(kek_path) is not None
    assert store.keys == before

    keyring = open_keyring(kek_path, store)
    assert keyring.decrypt_field(token) == "survives"
    assert pending_kek(kek_path) is None
    assert load_or_create_kek(kek_path) == old_kek

    assert rotate_kek(kek_path, store) == 1  # and a retried rotation works
    assert open_keyring(kek_path, store).decrypt_field(token) == "survives"


def test_garbage_pending_key_with_matching_key_file_is_discarded(kek_path: Path) -> None:
    store = MemoryStore()
    open_keyring(kek_path, store)
    pending = kek_path.with_name("kek.new")
    pending.write_text("half-written")
    pending.chmod(0o600)
    open_keyring(kek_path, store)
    assert not pending.exists()


def test_new_data_key_becomes_active(kek_path: Path) -> None:
    store = MemoryStore()
    keyring = open_keyring(kek_path, store)
    old_token = keyring.encrypt_field(b"old bytes")
    old_blob = encrypt_bytes(keyring, b"old file")

    assert add_data_key(kek_path, store) == 2
    assert add_data_key(kek_path, store) == 3

    assert [(k.key_id, k.active) for k in store.keys] == [(1, False), (2, False), (3, True)]
    reopened = open_keyring(kek_path, store)
    assert reopened.active_id == 3
    assert reopened.key_ids == (1, 2, 3)
    new_token = reopened.encrypt_field("new")
    assert new_token.startswith("pez1s:3:")
    assert reopened.decrypt_field(old_token) == b"old bytes"
    assert decrypt_bytes(reopened, old_blob) == b"old file"
    assert keyring.decrypt_field(old_token) == b"old bytes"
    with pytest.raises(DecryptionError, match="data key 3"):
        keyring.decrypt_field(new_token)


# --------------------------------------------------------------------------- leaks


def test_keyring_repr_has_no_key_material() -> None:
    keys = {1: Keyring.generate_key(), 2: Keyring.generate_key()}
    keyring = Keyring(keys, active_id=2)
    for text in (repr(keyring), str(keyring), f"{keyring!r}"):
        assert text == "Keyring(key_ids=[1, 2], active_id=2)"
        for key in keys.values():
            assert key.hex() not in text
            assert repr(key) not in text
    with pytest.raises(TypeError):
        pickle.dumps(keyring)


def test_exceptions_carry_no_key_material(kek_path: Path) -> None:
    dek = Keyring.generate_key()
    keyring = Keyring({1: dek}, active_id=1)
    store = MemoryStore()
    open_keyring(kek_path, store)
    kek_hex = kek_path.read_text().strip()
    kek_path.chmod(0o644)

    errors: list[CryptoError] = []
    for action in (
        lambda: keyring.decrypt_field("pez1s:1:" + "A" * 60),
        lambda: decrypt_bytes(keyring, encrypt_bytes(keyring, b"secret text")[:-3]),
        lambda: open_keyring(kek_path, store),
        lambda: unwrap_key(Keyring.generate_key(), wrap_key(bytes.fromhex(kek_hex), dek)),
    ):
        with pytest.raises(CryptoError) as excinfo:
            action()
        errors.append(excinfo.value)

    for error in errors:
        text = f"{error} {error!r} {error.args}"
        assert dek.hex() not in text
        assert kek_hex not in text
        assert "secret text" not in text
        assert error.__cause__ is None


def test_keyring_validates_keys() -> None:
    with pytest.raises(ValueError) as excinfo:
        Keyring({1: b"short-secret"}, active_id=1)
    assert "short-secret" not in str(excinfo.value)
    with pytest.raises(ValueError):
        Keyring({1: Keyring.generate_key()}, active_id=2)
