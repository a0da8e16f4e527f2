"""The data layer: pragmas, the one write path, migrations, after-commit events."""

from __future__ import annotations

import threading

import apsw
import peewee
import pytest

from physioez.core.kernel import records
from physioez.core.kernel.db import (
    Migration,
    MigrationError,
    checkpoint,
    close_database,
    database,
    migrate,
    migration_status,
    open_database,
    write_transaction,
)
from physioez.core.kernel.events import DomainEvent, bus
from physioez.core.kernel.models import Role, Staff, fetch_by_id
from physioez.core.platform.scheduler import start_scheduler, wal_checkpoint_job


def pragma(name):
    return database.execute_sql(f"PRAGMA {name}").fetchone()[0]


def test_wal_foreign_keys_busy_timeout_and_full_sync(app, settings):
    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("synchronous") == 2  # FULL
    assert pragma("busy_timeout") == settings.database.busy_timeout_ms


def test_write_transaction_begins_immediate(app, settings):
    """A second connection cannot take the write lock while the write path holds it."""
    other = apsw.Connection(str(settings.paths.database))
    other.setbusytimeout(0)
    with write_transaction(), pytest.raises(apsw.BusyError):
        other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")


def test_foreign_keys_are_enforced(app):
    with pytest.raises(Exception, match="FOREIGN KEY"), write_transaction():
        database.execute_sql(
            "INSERT INTO login_throttle (staff_id, failures) VALUES ('no-such-staff', 1)"
        )


def test_a_write_outside_the_write_path_fails_loudly(app, system_actor):
    """Every connection is query_only until write_transaction lifts it for its transaction."""
    role = records.create(Role, system_actor, code="qo", name="Query only")
    outside = [
        lambda: database.execute_sql("UPDATE role SET name = 'raw' WHERE id = ?", (role.id,)),
        lambda: Role.update(name="peewee").where(Role.id == role.id).execute(),
        lambda: Role.delete().where(Role.id == role.id).execute(),
        lambda: database.execute_sql("CREATE TEMP TABLE scratch (x)"),
    ]
    for write in outside:
        with pytest.raises(peewee.OperationalError, match="readonly"):
            write()
    errors = []

    def other_thread():
        database.connect(reuse_if_open=True)
        try:
            assert Role.get_by_id(role.id).name == "Query only"  # reading is untouched
            database.execute_sql("DELETE FROM role WHERE id = ?", (role.id,))
        except peewee.OperationalError as exc:
            errors.append(exc)
        finally:
            database.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "readonly" in str(errors[0])
    assert Role.get_by_id(role.id).name == "Query only"
    assert pragma("query_only") == 1


def test_every_write_through_the_write_path_still_works(app, system_actor):
    with write_transaction():
        assert pragma("query_only") == 0
        database.execute_sql(
            "INSERT INTO role (id, code, name, permissions, origin_branch, hlc, version,"
            " created_at, updated_at) SELECT 'raw-role', 'raw', 'Raw', '[]', origin_branch,"
            " hlc, 1, created_at, updated_at FROM role LIMIT 1"
        )
        with write_transaction():  # a savepoint inside
            Role.update(name="Renamed").where(Role.id == "raw-role").execute()
    assert pragma("query_only") == 1
    assert Role.get_by_id("raw-role").name == "Renamed"
    with pytest.raises(ValueError), write_transaction():
        Role.delete().where(Role.id == "raw-role").execute()
        raise ValueError("roll back")
    assert pragma("query_only") == 1  # a rolled-back transaction leaves the rule in force
    assert Role.get_or_none(Role.id == "raw-role") is not None
    records.update(Role.get_by_id("raw-role"), system_actor, name="Audited")
    assert Role.get_by_id("raw-role").name == "Audited"


def test_concurrent_writers_serialise_without_busy_errors(app, system_actor):
    errors = []

    def writer(n):
        try:
            database.connect(reuse_if_open=True)
            for i in range(10):
                records.create(Role, system_actor, code=f"r{n}_{i}", name="Concurrent")
        except Exception as exc:
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Role.select().where(Role.name == "Concurrent").count() == 60


def known(app, *extra):
    """The app's own migrations plus test ones: migrate() always sees the whole list."""
    return [*app.extensions["physioez_migrations"], *extra]


def test_migrations_apply_once_and_record_history(app):
    extra = known(
        app, Migration("test.0001_notes", "CREATE TABLE test_note (id INTEGER PRIMARY KEY);")
    )
    assert migrate(extra) == ["test.0001_notes"]
    assert migrate(extra) == []
    applied = database.execute_sql(
        "SELECT id FROM schema_migration WHERE id = 'test.0001_notes'"
    ).fetchall()
    assert applied == [("test.0001_notes",)]


