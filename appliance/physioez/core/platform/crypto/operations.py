"""Opening the keyring at start, rotating the KEK, adding data keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from physioez.core.platform.crypto.common import (
    _MAX_KEY_ID,
    _RESTORE_HINT,
    DEFAULT_CREDENTIAL_NAME,
    KeyFileError,
    KeyStoreError,
    KeyUnwrapError,
    WrappedKey,
    WrappedKeyStore,
    unwrap_key,
    wrap_key,
)
from physioez.core.platform.crypto.kekfile import (
    _credential_file,
    _fsync_dir,
    _kek_lock,
    _lock_unless_credential,
    _pending_path,
    _read_credential,
    _read_key_file,
    _write_key_file,
    load_or_create_kek,
    pending_kek,
)
from physioez.core.platform.crypto.keyring import Keyring

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
