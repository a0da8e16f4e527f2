"""Encryption at rest for clinical fields and attachments.

Why two layers of keys: data is encrypted with random data-encryption keys (DEKs) that the database
stores only *wrapped* (SecretBox-encrypted) under a key-encryption key (KEK). The KEK lives outside
the database -- a root-only key file, or a systemd credential -- so a copied database or backup on
its own reveals nothing, and rotating the KEK re-wraps a handful of 32-byte keys instead of
re-encrypting every record. New DEKs can be added (and made active) at any time; old ones stay in
the keyring so that existing data still decrypts.

Field tokens are ASCII, so they fit a TEXT column, JSON and URLs::

    pez1s:<key_id>:<data>    the plaintext was a str (stored as UTF-8)
    pez1b:<key_id>:<data>    the plaintext was bytes

``<data>`` is unpadded URL-safe base64 of ``nonce(24) | SecretBox ciphertext``. The type letter is
repeated as the first plaintext byte, inside the authenticated ciphertext, so editing ``s``/``b``
in the prefix is detected instead of silently changing the type. The key id needs no such
protection: a different id selects a different key and the MAC check fails.

Encrypted files and streams::

    header:    b"PEZF" | version:1 (=1) | key_id:4 | stream_id:16 (random)
    per chunk: length:4 | SecretBox(index:8 | final:1 | header_tag:16 | data)

(integers big-endian). SecretBox has no associated data, so each chunk's plaintext carries what
must not be spliced: its index (reordering, dropping and duplicating chunks break the expected
sequence), a final flag (truncation at a chunk boundary leaves no final chunk), and a BLAKE2b tag
of the header (chunks cannot be moved between files, nor the header edited). Empty input is one
empty final chunk. :meth:`Keyring.decrypt_stream` writes plaintext as it goes and detects
truncation only at the end; :meth:`Keyring.decrypt_file` therefore writes to a temporary file and
publishes it only after the final chunk verified.

KEK file: one line of 64 lowercase hex characters, mode 0600, created in a 0700 directory. A
systemd credential may hold the same text or the 32 raw bytes. Rotation writes the new KEK to
``<key file>.new``, re-wraps the DEKs in one store transaction, then promotes ``.new``;
:func:`open_keyring` finishes or discards a rotation that crashed in between by testing which KEK
unwraps the stored keys. Key-file changes happen under ``flock`` on ``<key file>.lock`` so that a
restarting worker cannot discard a ``.new`` that a running rotation is about to commit, and two
workers starting for the first time cannot create two different KEKs.

Nothing here logs, and no exception message or repr contains key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import stat
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple, NoReturn, Protocol, SupportsIndex, overload

import nacl.exceptions
import nacl.secret
import nacl.utils

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CREDENTIAL_NAME",
    "KEY_SIZE",
    "MAX_CHUNK_SIZE",
    "CryptoError",
    "DecryptionError",
    "KeyFileError",
    "KeyStoreError",
    "KeyUnwrapError",
    "Keyring",
    "WrappedKey",
    "WrappedKeyStore",
    "add_data_key",
    "load_or_create_kek",
    "open_keyring",
    "pending_kek",
    "rotate_kek",
    "unwrap_key",
    "wrap_key",
]

KEY_SIZE = nacl.secret.SecretBox.KEY_SIZE
DEFAULT_CREDENTIAL_NAME = "physioez-kek"
DEFAULT_CHUNK_SIZE = 64 * 1024
# Bounds the memory a corrupted or hostile length prefix can make decrypt_stream allocate.
MAX_CHUNK_SIZE = 16 * 1024 * 1024

_MAX_KEY_ID = 2**32 - 1
_TOKEN_RE = re.compile(r"pez1([sb]):(0|[1-9][0-9]{0,9}):([A-Za-z0-9_-]+)")
_KEY_HEX_RE = re.compile(rb"[0-9a-fA-F]{64}")
_MAX_KEY_FILE_BYTES = 4096

_STREAM_MAGIC = b"PEZF"
_STREAM_VERSION = 1
_STREAM_ID_SIZE = 16
_HEADER = struct.Struct(">4sBI16s")
_CHUNK_PREFIX = struct.Struct(">QB16s")
_LENGTH = struct.Struct(">I")
_MIN_SEALED = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + _CHUNK_PREFIX.size
_MAX_SEALED = _MIN_SEALED + MAX_CHUNK_SIZE

_RESTORE_HINT = (
    "restore the key file that belongs to this database from backup; do not delete it, "
    "or the data encrypted under it becomes unreadable"
)


class CryptoError(Exception):
    """Base class, so callers can turn every at-rest crypto failure into one operator message."""


class KeyFileError(CryptoError):
    """The KEK cannot be used as stored; the message names the file and the fix."""


class KeyUnwrapError(CryptoError):
    """The KEK does not unwrap the stored data keys: key file and database are not a pair."""


class KeyStoreError(CryptoError):
    """The wrapped-key table is inconsistent (duplicate ids, not exactly one active key)."""


class DecryptionError(CryptoError):
    """A token or encrypted file is malformed, tampered with, or needs a key we do not have."""


@dataclass(frozen=True)
class WrappedKey:
    """One stored DEK; ``wrapped`` is kept out of the repr because reprs end up in logs."""

    key_id: int
    wrapped: bytes = field(repr=False)
    active: bool


class WrappedKeyStore(Protocol):
    """Persistence for wrapped DEKs, so this module needs no database import."""

    def load(self) -> list[WrappedKey]: ...

    def add(self, key: WrappedKey) -> None: ...

    def replace_all(self, keys: list[WrappedKey]) -> None:
        """Replace every row in one transaction: rotation relies on all-or-nothing."""
        ...


# --------------------------------------------------------------------------- key wrapping


def wrap_key(kek: bytes, dek: bytes) -> bytes:
    """Seal a DEK under the KEK; a fresh nonce each time, so re-wrapping leaks no equality."""
    _check_key(kek, "key-encryption key")
    _check_key(dek, "data key")
    return bytes(nacl.secret.SecretBox(kek).encrypt(dek))


def unwrap_key(kek: bytes, wrapped: bytes) -> bytes:
    """Open a wrapped DEK; failure means the KEK belongs to another database (or was replaced)."""
    _check_key(kek, "key-encryption key")
    try:
        dek = nacl.secret.SecretBox(kek).decrypt(bytes(wrapped))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise KeyUnwrapError(
            "cannot unwrap a data key: the key file does not match this database; " + _RESTORE_HINT
        ) from None
    if len(dek) != KEY_SIZE:
        raise KeyUnwrapError("an unwrapped data key has the wrong length; the key table is damaged")
    return bytes(dek)


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes")


# --------------------------------------------------------------------------- KEK file


def load_or_create_kek(path: Path, credential_name: str = DEFAULT_CREDENTIAL_NAME) -> bytes:
    """Return the KEK, creating the key file on first start.

    A systemd credential wins when present and is never created here: systemd owns it. The file is
    published without clobbering (hard link), so two processes starting at once agree on one KEK.
    """
    credential = _credential_file(credential_name)
    if credential is not None:
        return _read_credential(credential)
    path = Path(path)
    existing = _read_key_file(path, missing_ok=True)
    if existing is not None:
        return existing
    kek = Keyring.generate_key()
    if _write_key_file(path, kek, clobber=False):
        return kek
    winner = _read_key_file(path, missing_ok=False)  # another process created it first
    assert winner is not None
    return winner


def pending_kek(path: Path) -> bytes | None:
    """The KEK an interrupted rotation left in ``<path>.new``, if any; the caller decides."""
    return _read_key_file(_pending_path(Path(path)), missing_ok=True)


def _pending_path(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _credential_file(name: str) -> Path | None:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"invalid credential name {name!r}")
    candidate = Path(directory) / name
    return candidate if candidate.is_file() else None


def _read_limited(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= _MAX_KEY_FILE_BYTES:
        chunk = os.read(fd, _MAX_KEY_FILE_BYTES + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_credential(path: Path) -> bytes:
    """systemd already restricts credential files, so only the content is checked."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read systemd credential {path}: {exc.strerror}") from None
    if len(data) == KEY_SIZE:
        return data
    return _parse_hex_key(
        data,
        f"systemd credential {path}",
        "re-create it with systemd-creds from the key that belongs to this database",
    )


