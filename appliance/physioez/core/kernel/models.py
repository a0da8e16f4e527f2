"""Base models and the core's own tables.

Times are stored as UTC ISO-8601 text with a ``Z`` so they sort as text and cannot be
mistaken for local time. Replicated tables carry what head office needs to merge them: a
UUIDv7 key, the branch that made the row, an HLC stamp, a version and a soft-delete mark.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar

from peewee import (
    BlobField,
    BooleanField,
    Field,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from physioez.core.kernel.canonical import canonical_json
from physioez.core.kernel.db import database
from physioez.core.kernel.ids import uuid7_str

_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_utc(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given where a UTC time is stored")
    value = value.astimezone(UTC)
    if value.year < 1000:
        return value.strftime(_UTC_FORMAT)  # strftime does not pad such years; isoformat does.
    # A booking formats about twenty times (its row twice, the clash window, audit, outbox):
    # isoformat is the same text at a third of strftime's cost.
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_utc(text: str) -> datetime:
    # fromisoformat reads our own format ("...Z") 50x faster than strptime; a day view
    # parses thousands of these.
    return datetime.fromisoformat(text).astimezone(UTC)


class UtcDateTimeField(Field):
    field_type = "TEXT"

    def db_value(self, value: datetime | None) -> str | None:
        return None if value is None else format_utc(value)

    def python_value(self, value: str | None) -> datetime | None:
        return None if value is None else parse_utc(value)


class IsoDateField(Field):
    """A calendar date (birthdays, leave days) as ``YYYY-MM-DD``: no time zone to get wrong."""

    field_type = "TEXT"

    def db_value(self, value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    def python_value(self, value: str | None) -> date | None:
        return None if value is None else date.fromisoformat(value)


class JsonField(TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else canonical_json(value)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


_INSERT_SQL: dict[type, tuple[str, list]] = {}


def insert_row(instance: Model) -> None:
    """INSERT one row with SQL built once per table.

    Every mutation writes three rows (the record, its audit event, its outbox entry) under
    the write lock; building each INSERT with peewee's query builder cost more than SQLite
    spent executing it. Auto-increment keys left unset are filled in from SQLite.
    """
    model = type(instance)
    cached = _INSERT_SQL.get(model)
    if cached is None:
        # The log tables' "seq" keys are assigned by SQLite (AUTOINCREMENT).
        fields = [f for f in model._meta.sorted_fields if not (f.primary_key and f.name == "seq")]
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        marks = ", ".join("?" for _ in fields)
        table = model._meta.table_name
        sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks})'  # noqa: S608 - model names
        cached = (sql, fields)
        _INSERT_SQL[model] = cached
    sql, fields = cached
    values = [field.db_value(instance.__data__.get(field.name)) for field in fields]
    cursor = model._meta.database.execute_sql(sql, values)
    if "seq" in model._meta.fields and instance.__data__.get("seq") is None:
        instance.__data__["seq"] = model._meta.database.last_insert_id(cursor)
    instance._dirty.clear()


_SELECT_SQL: dict[type, tuple[str, list]] = {}

M = TypeVar("M", bound=Model)


def fetch_by_id(model: type[M], key: Any) -> M | None:
    """The row with primary key ``key`` (deleted or not), with SQL built once per table.

    The hot paths look up a few rows by id on every request (the patient, practitioner and
    type of a booking); peewee's ``get_or_none`` spent about 2 ms a lookup building the
    SELECT, many times what SQLite took to answer it.
    """
    cached = _SELECT_SQL.get(model)
    if cached is None:
        fields = list(model._meta.sorted_fields)
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        table = model._meta.table_name
        key_column = model._meta.primary_key.column_name
        sql = f'SELECT {columns} FROM "{table}" WHERE "{key_column}" = ?'  # noqa: S608 - model names
        cached = (sql, fields)
        _SELECT_SQL[model] = cached
    sql, fields = cached
    row = model._meta.database.execute_sql(sql, (model._meta.primary_key.db_value(key),)).fetchone()
    if row is None:
        return None
    # Built the way peewee's own result wrapper builds a row: no defaults, nothing dirty.
    instance = model(__no_default__=1)
    data = instance.__data__
    for field, value in zip(fields, row, strict=True):
        data[field.name] = field.python_value(value)
    instance._dirty.clear()
    return instance


class BaseModel(Model):
    """Every table. ``audit_entity`` names it in audit events; secrets never reach the log."""

    audit_entity: ClassVar[str] = ""
    audit_redact: ClassVar[frozenset[str]] = frozenset()

    class Meta:
        database = database
        legacy_table_names = False

    def snapshot(self) -> dict[str, Any]:
        """The row as plain JSON values, for audit before/after and the outbox."""
        row: dict[str, Any] = {}
        for name in self._meta.fields:
            value = self.__data__.get(name)
            if isinstance(value, datetime):
                value = format_utc(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, bytes):
                value = value.hex()
            row[name] = value
        return row

    def audit_snapshot(self) -> dict[str, Any]:
        return self.redacted(self.snapshot())

    @classmethod
    def redacted(cls, row: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``row`` (a snapshot) as the audit log keeps it: secrets masked."""
        return {
            name: "[redacted]" if name in cls.audit_redact and value is not None else value
            for name, value in row.items()
        }


