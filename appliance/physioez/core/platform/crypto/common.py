"""Constants, errors and key wrapping shared by the crypto package (see its docstring)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import nacl.exceptions
import nacl.secret
import nacl.utils

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


# --------------------------------------------------------------------------- private files


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
