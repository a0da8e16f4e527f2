"""The modules this appliance runs, in order: the front desk first in the navigation, and
each module's migrations and demo data after those of the modules listed before it.

Adding a module is its package plus one line here; ``create_app`` and the ``physioez``
command iterate this list, and ``tests/test_contracts.py`` holds the import-linter contracts
to it.
"""

from __future__ import annotations

from functools import cache

from physioez.core.kernel.modules import Module, load

INSTALLED = (
    "physioez.reception",
    "physioez.billing",
    "physioez.admin",
    "physioez.sync",
)


@cache
def modules() -> tuple[Module, ...]:
    return load(INSTALLED)


def load_models() -> None:
    """Import every installed module's ``models`` (head office makes a table per entity of
    each, and must not import the web app to find them)."""
    import importlib.util

    for package in INSTALLED:
        if importlib.util.find_spec(f"{package}.models") is not None:
            importlib.import_module(f"{package}.models")
