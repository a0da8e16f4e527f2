"""The inquiry tables' migration; appended to ``reception.schema.MIGRATIONS``. Never edit a
shipped one: add the next number."""

from physioez.core.kernel.db import Migration
from physioez.core.kernel.schema import REPLICATED_COLUMNS

INQUIRY_MIGRATIONS = [
    Migration(
        "reception.0003_inquiries",
        f"""
-- Leads before they are patients. The checks keep the pipeline honest even if a future code
-- path forgets: a converted inquiry names its patient, a lost one says why.
CREATE TABLE inquiry (
    {REPLICATED_COLUMNS},
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
    {REPLICATED_COLUMNS},
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
]
