"""Uploaded files kept encrypted on disk: patients' documents, expense receipts.

The content decides the type (the name and the browser's word don't count), the size is
limited, and the bytes are sealed with the branch keyring before they touch the disk.
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

from physioez.core.kernel.errors import InvalidInput
from physioez.core.platform.crypto import Keyring

_SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)
# What an attachment can be, so a download's answer can be documented.
ACCEPTED_TYPES = tuple(content_type for _, content_type, _ in _SIGNATURES)


def sniff_type(data: bytes) -> str:
    """The file's real type from its first bytes."""
    for signature, content_type, _ in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    raise InvalidInput("Upload a PDF, JPEG or PNG file.", field="file")


def check_upload(data: bytes, max_bytes: int) -> str:
    """Refuse an empty or oversized upload with words a receptionist can act on; its type."""
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    if len(data) > max_bytes:
        raise InvalidInput(
            f"The file is larger than {max_bytes // (1024 * 1024)} MB. Scan at a lower "
            "resolution or split it.",
            field="file",
        )
    return sniff_type(data)


def safe_filename(filename: str, fallback: str = "document") -> str:
    """The name's letters (with their vowel signs: ``रिपोर्ट.pdf`` stays whole), digits, dots,
    dashes and spaces; anything else, such as a path or a control character, becomes ``_``."""
    name = Path(filename or fallback).name
    kept = "".join(c if c in ".- _" or unicodedata.category(c)[0] in "LMN" else "_" for c in name)
    return kept[:120] or fallback


def stored_path(folder: Path, file_id: str) -> Path:
    return folder / file_id[:2] / f"{file_id}.pez"


def store_encrypted(keyring: Keyring, folder: Path, file_id: str, data: bytes) -> Path:
    """Seal ``data`` to disk. Written before its database row: if the row fails the caller
    removes the file, and an orphan file left by a crash between the two is harmless."""
    path = stored_path(folder, file_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("wb") as handle:
        keyring.encrypt_stream(io.BytesIO(data), handle)
    return path


def read_encrypted(keyring: Keyring, folder: Path, file_id: str) -> bytes:
    output = io.BytesIO()
    with stored_path(folder, file_id).open("rb") as handle:
        keyring.decrypt_stream(handle, output)
    return output.getvalue()
