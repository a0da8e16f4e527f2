"""A module declares itself once: a throwaway module from a fixture package, added to the
installed ones, shows up everywhere the app looks (roles, navigation, API, migrations, jobs,
settings, commands) without a line of the core or the app naming it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from physioez import installed
from physioez.app import create_app, module_jobs
from physioez.core.kernel import permissions, policies
from physioez.core.kernel.db import close_database, database
from physioez.core.kernel.modules import Module, ModuleError, load
from physioez.core.kernel.settings import defaults
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def throwaway():
    from tests import throwaway as package

    module = load(["tests.throwaway"])[0]
    yield module
    module.forget()
    assert "throwaway.notes.read" not in permissions.REGISTRY
    del package


@pytest.fixture
def app_with_throwaway(tmp_path, throwaway):
    modules = (*installed.modules(), throwaway)
    app = create_app(make_settings(tmp_path), modules=modules)
    app.config["TESTING"] = True
    yield app, modules
    close_database()


def test_its_permission_reaches_the_role_matrix(app_with_throwaway):
    rows = dict(database.execute_sql("SELECT code, permissions FROM role").fetchall())
    assert "throwaway.notes.read" in rows["therapist"]
    assert "throwaway.notes.read" in rows["owner"]  # the owner holds every permission
    assert "throwaway.notes.read" not in rows["receptionist"]


def test_its_page_is_in_the_navigation_and_its_route_in_the_openapi(app_with_throwaway):
    app, _ = app_with_throwaway
    from physioez.core.web.nav import visible_nav

    labels = [item.label for item in visible_nav(app, frozenset({"throwaway.notes.read"}))]
    assert labels == ["Notes"]
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert "/api/v1/throwaway/notes" in document["paths"]
    assert document["paths"]["/api/v1/throwaway/notes"]["get"]["x-permission"] == (
        "throwaway.notes.read"
    )


def test_its_migration_is_applied_and_its_job_scheduled(app_with_throwaway):
    app, modules = app_with_throwaway
    assert "throwaway.0001_notes" in [m.id for m in app.extensions["physioez_migrations"]]
    database.execute_sql("SELECT count(*) FROM throwaway_note").fetchone()
    settings = app.config["PHYSIOEZ"]
    assert "throwaway-tidy" in [job.id for job in module_jobs(settings, modules)]


def test_its_settings_section_and_policy_are_known(app_with_throwaway):
    assert defaults().throwaway.greeting == "Hello"
    assert "throwaway.greeting" in policies.CHAIN_POLICIES
    app, _ = app_with_throwaway
    assert app.config["PHYSIOEZ"].throwaway.greeting == "Hello"


def test_its_command_is_one_reference_away(throwaway):
    command = throwaway.resolve("cli")
    assert CliRunner().invoke(command).output == "throwaway says hello\n"


def test_a_module_cannot_declare_another_modules_permission():
    with pytest.raises(ModuleError, match="belongs to module 'reception'"):
        Module(
            name="rogue",
            description="x",
            permissions=(permissions.Permission("reception.patients.read", "x"),),
        )


def test_the_app_names_no_module():
    from pathlib import Path

    import physioez.app

    source = Path(physioez.app.__file__).read_text()
    for package in installed.INSTALLED:
        assert package not in source


def _contracts_for(tmp_path, extra_module: str):
    """The isolation contracts as the installed list generates them, with one more module."""
    modules = [*installed.INSTALLED, extra_module]
    config = tmp_path / "contracts.toml"
    listed = ", ".join(f'"{name}"' for name in modules)
    config.write_text(
        "[tool.importlinter]\n"
        'root_packages = ["physioez", "tests"]\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "Modules never import each other"\n'
        'type = "independence"\n'
        f"modules = [{listed}]\n"
    )
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "lint-imports"), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'appliance'}:{ROOT}"},
        check=False,
    )


@pytest.mark.slow
def test_its_contract_holds_and_a_module_that_reaches_into_another_is_caught(tmp_path):
    kept = _contracts_for(tmp_path, "tests.throwaway")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    broken = _contracts_for(tmp_path, "tests.rogue_module")
    assert broken.returncode != 0
    assert "tests.rogue_module -> physioez.reception.services.patients" in broken.stdout
