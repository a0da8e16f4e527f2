"""Canonical JSON: one spelling per value, for every text that is hashed, signed or compared.

Keys sorted, no spaces. Two spellings of non-ASCII text exist, each frozen by data already
written with it:

- UTF-8 as is (the default): stored rows and JSON columns, the outbox, and the audit chain,
  whose hashes ``physioez audit verify`` recomputes from this text;
- ``\\uXXXX`` escapes (``ascii_only=True``): what replication hashes and signs, the batches on
  the wire, each record's digest on the branch and head office's receipts and stored rows,
  which digests are compared against.

Changing either spelling would make existing audit chains or head office's digests disagree
with what the code computes, so both stay and every such text comes from here.
"""

from __future__ import annotations

import json
from typing import Any

# Built once: json.dumps with any option builds a new encoder per call, and every mutation
# encodes its row, its audit before/after and its outbox row.
_UTF8 = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ASCII = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def canonical_json(value: Any, *, ascii_only: bool = False) -> str:
    """The one spelling of ``value``; ``ascii_only`` for what replication hashes and signs."""
    return (_ASCII if ascii_only else _UTF8).encode(value)