# Every replicated model, in the order its module defined it (see ReplicatedModel).
REPLICATED_MODELS: list[type[ReplicatedModel]] = []


class ReplicatedModel(BaseModel):
    """A table that replicates to head office through the outbox."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REPLICATED_MODELS.append(cls)

    schema_version: ClassVar[int] = 1
    # Who is authoritative for the table: the branch that wrote a row ("branch"), head office
    # ("hq": its changes come down to every branch), or both ("shared"). Replication applies
    # rows coming down from head office only to "hq" and "shared" tables.
    ownership: ClassVar[str] = "branch"

    id = TextField(primary_key=True, default=uuid7_str)
    origin_branch = TextField()
    hlc = TextField()
    version = IntegerField(default=1)
    # Annotated with what an instance holds (peewee's fields are descriptors).
    created_at: Any = UtcDateTimeField(default=utcnow)
    updated_at: Any = UtcDateTimeField(default=utcnow)
    deleted_at: Any = UtcDateTimeField(null=True)

    @classmethod
    def live(cls):
        """Rows not soft-deleted."""
        return cls.select().where(cls.deleted_at.is_null())


# --- identity -----------------------------------------------------------------------------


class Role(ReplicatedModel):
    audit_entity = "role"
    ownership = "hq"

    code = TextField(unique=True)
    name = TextField()
    description = TextField(default="")
    permissions = JsonField(default=list)
    head_office = BooleanField(default=False)
    builtin = BooleanField(default=False)


class ChainPolicy(ReplicatedModel):
    """A rule head office sets for every branch (core.policies); the value is JSON."""

    audit_entity = "chain_policy"
    ownership = "hq"

    name = TextField(unique=True)
    value = TextField()


class Staff(ReplicatedModel):
    audit_entity = "staff"
    ownership = "hq"
    audit_redact = frozenset({"password_hash", "pin_hash"})

    username = TextField(unique=True)
    full_name = TextField()
    email = TextField(default="")
    phone = TextField(default="")
    role_codes = JsonField(default=list)
    password_hash = TextField()
    pin_hash = TextField(null=True)
    must_change_password = BooleanField(default=True)
    active = BooleanField(default=True)
    # Bumped on password change or deactivation so other signed-in sessions end.
    session_epoch = IntegerField(default=0)

    @property
    def display_roles(self) -> str:
        return ", ".join(self.role_codes)

    # Flask-Login's user protocol, kept here so the web layer needs no wrapper class.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active) and self.deleted_at is None

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"


class LoginThrottle(BaseModel):
    """Failed sign-ins per account; branch-local, so it never replicates."""

    audit_entity = "login_throttle"

    staff = ForeignKeyField(Staff, primary_key=True, on_delete="CASCADE")
    failures = IntegerField(default=0)
    locked_until = UtcDateTimeField(null=True)


class ApiToken(BaseModel):
    audit_entity = "api_token"
    audit_redact = frozenset({"token_hash"})

    id = TextField(primary_key=True, default=uuid7_str)
    staff = ForeignKeyField(Staff, backref="api_tokens", on_delete="CASCADE")
    name = TextField()
    prefix = TextField()
    token_hash = TextField(unique=True)
    scopes = JsonField(default=list)
    created_by = TextField()
    created_at = UtcDateTimeField(default=utcnow)
    expires_at = UtcDateTimeField(null=True)
    last_used_at = UtcDateTimeField(null=True)
    revoked_at = UtcDateTimeField(null=True)


# --- audit, outbox, keys ----------------------------------------------------------------


class AuditEvent(BaseModel):
    seq = IntegerField(primary_key=True)
    id = TextField(unique=True)
    at = TextField()
    kind = TextField()
    actor_id = TextField(null=True)
    actor_roles = TextField()
    ip = TextField()
    device = TextField()
    action = TextField()
    entity_type = TextField()
    entity_id = TextField()
    before = TextField(null=True)
    after = TextField(null=True)
    detail = TextField(null=True)
    prev_hash = TextField()
    hash = TextField()


class OutboxEntry(BaseModel):
    seq = IntegerField(primary_key=True)
    table_name = TextField()
    operation = TextField()
    row_key = TextField()
    row_json = TextField()
    hlc = TextField()
    schema_version = IntegerField()
    created_at = TextField()
    base_json = TextField(null=True)

    class Meta:
        table_name = "outbox"


class DataKey(BaseModel):
    key_id = IntegerField(primary_key=True)
    wrapped = BlobField()
    active = BooleanField()
    created_at = UtcDateTimeField(default=utcnow)
