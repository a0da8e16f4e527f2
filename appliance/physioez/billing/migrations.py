"""Billing's numbered migrations. Never edit one that has shipped: add the next."""

from physioez.core.kernel.db import Migration

MIGRATIONS = [
    Migration(
        "billing.0001_billing",
        """
CREATE TABLE billing_service (
    
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
    kind TEXT NOT NULL CHECK (kind IN ('service', 'product', 'package')),
    tax_rate_bp INTEGER NOT NULL DEFAULT 0 CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    tax_code TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    package_service_code TEXT NOT NULL DEFAULT '',
    package_sessions INTEGER NOT NULL DEFAULT 0,
    package_validity_days INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE billing_price (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    service_id TEXT NOT NULL REFERENCES billing_service (id),
    category TEXT NOT NULL DEFAULT '',
    amount INTEGER NOT NULL CHECK (amount >= 0),
    valid_from TEXT NOT NULL
);
CREATE INDEX billing_price_lookup ON billing_price (service_id, category, valid_from);

CREATE TABLE patient_category (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    patient_id TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL
);

CREATE TABLE invoice (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    kind TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    number TEXT NOT NULL UNIQUE,
    fiscal_year INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    business_day TEXT NOT NULL,
    currency TEXT NOT NULL,
    lines TEXT NOT NULL,
    subtotal INTEGER NOT NULL,
    discount_total INTEGER NOT NULL DEFAULT 0,
    discount_reason TEXT NOT NULL DEFAULT '',
    tax_total INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL CHECK (total >= 0),
    visit_ids TEXT NOT NULL DEFAULT '[]',
    cancels_id TEXT REFERENCES invoice (id),
    reason TEXT NOT NULL DEFAULT '',
    issued_by TEXT NOT NULL
);
CREATE INDEX invoice_patient ON invoice (patient_id, issued_at);
CREATE INDEX invoice_day ON invoice (business_day);
CREATE UNIQUE INDEX invoice_one_credit_note ON invoice (cancels_id) WHERE cancels_id IS NOT NULL;

CREATE TABLE payment (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
    number TEXT NOT NULL UNIQUE,
    fiscal_year INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    business_day TEXT NOT NULL,
    tenders TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    received_by TEXT NOT NULL
);
CREATE INDEX payment_patient ON payment (patient_id, received_at);
CREATE INDEX payment_day ON payment (business_day);

CREATE TABLE settlement (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    invoice_id TEXT NOT NULL REFERENCES invoice (id),
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'credit', 'write_off', 'credit_note')),
    amount INTEGER NOT NULL CHECK (amount > 0),
    payment_id TEXT REFERENCES payment (id),
    credit_note_id TEXT REFERENCES invoice (id),
    reason TEXT NOT NULL DEFAULT '',
    business_day TEXT NOT NULL
);
CREATE INDEX settlement_invoice ON settlement (invoice_id);

CREATE TABLE package (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    patient_id TEXT NOT NULL,
    service_code TEXT NOT NULL,
    name TEXT NOT NULL,
    sessions_total INTEGER NOT NULL CHECK (sessions_total > 0),
    sessions_used INTEGER NOT NULL DEFAULT 0,
    value INTEGER NOT NULL,
    valid_until TEXT NOT NULL,
    invoice_id TEXT NOT NULL REFERENCES invoice (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'used_up', 'expired', 'cancelled')),
    CHECK (sessions_used BETWEEN 0 AND sessions_total)
);
CREATE INDEX package_patient ON package (patient_id, service_code, status);

CREATE TABLE package_use (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    package_id TEXT NOT NULL REFERENCES package (id),
    appointment_id TEXT NOT NULL UNIQUE,
    session_number INTEGER NOT NULL,
    value INTEGER NOT NULL,
    business_day TEXT NOT NULL
);

CREATE TABLE billing_visit (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    appointment_id TEXT NOT NULL UNIQUE,
    patient_id TEXT NOT NULL,
    practitioner_id TEXT NOT NULL,
    service_code TEXT NOT NULL,
    attended_at TEXT NOT NULL,
    business_day TEXT NOT NULL,
    invoice_id TEXT REFERENCES invoice (id),
    package_use_id TEXT REFERENCES package_use (id)
);
CREATE INDEX billing_visit_open ON billing_visit (business_day) WHERE invoice_id IS NULL;
CREATE INDEX billing_visit_patient ON billing_visit (patient_id);

CREATE TABLE journal_entry (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    posted_at TEXT NOT NULL,
    business_day TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    memo TEXT NOT NULL DEFAULT '',
    lines TEXT NOT NULL
);
CREATE INDEX journal_entry_day ON journal_entry (business_day);
CREATE INDEX journal_entry_ref ON journal_entry (ref_id);

CREATE TABLE journal_line (
    entry_id TEXT NOT NULL REFERENCES journal_entry (id),
    line_no INTEGER NOT NULL,
    account TEXT NOT NULL,
    patient_id TEXT,
    debit INTEGER NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit INTEGER NOT NULL DEFAULT 0 CHECK (credit >= 0),
    business_day TEXT NOT NULL,
    PRIMARY KEY (entry_id, line_no)
) WITHOUT ROWID;
CREATE INDEX journal_line_account ON journal_line (account, patient_id);
CREATE INDEX journal_line_day ON journal_line (business_day, account);

CREATE TABLE day_close (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    business_day TEXT NOT NULL UNIQUE,
    closed_at TEXT NOT NULL,
    closed_by TEXT NOT NULL,
    expected TEXT NOT NULL,
    counted TEXT NOT NULL,
    difference_reason TEXT NOT NULL DEFAULT '',
    z_report TEXT NOT NULL
);

CREATE TABLE billing_number_series (
    series TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    last_number INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (series, fiscal_year)
) WITHOUT ROWID;
""",
    ),
    Migration(
        "billing.0002_expenses",
        """
CREATE TABLE expense (
    
    id TEXT PRIMARY KEY NOT NULL,
    origin_branch TEXT NOT NULL,
    hlc TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
,
    business_day TEXT NOT NULL,
    category TEXT NOT NULL,
    vendor TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    mode TEXT NOT NULL CHECK (mode IN ('cash', 'petty_cash', 'bank', 'card', 'upi')),
    notes TEXT NOT NULL DEFAULT '',
    receipt_filename TEXT,
    receipt_content_type TEXT,
    recorded_by TEXT NOT NULL
);
CREATE INDEX expense_day ON expense (business_day);
""",
    ),
    Migration(
        "billing.0003_package_use_day",
        """
-- The revenue report and the Z-report sum a day's or a month's pack sessions.
CREATE INDEX package_use_day ON package_use (business_day);
""",
    ),
]
