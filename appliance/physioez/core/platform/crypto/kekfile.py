"""The key-encryption key's file (or systemd credential): made, read and replaced safely."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import nacl.utils

from physioez.core.platform.crypto.common import (
    _KEY_HEX_RE,
    _MAX_KEY_FILE_BYTES,
    _RESTORE_HINT,
    DEFAULT_CREDENTIAL_NAME,
    KEY_SIZE,
    KeyFileError,
    _create_private_temp,
    _ensure_private_dir,
    _fsync_dir,
)

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
    kek = nacl.utils.random(KEY_SIZE)
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
