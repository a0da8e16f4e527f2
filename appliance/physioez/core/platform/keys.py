"""The branch's data keys, kept wrapped in the database and unwrapped with the key file."""

from __future__ import annotations

from pathlib import Path

from physioez.core.kernel.db import write_transaction
from physioez.core.kernel.models import DataKey
from physioez.core.platform.crypto import (
    Keyring,
    WrappedKey,
    add_data_key,
    open_keyring,
    rotate_kek,
)


class DatabaseKeyStore:
    """``WrappedKeyStore`` over the ``data_key`` table; wrapped keys only, never plaintext."""

    def load(self) -> list[WrappedKey]:
        return [
            WrappedKey(key_id=row.key_id, wrapped=bytes(row.wrapped), active=bool(row.active))
            for row in DataKey.select().order_by(DataKey.key_id)
        ]

    def add(self, key: WrappedKey) -> None:
        with write_transaction():
            if key.active:
                DataKey.update(active=False).execute()
            DataKey.create(key_id=key.key_id, wrapped=key.wrapped, active=key.active)

    def replace_all(self, keys: list[WrappedKey]) -> None:
        # Rows are updated in place so each key keeps its creation time.
        with write_transaction():
            DataKey.delete().where(DataKey.key_id.not_in([k.key_id for k in keys])).execute()
            for key in keys:
                updated = (
                    DataKey.update(wrapped=key.wrapped, active=key.active)
                    .where(DataKey.key_id == key.key_id)
                    .execute()
                )
                if not updated:
                    DataKey.create(key_id=key.key_id, wrapped=key.wrapped, active=key.active)


def open_branch_keyring(key_file: Path) -> Keyring:
    return open_keyring(key_file, DatabaseKeyStore())


def rotate_key_encryption_key(key_file: Path) -> int:
    return rotate_kek(key_file, DatabaseKeyStore())


def add_branch_data_key(key_file: Path) -> int:
    return add_data_key(key_file, DatabaseKeyStore())
