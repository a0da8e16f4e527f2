"""The front desk's numbered migrations. Never edit one that has shipped: add the next."""

from physioez.core.db import Migration
from physioez.core.schema import REPLICATED_COLUMNS

MIGRATIONS = [
    Migration(
        "reception.0001_patients",
        f"""
CREATE TABLE patient (
    {REPLICATED_COLUMNS},
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
    {REPLICATED_COLUMNS},
    patient_id TEXT NOT NULL REFERENCES patient (id),
    kind TEXT NOT NULL,
    given INTEGER NOT NULL,
    captured_by TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX patient_consent_patient ON patient_consent (patient_id, kind, created_at);

CREATE TABLE patient_document (
    {REPLICATED_COLUMNS},
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
""",  # noqa: S608 - DDL with trigger bodies; no value is interpolated
    ),
]
