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
