"""Every peewee model matches the table the migrations made: a field per column, each of a
compatible type and nullability, so a model can never read or write a column that is not there
(or miss one that is)."""

from __future__ import annotations

import importlib
import pkgutil

import peewee
import pytest

import physioez
from physioez.core.kernel.db import database, write_transaction
from physioez.core.kernel.models import BaseModel, ReplicatedModel

# Bases that hold shared fields and have no table of their own.
ABSTRACT = {BaseModel, ReplicatedModel}

# (table, column) a model deliberately leaves out, with the reason. Kept empty unless a column
# really must stay unmapped; a stale entry fails the test below.
UNMAPPED: dict[tuple[str, str], str] = {}


def all_models() -> list[type[peewee.Model]]:
    """Every model bound to the branch database, in every module of the package."""
    for info in pkgutil.walk_packages(physioez.__path__, "physioez."):
        importlib.import_module(info.name)
    found, todo = set(), [peewee.Model]
    while todo:
        for model in todo.pop().__subclasses__():
            todo.append(model)
            shipped = model.__module__.startswith("physioez.")
            if shipped and model._meta.database is database and model not in ABSTRACT:
                found.add(model)
    return sorted(found, key=lambda model: model._meta.table_name)


def affinity(declared: str) -> str:
    """SQLite's type affinity of a declared column type (https://sqlite.org/datatype3.html)."""
    declared = declared.upper()
    if "INT" in declared:
        return "INTEGER"
    if any(word in declared for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not declared or "BLOB" in declared:
        return "BLOB"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def field_type(field: peewee.Field) -> str:
    if isinstance(field, peewee.ForeignKeyField):
        return field_type(field.rel_field)
    return database.obj.field_types.get(field.field_type, field.field_type)


def mismatches(model: type[peewee.Model]) -> list[str]:
    table = model._meta.table_name
    columns = {
        row[1]: row for row in database.execute_sql(f"PRAGMA table_info('{table}')").fetchall()
    }
    if not columns:
        return [f"{model.__name__}: no table {table!r}"]
    fields = {field.column_name: field for field in model._meta.sorted_fields}
    key = model._meta.primary_key
    if isinstance(key, peewee.CompositeKey):
        keys = {model._meta.fields[name].column_name for name in key.field_names}
    else:
        keys = {key.column_name} if key else set()  # a model may declare it has none
    found = []
    for name, field in fields.items():
        if name not in columns:
            found.append(f"{table}.{name}: a field of {model.__name__} with no column")
            continue
        _, _, declared, notnull, _, pk = columns[name]
        if affinity(declared) != affinity(field_type(field)):
            found.append(f"{table}.{name}: column {declared}, field {field_type(field)}")
        if bool(pk) != (name in keys):
            found.append(f"{table}.{name}: primary key in one and not the other")
        column_nullable = not notnull and not pk
        if column_nullable != field.null:
            found.append(
                f"{table}.{name}: column {'NULL' if column_nullable else 'NOT NULL'}, "
                f"field null={field.null}"
            )
    for name in columns.keys() - fields.keys():
        if (table, name) not in UNMAPPED:
            found.append(f"{table}.{name}: a column {model.__name__} does not map")
    return found


def test_every_model_matches_its_migrated_table(app):
    models = all_models()
    assert len(models) > 30  # the walk found the modules' models, not just the kernel's
    problems = [problem for model in models for problem in mismatches(model)]
    assert not problems, "\n".join(problems)


def test_every_deliberately_unmapped_column_exists_and_is_unmapped(app):
    by_table = {model._meta.table_name: model for model in all_models()}
    for table, column in UNMAPPED:
        names = [row[1] for row in database.execute_sql(f"PRAGMA table_info('{table}')")]
        assert column in names, f"{table}.{column} is listed as unmapped but does not exist"
        assert column not in by_table[table]._meta.columns, f"{table}.{column} is mapped now"


class Drifted(BaseModel):
    """A model whose table drifted from it in each way the check looks for."""

    id = peewee.TextField(primary_key=True)
    count = peewee.IntegerField()  # the column is TEXT
    extra_key = peewee.TextField(primary_key=False)  # the column is part of the primary key
    note = peewee.TextField()  # the column allows NULL
    gone = peewee.TextField(null=True)  # no column

    class Meta:
        table_name = "test_drifted"


@pytest.fixture
def drifted_table(app):
    with write_transaction():
        database.execute_sql(
            "CREATE TABLE test_drifted (id TEXT NOT NULL, extra_key TEXT NOT NULL,"
            " count TEXT NOT NULL, note TEXT, extra INTEGER, PRIMARY KEY (id, extra_key))"
        )


def test_the_check_names_each_kind_of_drift(drifted_table):
    assert sorted(mismatches(Drifted)) == [
        "test_drifted.count: column TEXT, field INT",
        "test_drifted.extra: a column Drifted does not map",
        "test_drifted.extra_key: primary key in one and not the other",
        "test_drifted.gone: a field of Drifted with no column",
        "test_drifted.note: column NULL, field null=False",
    ]
