"""Modules declare themselves once; the kernel keeps the registries they fill.

A module (reception, billing, ...) is a package whose ``__init__.py`` builds one
:class:`Module`. Building it registers what the kernel itself must know as soon as any part of
the module is imported (its permissions, settings section, chain policies and domain events),
so a view declaring ``@requires("reception.patients.read")`` is checked against the registry at
import. What lives above the kernel (pages and API, scheduled jobs, CLI commands, event
subscriptions, demo data) is named by ``"package.module:attribute"`` references and resolved
only by whoever needs it: the web app resolves ``web``, the ``physioez`` command ``cli``, and so
on. A CLI command that only migrates never imports Flask, and the kernel imports no layer above
it (an import-linter contract).

The app assembles the modules listed in :mod:`physioez.installed`; adding a module is one new
package and one line there.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from physioez.core.kernel import events, permissions, policies, settings
from physioez.core.kernel.db import Migration
from physioez.core.kernel.permissions import Permission


class ModuleError(Exception):
    """A module's declaration is inconsistent; raised at import, naming the module."""


@dataclass(frozen=True)
class Module:
    """Everything the app needs from one module, declared in its package's ``__init__.py``.

    ``permissions``: the module's permissions, each with the default roles that hold it (their
    codes start with the module's name). ``settings``: the model of its ``[name]`` settings
    section. ``policies``: keys of that section head office may set for the whole chain, with
    a description. ``events``: the domain events it publishes (others subscribe by name).
    ``migrations``: its frozen SQL steps, applied after the kernel's. References, resolved
    lazily: ``web`` (a :class:`physioez.core.web.modules.WebParts`), ``jobs`` (a callable taking
    the settings and returning scheduled jobs), ``cli`` (a click command or group added to
    ``physioez``), ``start`` (a callable run once when the app is created: event
    subscriptions, directory providers), ``serve`` (a callable taking the app, the settings and
    the scheduler, run in the serving worker only: long-running services such as replication),
    ``demo`` (a callable taking an actor, today and the settings, adding demo data in the
    seeding transaction and returning a line for the person who ran it).
    """

    name: str
    description: str
    permissions: tuple[Permission, ...] = ()
    settings: type[BaseModel] | None = None
    policies: Mapping[str, str] = field(default_factory=dict)
    events: tuple[type[events.DomainEvent], ...] = ()
    migrations: Sequence[Migration] = ()
    web: str | None = None
    jobs: str | None = None
    cli: str | None = None
    start: str | None = None
    serve: str | None = None
    demo: str | None = None

    def __post_init__(self) -> None:
        for permission in self.permissions:
            if permission.module != self.name:
                raise ModuleError(
                    f"Module {self.name!r} declares permission {permission.code!r}, which "
                    f"belongs to module {permission.module!r}."
                )
        for migration in self.migrations:
            if not migration.id.startswith(f"{self.name}."):
                raise ModuleError(
                    f"Module {self.name!r} declares migration {migration.id!r}; its ids "
                    f"start with {self.name + '.'!r}."
                )
        if self.policies and self.settings is None:
            raise ModuleError(f"Module {self.name!r} declares policies but no settings.")
        for key in self.policies:
            if self.settings is not None and key not in self.settings.model_fields:
                raise ModuleError(
                    f"Module {self.name!r} declares policy {key!r}, not a key of its settings."
                )
        self.declare()

    def declare(self) -> None:
        """Put this module's declarations in the registries (again: it is idempotent)."""
        permissions.register(*self.permissions)
        if self.settings is not None:
            settings.register_section(self.name, self.settings)
        for key, description in self.policies.items():
            policies.register(f"{self.name}.{key}", description)
        events.register(*self.events)

    def resolve(self, hook: str) -> Any:
        """The object a reference field (``web``, ``jobs``, ...) names, or None if unset."""
        reference = getattr(self, hook)
        return None if reference is None else resolve(reference)

    def forget(self) -> None:
        """Take this module's declarations out of the registries (tests of throwaway
        modules only: an installed module is never forgotten in a running app)."""
        permissions.unregister(*self.permissions)
        if self.settings is not None:
            settings.unregister_section(self.name)
        for key in self.policies:
            policies.unregister(f"{self.name}.{key}")
        events.unregister(*self.events)


def resolve(reference: str) -> Any:
    """``"package.module:attribute"`` -> the attribute, importing the module."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not attribute:
        raise ModuleError(f"{reference!r} is not a 'package.module:attribute' reference.")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModuleError(f"Cannot resolve {reference!r}: {exc}") from exc


def load(package_names: Sequence[str]) -> tuple[Module, ...]:
    """Import each package and return its ``MODULE`` descriptor, in the order given."""
    loaded = []
    for package_name in package_names:
        package = importlib.import_module(package_name)
        descriptor = getattr(package, "MODULE", None)
        if not isinstance(descriptor, Module):
            raise ModuleError(f"Package {package_name} has no MODULE = Module(...) declaration.")
        descriptor.declare()
        loaded.append(descriptor)
    names = [module.name for module in loaded]
    if len(names) != len(set(names)):
        raise ModuleError(f"Two installed modules share a name: {names}.")
    return tuple(loaded)
