"""The branch side's local replication state. Never edit a shipped migration: add the next."""

from physioez.core.kernel.db import Migration

MIGRATIONS = [
    Migration(
        "sync.0001_state",
        """
-- What head office has acknowledged (committed to MySQL), so a restart resends from there.
CREATE TABLE sync_state (
    name TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
INSERT INTO sync_state (name, value) VALUES ('acked_seq', 0);
-- The latest outbox row of each record, for the digests compared with head office.
CREATE INDEX outbox_record ON outbox (table_name, row_key, seq);
""",
    ),
    Migration(
        "sync.0002_conflicts_and_resends",
        """
-- Conflicts over shared records (patients) this branch took part in, as head office told it:
-- the IT person sees them on the replication page; an admin at head office reviews them.
CREATE TABLE sync_conflict_notice (
    id INTEGER PRIMARY KEY NOT NULL,
    table_name TEXT NOT NULL,
    row_key TEXT NOT NULL,
    fields TEXT NOT NULL,
    winner_branch TEXT NOT NULL,
    loser_branch TEXT NOT NULL,
    winner_values TEXT NOT NULL,
    loser_values TEXT NOT NULL,
    status TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX sync_conflict_notice_status ON sync_conflict_notice (status, id);
-- A table being sent to head office again, a chunk per publisher tick: how far it got.
CREATE TABLE sync_resend (
    table_name TEXT PRIMARY KEY NOT NULL,
    after_key TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
""",
    ),
]
