"""Module isolation: the import-linter contracts follow the list of installed modules."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import physioez
from physioez import installed

ROOT = Path(__file__).resolve().parents[1]
# Packages of physioez that are not modules: the core, head office and the demo data.
NOT_MODULES = {"core", "hq", "demo"}


def contracts():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def contract(name_start: str) -> dict:
    return next(c for c in contracts() if c["name"].startswith(name_start))


def test_every_package_that_is_a_module_is_installed():
    packages = {
        f"physioez.{m.name}"
        for m in pkgutil.iter_modules(physioez.__path__)
        if m.ispkg and m.name not in NOT_MODULES
    }
    assert packages == set(installed.INSTALLED)


def test_installed_modules_are_independent_of_each_other():
    assert set(contract("Modules never import each other")["modules"]) == set(installed.INSTALLED)


def test_the_core_is_forbidden_every_installed_module():
    forbidden = set(contract("The core imports no module")["forbidden_modules"])
    assert set(installed.INSTALLED) <= forbidden
    assert {"physioez.installed", "physioez.app", "physioez.hq"} <= forbidden


def test_no_installed_module_imports_what_assembles_them():
    rule = contract("Modules never import what assembles them")
    assert set(rule["source_modules"]) == set(installed.INSTALLED)
    assert {"physioez.app", "physioez.cli", "physioez.installed"} <= set(rule["forbidden_modules"])


def test_no_installed_module_imports_head_office():
    rule = contract("The branch never imports head office")
    assert set(installed.INSTALLED) <= set(rule["source_modules"])
    assert set(rule["forbidden_modules"]) == {"physioez.hq", "pymysql"}


def test_every_services_and_models_module_is_forbidden_flask():
    flask_rule = contract("Only the web layer and views import Flask")
    wanted = set()
    for module in installed.INSTALLED:
        folder = ROOT / "appliance" / module.replace(".", "/")
        for part in ("services", "models"):
            if (folder / f"{part}.py").exists() or (folder / part).is_dir():
                wanted.add(f"{module}.{part}")
    assert wanted, "no services or models found: the check would be empty"
    assert wanted <= set(flask_rule["source_modules"])


def test_migrations_are_literal_sql():
    """A shipped migration is frozen: its text is its checksum, so no interpolation."""
    files = [ROOT / "appliance/physioez/core/kernel/migrations.py"]
    files += [
        ROOT / "appliance" / m.replace(".", "/") / "migrations.py" for m in installed.INSTALLED
    ]
    for path in files:
        if path.exists():
            assert 'f"""' not in path.read_text(), f"{path} interpolates into a migration"
