"""The branch side's local replication state. Never edit a shipped migration: add the next."""

from physioez.core.db import Migration

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
]
