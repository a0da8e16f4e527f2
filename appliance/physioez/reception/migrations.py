"""The front desk's numbered migrations. Never edit one that has shipped: add the next."""

from physioez.core.kernel.db import Migration

MIGRATIONS = [
    Migration(
        "reception.0001_patients",
        """
CREATE TABLE patient (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    mrn TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    date_of_birth TEXT,
    dob_estimated INTEGER NOT NULL DEFAULT 0,
    phone TEXT NOT NULL,
    phone_key TEXT NOT NULL,
    phone_alt TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    emergency_name TEXT NOT NULL DEFAULT '',
    emergency_phone TEXT NOT NULL DEFAULT '',
    emergency_relation TEXT NOT NULL DEFAULT '',
    referral_source TEXT NOT NULL DEFAULT '',
    referring_doctor TEXT NOT NULL DEFAULT '',
    alerts TEXT NOT NULL DEFAULT '[]',
    merged_into TEXT REFERENCES patient (id)
);
CREATE INDEX patient_phone_key ON patient (phone_key);
CREATE INDEX patient_dob ON patient (date_of_birth);
CREATE INDEX patient_name ON patient (last_name COLLATE NOCASE, first_name COLLATE NOCASE);

-- Gap-free human numbers per branch: the counter moves only inside the registering
-- transaction, so a rolled-back registration gives its number back.
CREATE TABLE mrn_sequence (
    branch TEXT PRIMARY KEY NOT NULL,
    last_number INTEGER NOT NULL
);

CREATE TABLE patient_consent (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    patient_id TEXT NOT NULL REFERENCES patient (id),
    kind TEXT NOT NULL,
    given INTEGER NOT NULL,
    captured_by TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX patient_consent_patient ON patient_consent (patient_id, kind, created_at);

CREATE TABLE patient_document (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    patient_id TEXT NOT NULL REFERENCES patient (id),
    kind TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT
);
CREATE INDEX patient_document_patient ON patient_document (patient_id);

-- Name, phone and MRN search for 60,000+ patients: prefix queries on an FTS5 index kept in
-- step with the table by triggers, so no code path can forget it.
CREATE VIRTUAL TABLE patient_search USING fts5(
    patient_id UNINDEXED, name, phones, mrn,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER patient_search_insert AFTER INSERT ON patient BEGIN
    INSERT INTO patient_search (patient_id, name, phones, mrn)
    VALUES (new.id, new.first_name || ' ' || new.last_name,
            new.phone_key || ' ' || new.phone_alt, new.mrn);
END;
CREATE TRIGGER patient_search_update AFTER UPDATE OF first_name, last_name, phone_key, phone_alt,
    mrn ON patient BEGIN
    UPDATE patient_search SET name = new.first_name || ' ' || new.last_name,
        phones = new.phone_key || ' ' || new.phone_alt, mrn = new.mrn
    WHERE patient_id = new.id;
END;
""",
    ),
    Migration(
        "reception.0002_scheduling",
        """
-- Who can be booked: a staff member who treats patients at this branch.
CREATE TABLE practitioner (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    staff_id TEXT NOT NULL UNIQUE REFERENCES staff (id),
    display_name TEXT NOT NULL,
    colour TEXT NOT NULL DEFAULT '#0f766e',
    active INTEGER NOT NULL DEFAULT 1
);

-- Weekly working hours in the branch's local time; weekday 0 = Monday.
CREATE TABLE availability_rule (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    practitioner_id TEXT NOT NULL REFERENCES practitioner (id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    valid_from TEXT,
    valid_until TEXT
);
CREATE INDEX availability_rule_practitioner ON availability_rule (practitioner_id, weekday);

-- Dated exceptions: leave (no work) and extra shifts, local time; no times = the whole day.
CREATE TABLE availability_exception (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    practitioner_id TEXT NOT NULL REFERENCES practitioner (id),
    day TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('leave', 'extra')),
    start_time TEXT,
    end_time TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX availability_exception_day ON availability_exception (practitioner_id, day);

CREATE TABLE resource (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    kind TEXT NOT NULL CHECK (kind IN ('room', 'equipment')),
    name TEXT NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity >= 1),
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE appointment_type (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    name TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    service_code TEXT NOT NULL DEFAULT '',
    colour TEXT NOT NULL DEFAULT '#2563eb',
    group_capacity INTEGER NOT NULL DEFAULT 1 CHECK (group_capacity >= 1),
    resource_ids TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE appointment_series (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    patient_id TEXT NOT NULL REFERENCES patient (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioner (id),
    type_id TEXT NOT NULL REFERENCES appointment_type (id),
    rrule TEXT NOT NULL,
    local_start TEXT NOT NULL,
    timezone TEXT NOT NULL
);

CREATE TABLE appointment (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    patient_id TEXT NOT NULL REFERENCES patient (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioner (id),
    type_id TEXT NOT NULL REFERENCES appointment_type (id),
    start_at TEXT NOT NULL,
    end_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'confirmed', 'arrived', 'in_session',
        'completed', 'no_show', 'cancelled')),
    resource_ids TEXT NOT NULL DEFAULT '[]',
    class_id TEXT,
    series_id TEXT REFERENCES appointment_series (id),
    series_index INTEGER,
    notes TEXT NOT NULL DEFAULT '',
    override_reason TEXT NOT NULL DEFAULT '',
    cancel_reason TEXT NOT NULL DEFAULT '',
    late_cancel INTEGER NOT NULL DEFAULT 0,
    status_changed_at TEXT,
    status_changed_by TEXT,
    arrived_at TEXT,
    started_at TEXT,
    completed_at TEXT,
    CHECK (end_at > start_at)
);
CREATE INDEX appointment_start ON appointment (start_at);
CREATE INDEX appointment_practitioner ON appointment (practitioner_id, start_at);
CREATE INDEX appointment_patient ON appointment (patient_id, start_at);
CREATE INDEX appointment_series_index ON appointment (series_id, series_index);

-- Per-branch choice for each clash rule: 'block' or 'warn' (override with a reason).
CREATE TABLE clash_rule_setting (
    rule TEXT PRIMARY KEY NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('block', 'warn')),
    updated_at TEXT NOT NULL,
    updated_by TEXT
);

CREATE TABLE waitlist_entry (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    patient_id TEXT NOT NULL REFERENCES patient (id),
    practitioner_id TEXT REFERENCES practitioner (id),
    type_id TEXT NOT NULL REFERENCES appointment_type (id),
    priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 1 AND 3),
    preferred_weekdays TEXT NOT NULL DEFAULT '[]',
    earliest_time TEXT,
    latest_time TEXT,
    status TEXT NOT NULL DEFAULT 'waiting'
        CHECK (status IN ('waiting', 'offered', 'booked', 'removed')),
    offered_appointment_start TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX waitlist_status ON waitlist_entry (status, priority, created_at);
""",
    ),
    Migration(
        "reception.0003_inquiries",
        """
-- Leads before they are patients. The checks keep the pipeline honest even if a future code
-- path forgets: a converted inquiry names its patient, a lost one says why.
CREATE TABLE inquiry (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    phone_key TEXT NOT NULL,
    source TEXT NOT NULL
        CHECK (source IN ('walk_in', 'phone', 'website', 'referral', 'campaign')),
    source_note TEXT NOT NULL DEFAULT '',
    complaint TEXT NOT NULL DEFAULT '',
    preferred_times TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'contacted', 'booked', 'converted', 'lost')),
    lost_reason TEXT NOT NULL DEFAULT '',
    status_changed_at TEXT,
    patient_id TEXT REFERENCES patient (id),
    first_appointment_id TEXT REFERENCES appointment (id),
    converted_at TEXT,
    assigned_to TEXT REFERENCES staff (id),
    CHECK (status <> 'converted' OR (patient_id IS NOT NULL AND converted_at IS NOT NULL)),
    CHECK (status <> 'lost' OR lost_reason <> '')
);
CREATE INDEX inquiry_status ON inquiry (status, created_at);
CREATE INDEX inquiry_created ON inquiry (created_at);
CREATE INDEX inquiry_phone_key ON inquiry (phone_key);
CREATE INDEX inquiry_patient ON inquiry (patient_id);

-- Follow-ups; due_on is a branch-local calendar day.
CREATE TABLE inquiry_task (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    inquiry_id TEXT NOT NULL REFERENCES inquiry (id),
    title TEXT NOT NULL,
    due_on TEXT NOT NULL,
    done_at TEXT,
    done_by TEXT
);
CREATE INDEX inquiry_task_inquiry ON inquiry_task (inquiry_id, due_on);
CREATE INDEX inquiry_task_open ON inquiry_task (due_on) WHERE done_at IS NULL;
""",
    ),
    Migration(
        "reception.0004_calendar_feeds",
        """
-- Read-only iCalendar feeds: the URL carries a random token; only its SHA-256 is kept, so
-- a database copy cannot be used to read anyone's diary. Branch-local, never replicated.
CREATE TABLE calendar_feed (
    id TEXT PRIMARY KEY NOT NULL,
    practitioner_id TEXT NOT NULL REFERENCES practitioner (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX calendar_feed_practitioner ON calendar_feed (practitioner_id);
""",
    ),
    Migration(
        "reception.0005_reminders",
        """
-- Next-day reminders, queued per channel only where the patient consented. Sending through
-- SMS/WhatsApp gateways comes later; the queue and its states are what the desk sees now.
CREATE TABLE reminder (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    appointment_id TEXT NOT NULL REFERENCES appointment (id),
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'whatsapp', 'email')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'cancelled')),
    destination TEXT NOT NULL,
    send_after TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    UNIQUE (appointment_id, channel)
);
CREATE INDEX reminder_status ON reminder (status, send_after);
""",
    ),
]
