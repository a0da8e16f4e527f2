"""The core's numbered migrations. Never edit one that has shipped: add the next number."""

from physioez.core.kernel.db import Migration

# Columns every replicated table carries; see ReplicatedModel.
REPLICATED_COLUMNS = """
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
"""

MIGRATIONS = [
    Migration(
        "core.0001_identity",
        """
CREATE TABLE role (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]',
    head_office INTEGER NOT NULL DEFAULT 0,
    builtin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE staff (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    full_name TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    role_codes TEXT NOT NULL DEFAULT '[]',
    password_hash TEXT NOT NULL,
    pin_hash TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1,
    session_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE login_throttle (
    staff_id TEXT PRIMARY KEY NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT
);
CREATE TABLE api_token (
    id TEXT PRIMARY KEY NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX api_token_staff ON api_token (staff_id);
""",
    ),
    Migration(
        "core.0002_audit_outbox_keys",
        """
CREATE TABLE audit_event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor_id TEXT,
    actor_roles TEXT NOT NULL,
    ip TEXT NOT NULL,
    device TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_event_entity ON audit_event (entity_type, entity_id, seq);
CREATE INDEX audit_event_at ON audit_event (at);
CREATE INDEX audit_event_actor ON audit_event (actor_id, seq);
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    row_key TEXT NOT NULL,
    row_json TEXT NOT NULL,
    hlc TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE data_key (
    key_id INTEGER PRIMARY KEY,
    wrapped BLOB NOT NULL,
    active INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
""",
    ),
    Migration(
        "core.0003_staff_sessions",
        """
CREATE TABLE staff_session (
    sid TEXT PRIMARY KEY NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    locked INTEGER NOT NULL DEFAULT 0,
    ended_at TEXT,
    ip TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT ''
);
CREATE INDEX staff_session_staff ON staff_session (staff_id, ended_at);
""",
    ),
    Migration(
        "core.0004_permission_catalog",
        """
-- Every permission code this box has seen, so an upgrade can tell new ones from ones an
-- admin took away.
CREATE TABLE permission_catalog (code TEXT PRIMARY KEY NOT NULL);
""",
    ),
    Migration(
        "core.0005_background_job",
        """
-- Long work run off the request path (exports) and its progress. Branch-local housekeeping:
-- never replicated; a row and its file are removed a day after the job finishes.
CREATE TABLE background_job (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    result_path TEXT,
    download_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX background_job_staff ON background_job (staff_id, created_at);
CREATE INDEX background_job_state ON background_job (state, finished_at);
""",
    ),
    Migration(
        "core.0006_outbox_base",
        """
-- For an edit of a shared record (a patient seen at several branches): the values the
-- changed fields had before it, so head office can merge edits from two branches field by
-- field and tell an edit that knew the current value from a concurrent one.
ALTER TABLE outbox ADD COLUMN base_json TEXT;
""",
    ),
    Migration(
        "core.0007_chain_policy",
        """
-- Rules head office sets for every branch (core.policies), in place of the branch's own
-- settings of the same name; written only by replication from head office.
CREATE TABLE chain_policy (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    name TEXT NOT NULL UNIQUE,
    value TEXT NOT NULL
);
""",
    ),
]