def test_edited_migration_is_refused(app):
    migrate(
        known(app, Migration("test.0001_notes", "CREATE TABLE test_note (id INTEGER PRIMARY KEY);"))
    )
    edited = known(
        app, Migration("test.0001_notes", "CREATE TABLE test_note (id TEXT PRIMARY KEY);")
    )
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(edited)


def test_database_from_a_newer_version_is_refused(app):
    migrate(known(app, Migration("future.0001_x", "CREATE TABLE future_x (id INTEGER);")))
    with pytest.raises(MigrationError, match="newer PhysioEZ"):
        migration_status(app.extensions["physioez_migrations"])


def test_failed_migration_rolls_back_whole(app):
    broken = known(
        app,
        Migration(
            "test.0002_broken", "CREATE TABLE half_made (id INTEGER); CREATE TABLE syntax error;"
        ),
    )
    with pytest.raises(Exception, match="syntax"):
        migrate(broken)
    tables = {
        r[0]
        for r in database.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        ).fetchall()
    }
    assert "half_made" not in tables
    assert migration_status(broken)[1] == ["test.0002_broken"]


class Happened(DomainEvent):
    name = "test.happened"


def test_events_are_delivered_after_commit_and_dropped_on_rollback(app):
    seen = []
    bus.subscribe(
        Happened, lambda event: seen.append((event.payload["n"], database.in_transaction()))
    )
    with write_transaction():
        bus.publish(Happened(branch="TEST", payload={"n": 1}))
        assert seen == []
    assert seen == [(1, False)]
    with pytest.raises(ValueError), write_transaction():
        bus.publish(Happened(branch="TEST", payload={"n": 2}))
        raise ValueError("roll back")
    assert seen == [(1, False)]
    bus.publish(Happened(branch="TEST", payload={"n": 3}))
    assert seen[-1] == (3, False)


def test_a_failing_subscriber_does_not_stop_others(app):
    seen = []

    def broken(event):
        raise RuntimeError("subscriber bug")

    bus.subscribe(Happened, broken)
    bus.subscribe(Happened, lambda event: seen.append(event))
    bus.publish(Happened(branch="TEST"))
    assert len(seen) == 1


def test_checkpoint_job_folds_the_wal(app, make_staff, settings):
    make_staff("receptionist")
    wal = settings.paths.database.with_name(settings.paths.database.name + "-wal")
    assert wal.stat().st_size > 0
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("ok", wal_checkpoint_job()))
    thread.start()
    thread.join()
    assert "ok" in result
    frames, done = checkpoint()
    assert frames == done


def test_scheduler_runs_the_checkpoint_job(app, settings):
    scheduler = start_scheduler(settings)
    try:
        assert [job.id for job in scheduler.get_jobs()] == ["wal-checkpoint", "prune-sessions"]
    finally:
        scheduler.shutdown(wait=False)


def test_replicated_rows_carry_uuid7_branch_hlc(app, make_staff):
    from physioez.core.kernel.ids import is_uuid7

    staff = Staff.get_by_id(make_staff("receptionist").id)
    assert is_uuid7(staff.id)
    assert staff.origin_branch == "TEST" and staff.hlc.endswith("-TEST")
    assert staff.created_at.tzinfo is not None and staff.version == 1


def test_an_upgrade_hands_new_permissions_to_default_roles_only(app, system_actor, monkeypatch):
    from physioez.core.kernel import identity, permissions

    receptionist = Role.get(Role.code == "receptionist")
    records.update(receptionist, system_actor, permissions=["core.shell.use"])  # admin's choice
    # A newer version of the module declares a permission the receptionist holds by default.
    new = permissions.Permission(
        "reception.waitlist.manage", "Manage the waitlist", ("receptionist",)
    )
    monkeypatch.setitem(permissions.REGISTRY, new.code, new)

    assert identity.ensure_default_roles(system_actor) == 2
    receptionist = Role.get(Role.code == "receptionist")
    assert receptionist.permissions == ["core.shell.use", new.code]  # removal respected
    assert new.code in Role.get(Role.code == "owner").permissions
    assert new.code not in Role.get(Role.code == "therapist").permissions
    assert identity.ensure_default_roles(system_actor) == 0  # seen now: nothing more


def test_events_of_a_rolled_back_savepoint_are_dropped(app):
    seen = []
    bus.subscribe(Happened, lambda event: seen.append(event.payload["n"]))
    with write_transaction():
        bus.publish(Happened(branch="TEST", payload={"n": 1}))
        try:
            with write_transaction():
                bus.publish(Happened(branch="TEST", payload={"n": 2}))
                raise ValueError("inner step fails; the caller carries on")
        except ValueError:
            pass
        with write_transaction():
            bus.publish(Happened(branch="TEST", payload={"n": 3}))
        assert seen == []
    assert seen == [1, 3]


