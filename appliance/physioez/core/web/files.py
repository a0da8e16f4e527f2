"""Files sent to the browser, under any name a person gave them.

Every download goes through Flask's ``send_file`` with ``download_name``: it writes the
RFC 5987 ``filename*`` form a browser needs for a name in Devanagari or Kannada
(``रिपोर्ट.pdf``, ``ವರದಿ.pdf``) beside a plain ASCII ``filename``. A hand-made
``Content-Disposition`` header put such a name in raw, which the server refuses to send.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from flask import Response, send_file


def send_bytes(data: bytes, name: str, mimetype: str, *, inline: bool = False) -> Response:
    """``data`` as a file named ``name``, shown in the browser when ``inline``."""
    return _send(io.BytesIO(data), name, mimetype, inline=inline)


def send_chunks(
    chunks: Iterable[bytes], name: str, mimetype: str, *, inline: bool = False
) -> Response:
    """A file made as it is sent (a month's CSV), without holding it in memory."""
    return _send(io.BufferedReader(_ChunkReader(iter(chunks))), name, mimetype, inline=inline)


def _send(handle, name: str, mimetype: str, *, inline: bool) -> Response:
    return send_file(
        handle,
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=name,
        conditional=False,
        max_age=0,
    )


class _ChunkReader(io.RawIOBase):
    """The chunks of a generator as a readable file, which is what ``send_file`` takes."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
