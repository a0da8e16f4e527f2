"""Head office's tables per entity (patient, appointment, invoice…), made from the same models the
branches use, with ``branch_id`` on every row: what head office's reports and tools query.

``replicated_row`` stays the record of what was replicated (canonical JSON, what anti-entropy
and the merge work on); each change applied there is also written here, in the same
transaction, as typed columns: UTC times as ``DATETIME(6)``, dates as ``DATE``, flags as
``TINYINT``, JSON fields as text. A row is only ever replaced by a newer state (by HLC), as
in ``replicated_row``. ``create_tables`` makes the tables and adds the columns a newer model
has (a branch one version behind sends rows without them: they stay NULL), so an upgrade of
head office is: install, run ``physioez-hq register-branch`` or start ``hq-ingest``.

The branch's unique constraints are not copied: two branches may each have their own
"code 7". Shared records (patients) hold the merged state, ``branch_id`` the branch that
registered them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from peewee import BooleanField, Field, ForeignKeyField, IntegerField

from physioez.core.kernel.models import IsoDateField, JsonField, UtcDateTimeField

log = logging.getLogger(__name__)

TEXT, KEY, FLAG, NUMBER, MOMENT, DAY, DOCUMENT = (
    "text",
    "key",
    "flag",
    "number",
    "moment",
    "day",
    "document",
)
_MYSQL_TYPES = {
    TEXT: "LONGTEXT",
    KEY: "VARCHAR(64)",
    FLAG: "TINYINT(1)",
    NUMBER: "BIGINT",
    MOMENT: "DATETIME(6)",
    DAY: "DATE",
    DOCUMENT: "LONGTEXT",
}


def _kind(field: Field) -> str:
    if field.primary_key or isinstance(field, ForeignKeyField) or field.name == "hlc":
        return KEY
    if isinstance(field, BooleanField):
        return FLAG
    if isinstance(field, IntegerField):
        return NUMBER
    if isinstance(field, UtcDateTimeField):
        return MOMENT
    if isinstance(field, IsoDateField):
        return DAY
    if isinstance(field, JsonField):
        return DOCUMENT
    return TEXT


@dataclass(frozen=True)
class EntityTable:
    name: str
    columns: tuple[tuple[str, str, str], ...]  # (name in the row's JSON, column, kind)

    def ddl(self) -> str:
        columns = ",\n    ".join(
            f"`{column}` {_MYSQL_TYPES[kind]}{' NOT NULL' if column == 'id' else ' NULL'}"
            for _, column, kind in self.columns
        )
        return (
            f"CREATE TABLE IF NOT EXISTS `{self.name}` (\n    {columns},\n"
            "    `branch_id` VARCHAR(16) NOT NULL,\n    PRIMARY KEY (`id`),\n"
            f"    KEY `{self.name}_branch` (`branch_id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        )

    @property
    def upsert(self) -> str:
        names = [column for _, column, _ in self.columns]
        listed = ", ".join(f"`{column}`" for column in [*names, "branch_id"])
        marks = ", ".join(["%s"] * (len(names) + 1))
        # Only a newer state replaces the row; hlc is assigned last, since MySQL assigns left
        # to right and every test before it must see the old one.
        newer = "VALUES(`hlc`) >= `hlc`"
        updates = ", ".join(
            f"`{column}` = IF({newer}, VALUES(`{column}`), `{column}`)"
            for column in [*names, "branch_id"]
            if column not in ("id", "hlc")
        )
        return (
            f"INSERT INTO `{self.name}` ({listed}) VALUES ({marks}) "  # noqa: S608 - model names
            f"ON DUPLICATE KEY UPDATE {updates}, `hlc` = GREATEST(`hlc`, VALUES(`hlc`))"
        )

    def values(self, row: dict[str, Any], branch: str) -> tuple:
        return (*(_typed(kind, row.get(name)) for name, _, kind in self.columns), branch)


def _typed(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == FLAG:
        return 1 if value else 0
    if kind == MOMENT:
        return str(value).rstrip("Z").replace("T", " ")
    if kind == DOCUMENT:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


_built: tuple[dict, dict[str, EntityTable]] = ({}, {})


def entity_tables() -> dict[str, EntityTable]:
    """One per replicated model of the modules imported so far, by table name."""
    global _built
    from physioez.sync.services.downstream import replicated_models

    models = replicated_models()
    if _built[0] is not models:
        tables = {
            table: EntityTable(
                table,
                tuple(
                    (field.name, field.column_name, _kind(field))
                    for field in model._meta.sorted_fields
                ),
            )
            for table, model in sorted(models.items())
        }
        _built = (models, tables)
    return _built[1]


def create_tables(cursor) -> None:
    """Make every entity table, and add the columns a newer model has."""
    for table in entity_tables().values():
        cursor.execute(table.ddl())
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s",
            (table.name,),
        )
        present = {name.lower() for (name,) in cursor.fetchall()}
        for _, column, kind in table.columns:
            if column.lower() not in present:
                cursor.execute(
                    f"ALTER TABLE `{table.name}` ADD COLUMN `{column}` {_MYSQL_TYPES[kind]} NULL"
                )


_unknown: set[str] = set()


def project(cursor, states: list[tuple[str, dict, str]]) -> None:
    """Write (table, record state, branch) into the entity tables, a statement per table;
    rows of tables this head office does not know (a newer branch's) wait in replicated_row."""
    tables = entity_tables()
    by_table: dict[str, list[tuple]] = {}
    for name, record, branch in states:
        table = tables.get(name)
        if table is not None:
            by_table.setdefault(name, []).append(table.values(record, branch))
        elif name not in _unknown:
            _unknown.add(name)
            log.warning(
                "no entity table for %r in this process (a newer branch's table, or its "
                "module not loaded): its rows are kept in replicated_row only",
                name,
            )
    for name, rows in by_table.items():
        cursor.executemany(tables[name].upsert, rows)
