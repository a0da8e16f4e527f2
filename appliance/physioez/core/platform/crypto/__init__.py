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

from physioez.core.platform.crypto.common import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CREDENTIAL_NAME,
    KEY_SIZE,
    MAX_CHUNK_SIZE,
    CryptoError,
    DecryptionError,
    KeyFileError,
    KeyStoreError,
    KeyUnwrapError,
    WrappedKey,
    WrappedKeyStore,
    unwrap_key,
    wrap_key,
)
from physioez.core.platform.crypto.kekfile import load_or_create_kek, pending_kek
from physioez.core.platform.crypto.keyring import Keyring
from physioez.core.platform.crypto.operations import add_data_key, open_keyring, rotate_kek

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