def test_fetch_by_id_reads_the_same_row_as_peewee(app, make_staff, system_actor):
    staff = make_staff("receptionist")
    fetched = fetch_by_id(Staff, staff.id)
    assert fetched.__data__ == Staff.get_by_id(staff.id).__data__
    assert not fetched.is_dirty()
    assert fetch_by_id(Staff, "no-such-id") is None
    with write_transaction():
        records.soft_delete(fetched, system_actor)
    # Deleted rows are still found: callers decide what a tombstone means to them.
    assert fetch_by_id(Staff, staff.id).deleted_at is not None


def test_an_upgrade_carves_scoped_permissions_out_of_the_ones_they_narrow(app, system_actor):
    """A box from before scoped access: desk roles keep working on every diary and reading
    ID scans, custom ones included; therapists become scoped to their own appointments."""
    from physioez.core.kernel import identity

    scoped = (
        "reception.appointments.any_practitioner",
        "reception.documents.identity.read",
        "reception.documents.clinical.read",
        "reception.feeds.manage",
    )
    for role in Role.select():
        records.update(
            role, system_actor, permissions=[c for c in role.permissions if c not in scoped]
        )
    records.create(
        Role,
        system_actor,
        code="front_desk_lead",
        name="Front-desk lead",
        permissions=["core.shell.use", "reception.appointments.write", "reception.patients.write"],
    )
    with write_transaction():
        database.execute_sql("DELETE FROM permission_catalog WHERE code IN (?, ?, ?, ?)", scoped)

    identity.ensure_default_roles(system_actor)

    def held(code: str) -> set[str]:
        return set(scoped) & set(Role.get(Role.code == code).permissions)

    assert held("front_desk_lead") == {
        "reception.appointments.any_practitioner",
        "reception.documents.identity.read",
    }
    assert held("receptionist") == {
        "reception.appointments.any_practitioner",
        "reception.documents.identity.read",
        "reception.feeds.manage",
    }
    assert held("therapist") == {"reception.documents.clinical.read", "reception.feeds.manage"}
    assert held("billing") == set()


def _parent_and_child_rows():
    return [
        Migration(
            "test.0001_parent_child",
            """
CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id));
INSERT INTO parent (id, name) VALUES (1, 'one'), (2, 'two');
INSERT INTO child (id, parent_id) VALUES (10, 1), (20, 2);
""",
        )
    ]


# SQLite's table rebuild: a new table, the rows copied, the old one dropped, the new renamed.
_REBUILD_PARENT = """
CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT NOT NULL DEFAULT '');
INSERT INTO parent_new (id, name) SELECT id, name FROM parent;
DROP TABLE parent;
ALTER TABLE parent_new RENAME TO parent;
"""


def test_a_step_that_rebuilds_a_table_runs_with_foreign_keys_off(tmp_path):
    open_database(tmp_path / "rebuild.sqlite3")
    try:
        migrate(_parent_and_child_rows())
        in_a_transaction = Migration("test.0002_rebuild", _REBUILD_PARENT)
        with pytest.raises(Exception, match="FOREIGN KEY"):
            migrate([*_parent_and_child_rows(), in_a_transaction])
        rebuilt = Migration("test.0002_rebuild", _REBUILD_PARENT, rebuilds_tables=True)
        assert migrate([*_parent_and_child_rows(), rebuilt]) == ["test.0002_rebuild"]
        columns = [row[1] for row in database.execute_sql("PRAGMA table_info(parent)")]
        assert columns == ["id", "name", "note"]
        assert database.execute_sql("SELECT count(*) FROM child").fetchone() == (2,)
        # Enforcement is back on for everything after the step.
        with pytest.raises(Exception, match="FOREIGN KEY"), write_transaction():
            database.execute_sql("INSERT INTO child (id, parent_id) VALUES (30, 99)")
    finally:
        close_database()


def test_a_rebuild_that_leaves_a_dangling_key_is_refused_whole(tmp_path):
    open_database(tmp_path / "dangling.sqlite3")
    try:
        migrate(_parent_and_child_rows())
        loses_a_parent = Migration(
            "test.0002_rebuild",
            _REBUILD_PARENT.replace("FROM parent;", "FROM parent WHERE id = 1;"),
            rebuilds_tables=True,
        )
        with pytest.raises(MigrationError, match="point nowhere"):
            migrate([*_parent_and_child_rows(), loses_a_parent])
        assert database.execute_sql("SELECT count(*) FROM parent").fetchone() == (2,)
        applied = [row[0] for row in database.execute_sql("SELECT id FROM schema_migration")]
        assert "test.0002_rebuild" not in applied
    finally:
        close_database()
