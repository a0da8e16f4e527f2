"""Module isolation: every role module is named in the import-linter contracts."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import physioez

ROOT = Path(__file__).resolve().parents[1]
NOT_MODULES = {"core", "app", "cli", "demo"}


def contracts():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def role_modules():
    return {
        f"physioez.{m.name}"
        for m in pkgutil.iter_modules(physioez.__path__)
        if m.ispkg and m.name not in NOT_MODULES
    }


def test_every_role_module_is_in_the_independence_contract():
    independence = next(c for c in contracts() if c["type"] == "independence")
    assert set(independence["modules"]) == role_modules()


def test_the_core_is_forbidden_every_role_module():
    core_rule = next(c for c in contracts() if c.get("source_modules") == ["physioez.core"])
    assert role_modules() <= set(core_rule["forbidden_modules"])


def test_every_services_module_is_forbidden_flask():
    flask_rule = next(c for c in contracts() if "flask" in c.get("forbidden_modules", []))
    services = set()
    for module in role_modules():
        folder = ROOT / "appliance" / module.replace(".", "/")
        if (folder / "services.py").exists() or (folder / "services").is_dir():
            services.add(f"{module}.services")
    assert services, "no services modules found: the check would be empty"
    assert services <= set(flask_rule["source_modules"])