def _read_key_file(path: Path, *, missing_ok: bool) -> bytes | None:
    """Check mode on the opened descriptor, so the file checked is the file read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise KeyFileError(f"key file {path} does not exist; {_RESTORE_HINT}") from None
    except OSError as exc:
        raise KeyFileError(
            f"cannot open key file {path}: {exc.strerror}; run as root (the file is root-only)"
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        if info.st_mode & 0o077:
            mode = stat.S_IMODE(info.st_mode)
            raise KeyFileError(
                f"key file {path} is accessible by group or others (mode {mode:04o}); "
                f"refusing to use it. Run: chmod 600 {path}"
            )
        data = _read_limited(fd)
    finally:
        os.close(fd)
    return _parse_hex_key(data, f"key file {path}", _RESTORE_HINT)


def _parse_hex_key(data: bytes, what: str, hint: str) -> bytes:
    """Never echo the content: a nearly-right key file is still a secret."""
    text = data.strip()
    if not _KEY_HEX_RE.fullmatch(text):
        raise KeyFileError(
            f"{what} does not hold a {KEY_SIZE}-byte key "
            f"(expected one line of {2 * KEY_SIZE} hex characters); {hint}"
        )
    return bytes.fromhex(text.decode("ascii"))


def _ensure_private_dir(directory: Path) -> None:
    """Only a directory we create is forced to 0700; an existing one (e.g. /etc) is left alone."""
    if directory.is_dir():
        return
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable: without it a power cut can bring back the old directory entry."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_private_temp(directory: Path, name: str) -> tuple[Path, int]:
    """A 0600 file next to the target, so os.replace stays atomic (same filesystem)."""
    tmp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an unusual umask could otherwise leave it 0400 or less
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp, fd


def _write_key_file(path: Path, key: bytes, *, clobber: bool) -> bool:
    """Write atomically; with ``clobber=False`` returns False if the file appeared meanwhile."""
    directory = path.parent
    _ensure_private_dir(directory)
    tmp, fd = _create_private_temp(directory, path.name)
    try:
        try:
            data = key.hex().encode("ascii") + b"\n"
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if clobber:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_dir(directory)
    return True


@contextlib.contextmanager
def _kek_lock(kek_path: Path) -> Iterator[None]:
    """Serialise key-file changes across processes; the lock file itself is never deleted."""
    _ensure_private_dir(kek_path.parent)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(_lock_path(kek_path), flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _lock_unless_credential(
    kek_path: Path, credential_name: str
) -> contextlib.AbstractContextManager[None]:
    """With a credential the key directory may not exist or be read-only; nothing to protect."""
    if _credential_file(credential_name) is not None:
        return contextlib.nullcontext()
    return _kek_lock(kek_path)


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


# --------------------------------------------------------------------------- operations


class _Opened(NamedTuple):
    kek: bytes
    deks: dict[int, bytes]
    active_id: int


def open_keyring(
    kek_path: Path, store: WrappedKeyStore, *, credential_name: str = DEFAULT_CREDENTIAL_NAME
) -> Keyring:
    """Unwrap the database's DEKs, creating KEK and DEK 1 on first start.

    Also finishes or discards a rotation that crashed (see the module docstring), so every start
    leaves exactly one key file that matches the database.
    """
    kek_path = Path(kek_path)
    with _lock_unless_credential(kek_path, credential_name):
        opened = _open_locked(kek_path, store, credential_name)
    return Keyring(opened.deks, opened.active_id)


def rotate_kek(
    kek_path: Path, store: WrappedKeyStore, *, credential_name: str = DEFAULT_CREDENTIAL_NAME
) -> int:
    """Re-wrap every DEK under a new KEK ("physioez keys rotate"); returns how many.

    Order matters for crash safety: the new KEK is durable in ``.new`` before the store commits,
    and the key file is replaced only after it committed. If the store raises, ``.new`` is left
    for the next :func:`open_keyring` to resolve, because the commit may or may not have happened.
    """
    kek_path = Path(kek_path)
    if _credential_file(credential_name) is not None:
        raise KeyFileError(
            f"the key-encryption key comes from systemd credential {credential_name!r}; "
            "rotate the credential with systemd-creds instead"
        )
    with _kek_lock(kek_path):
        opened = _open_locked(kek_path, store, credential_name)
        new_kek = Keyring.generate_key()
        pending = _pending_path(kek_path)
        _write_key_file(pending, new_kek, clobber=True)
        rewrapped = [
            WrappedKey(key_id, wrap_key(new_kek, dek), key_id == opened.active_id)
            for key_id, dek in sorted(opened.deks.items())
        ]
        store.replace_all(rewrapped)
        os.replace(pending, kek_path)
        _fsync_dir(kek_path.parent)
    return len(rewrapped)


def add_data_key(
    kek_path: Path, store: WrappedKeyStore, *, credential_name: str = DEFAULT_CREDENTIAL_NAME
) -> int:
    """Add a DEK and make it the active one; older DEKs stay so existing data still decrypts.

    Running processes keep encrypting with their old active key until they reopen the keyring.
    """
    kek_path = Path(kek_path)
    with _lock_unless_credential(kek_path, credential_name):
        opened = _open_locked(kek_path, store, credential_name)
        new_id = max(opened.deks) + 1
        if new_id > _MAX_KEY_ID:
            raise KeyStoreError("no data key ids left")
        keys = [
            WrappedKey(key_id, wrap_key(opened.kek, dek), False)
            for key_id, dek in sorted(opened.deks.items())
        ]
        keys.append(WrappedKey(new_id, wrap_key(opened.kek, Keyring.generate_key()), True))
        store.replace_all(keys)
    return new_id


def _open_locked(kek_path: Path, store: WrappedKeyStore, credential_name: str) -> _Opened:
    wrapped = store.load()
    credential = _credential_file(credential_name)

    if credential is not None:
        kek = _read_credential(credential)
        if not wrapped:
            return _first_key(kek, store)
        deks, active_id = _unwrap_all(kek, wrapped, f"systemd credential {credential}")
        return _Opened(kek, deks, active_id)

    if not wrapped:
        # Nothing is wrapped under any KEK yet, so a leftover .new protects nothing.
        kek = load_or_create_kek(kek_path, credential_name)
        _discard_pending(kek_path)
        return _first_key(kek, store)

    current = _read_key_file(kek_path, missing_ok=True)
    if current is not None:
        try:
            deks, active_id = _unwrap_all(current, wrapped, f"key file {kek_path}")
        except KeyUnwrapError:
            pass
        else:
            _discard_pending(kek_path)  # a rotation that never committed
            return _Opened(current, deks, active_id)

    pending = _pending_path(kek_path)
    new_kek = pending_kek(kek_path)
    if new_kek is None:
        if current is None:
            raise KeyFileError(
                f"key file {kek_path} is missing, but the database holds encrypted data keys; "
                "restore the key file from backup (a new key cannot read existing data)"
            )
        raise KeyUnwrapError(
            f"the key file {kek_path} does not match this database; {_RESTORE_HINT}"
        )
    # The rotation committed to the store but crashed before promoting the new key file.
    deks, active_id = _unwrap_all(
        new_kek, wrapped, f"key file {kek_path} or its pending replacement {pending}"
    )
    os.replace(pending, kek_path)
    _fsync_dir(kek_path.parent)
    return _Opened(new_kek, deks, active_id)


def _first_key(kek: bytes, store: WrappedKeyStore) -> _Opened:
    dek = Keyring.generate_key()
    store.add(WrappedKey(1, wrap_key(kek, dek), True))
    return _Opened(kek, {1: dek}, 1)


def _unwrap_all(kek: bytes, wrapped: list[WrappedKey], source: str) -> tuple[dict[int, bytes], int]:
    ids = [key.key_id for key in wrapped]
    if len(set(ids)) != len(ids):
        raise KeyStoreError("the data key table has duplicate key ids")
    active = [key.key_id for key in wrapped if key.active]
    if len(active) != 1:
        raise KeyStoreError(
            f"the data key table has {len(active)} active keys; exactly one must be active"
        )
    deks: dict[int, bytes] = {}
    for key in wrapped:
        try:
            deks[key.key_id] = unwrap_key(kek, key.wrapped)
        except KeyUnwrapError:
            raise KeyUnwrapError(
                f"the {source} does not match this database "
                f"(data key {key.key_id} cannot be unwrapped); {_RESTORE_HINT}"
            ) from None
    return deks, active[0]


def _discard_pending(kek_path: Path) -> None:
    pending = _pending_path(kek_path)
    try:
        os.unlink(pending)
    except FileNotFoundError:
        return
    _fsync_dir(kek_path.parent)
