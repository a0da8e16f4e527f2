"""The keyring: field tokens and encrypted files and streams under the data keys."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, NoReturn, SupportsIndex, overload

import nacl.exceptions
import nacl.secret
import nacl.utils

from physioez.core.platform.crypto.common import (
    _CHUNK_PREFIX,
    _HEADER,
    _LENGTH,
    _MAX_KEY_ID,
    _MAX_SEALED,
    _MIN_SEALED,
    _STREAM_ID_SIZE,
    _STREAM_MAGIC,
    _STREAM_VERSION,
    _TOKEN_RE,
    DEFAULT_CHUNK_SIZE,
    KEY_SIZE,
    MAX_CHUNK_SIZE,
    DecryptionError,
    _create_private_temp,
    _fsync_dir,
)

# --------------------------------------------------------------------------- keyring


class Keyring:
    """The unwrapped DEKs of one database, by key id; new data uses the active key.

    Keys are held only inside SecretBox objects; repr shows ids, and pickling is refused so that
    a keyring cannot slip into a cache, a session or a crash dump by accident.
    """

    __slots__ = ("_active_id", "_boxes")

    def __init__(self, keys: Mapping[int, bytes], active_id: int) -> None:
        boxes: dict[int, nacl.secret.SecretBox] = {}
        for key_id, key in keys.items():
            if isinstance(key_id, bool) or not isinstance(key_id, int):
                raise ValueError(f"key ids must be integers, not {type(key_id).__name__}")
            if not 0 <= key_id <= _MAX_KEY_ID:
                raise ValueError(f"key id {key_id} is outside 0..{_MAX_KEY_ID}")
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise ValueError(f"data key {key_id} must be {KEY_SIZE} bytes")
            boxes[key_id] = nacl.secret.SecretBox(key)
        if active_id not in boxes:
            raise ValueError(f"active key id {active_id} is not in the keyring")
        self._boxes = boxes
        self._active_id = active_id

    @staticmethod
    def generate_key() -> bytes:
        """A fresh random 32-byte key (DEK or KEK) from the OS CSPRNG via libsodium."""
        return nacl.utils.random(KEY_SIZE)

    @property
    def active_id(self) -> int:
        return self._active_id

    @property
    def key_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._boxes))

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self.key_ids)}, active_id={self._active_id})"

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError("a Keyring holds data keys and cannot be pickled or copied")

    # -- fields

    @overload
    def encrypt_field(self, value: None) -> None: ...

    @overload
    def encrypt_field(self, value: str | bytes) -> str: ...

    def encrypt_field(self, value: str | bytes | None) -> str | None:
        """Encrypt under the active key; ``None`` stays ``None`` so nullable columns stay null."""
        if value is None:
            return None
        if isinstance(value, str):
            kind = "s"
            try:
                data = value.encode("utf-8")
            except UnicodeEncodeError:
                # The codec error would carry the whole string in exc.object.
                raise ValueError("value contains a lone surrogate; cannot encode it") from None
        elif isinstance(value, bytes):
            kind, data = "b", value
        else:
            raise TypeError(f"encrypt_field takes str, bytes or None, not {type(value).__name__}")
        sealed = self._boxes[self._active_id].encrypt(kind.encode("ascii") + data)
        payload = base64.urlsafe_b64encode(bytes(sealed)).rstrip(b"=").decode("ascii")
        return f"pez1{kind}:{self._active_id}:{payload}"

    @overload
    def decrypt_field(self, token: None) -> None: ...

    @overload
    def decrypt_field(self, token: str) -> str | bytes: ...

    def decrypt_field(self, token: str | None) -> str | bytes | None:
        """Return the original str or bytes; anything not produced by encrypt_field is refused."""
        if token is None:
            return None
        if not isinstance(token, str):
            raise DecryptionError(
                f"an encrypted field must be a str token, not {type(token).__name__}"
            )
        match = _TOKEN_RE.fullmatch(token)
        if match is None:
            raise DecryptionError("not an encrypted field token (expected pez1s:/pez1b:...)")
        kind, key_id_text, payload = match.groups()
        box = self._box_for(int(key_id_text), "field")
        try:
            sealed = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError("encrypted field token is corrupted (bad base64)") from None
        plain = _open_sealed(
            box, sealed, "encrypted field failed authentication: it was altered or truncated"
        )
        if plain[:1] != kind.encode("ascii"):
            raise DecryptionError("encrypted field token type does not match its content")
        data = plain[1:]
        if kind == "b":
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("encrypted text field does not hold valid UTF-8") from None

    def _box_for(self, key_id: int, what: str) -> nacl.secret.SecretBox:
        box = self._boxes.get(key_id)
        if box is None:
            raise DecryptionError(
                f"{what} was encrypted with data key {key_id}, which this database does not have"
            )
        return box

    # -- streams and files

    def encrypt_stream(
        self, src: BinaryIO, dst: BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        """Encrypt in bounded memory; read-ahead by one chunk so the last one is flagged final."""
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}")
        header = _HEADER.pack(
            _STREAM_MAGIC, _STREAM_VERSION, self._active_id, nacl.utils.random(_STREAM_ID_SIZE)
        )
        tag = _header_tag(header)
        box = self._boxes[self._active_id]
        dst.write(header)
        index = 0
        chunk = _read_exact(src, chunk_size)
        while True:
            following = _read_exact(src, chunk_size) if len(chunk) == chunk_size else b""
            final = not following
            sealed = box.encrypt(_CHUNK_PREFIX.pack(index, int(final), tag) + chunk)
            dst.write(_LENGTH.pack(len(sealed)))
            dst.write(bytes(sealed))
            if final:
                return
            chunk = following
            index += 1

    def decrypt_stream(self, src: BinaryIO, dst: BinaryIO) -> None:
        """Decrypt chunk by chunk; on DecryptionError, discard whatever was already written."""
        header = _read_exact(src, _HEADER.size)
        if len(header) < _HEADER.size or not header.startswith(_STREAM_MAGIC):
            raise DecryptionError("not a PhysioEZ encrypted file (bad header)")
        _, version, key_id, _ = _HEADER.unpack(header)
        if version != _STREAM_VERSION:
            raise DecryptionError(f"unsupported encrypted file format version {version}")
        box = self._box_for(key_id, "file")
        tag = _header_tag(header)
        index = 0
        while True:
            length_bytes = _read_exact(src, _LENGTH.size)
            if not length_bytes:
                raise DecryptionError("encrypted file is truncated: its final chunk is missing")
            if len(length_bytes) < _LENGTH.size:
                raise DecryptionError("encrypted file is truncated inside a chunk header")
            (length,) = _LENGTH.unpack(length_bytes)
            if not _MIN_SEALED <= length <= _MAX_SEALED:
                raise DecryptionError(
                    f"encrypted file is corrupted: chunk {index} has a bad length"
                )
            sealed = _read_exact(src, length)
            if len(sealed) < length:
                raise DecryptionError(f"encrypted file is truncated inside chunk {index}")
            plain = _open_sealed(
                box, sealed, f"chunk {index} of the encrypted file failed authentication"
            )
            found_index, final, found_tag = _CHUNK_PREFIX.unpack_from(plain)
            if found_tag != tag:
                raise DecryptionError(f"chunk {index} belongs to a different encrypted file")
            if found_index != index:
                raise DecryptionError(
                    f"encrypted file chunks are out of sequence at chunk {index}: "
                    "chunks were reordered, dropped or duplicated"
                )
            if final not in (0, 1):
                raise DecryptionError(f"chunk {index} has an invalid final flag")
            dst.write(plain[_CHUNK_PREFIX.size :])
            if final:
                if src.read(1):
                    raise DecryptionError("encrypted file has data after its final chunk")
                return
            index += 1

    def encrypt_file(
        self,
        src_path: str | os.PathLike[str],
        dst_path: str | os.PathLike[str],
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        """Readers of ``dst_path`` see the old file or the complete new one, never a partial one."""
        with open(src_path, "rb") as src, _atomic_output(Path(dst_path)) as dst:
            self.encrypt_stream(src, dst, chunk_size)

    def decrypt_file(
        self, src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str]
    ) -> None:
        """Publish plaintext only once every chunk, including the final one, has verified."""
        with open(src_path, "rb") as src, _atomic_output(Path(dst_path)) as dst:
            self.decrypt_stream(src, dst)


def _open_sealed(box: nacl.secret.SecretBox, sealed: bytes, message: str) -> bytes:
    try:
        return bytes(box.decrypt(sealed))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise DecryptionError(message) from None


def _header_tag(header: bytes) -> bytes:
    return hashlib.blake2b(header, digest_size=16, person=b"physioez-stream").digest()


def _read_exact(src: BinaryIO, size: int) -> bytes:
    """Raw streams and pipes may return short reads; only EOF may end a chunk early."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


@contextlib.contextmanager
def _atomic_output(path: Path) -> Iterator[BinaryIO]:
    directory = path.parent
    tmp, fd = _create_private_temp(directory, path.name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)
