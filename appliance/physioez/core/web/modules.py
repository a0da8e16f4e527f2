"""The web side of the installed modules: their pages, API and navigation, put into the app.

A module names its :class:`WebParts` in its declaration (``Module(web="...:WEB")``); only the
web app resolves it, so commands that never serve pages never import a module's views.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Blueprint, Flask

from physioez.core.kernel.modules import Module, ModuleError
from physioez.core.web.api import Api
from physioez.core.web.nav import NavItem, register_nav


@dataclass(frozen=True)
class WebParts:
    """A module's pages (blueprints), API slices, navigation entries and, in ``setup``, what it
    registers on the app once its routes exist (directory providers that link to its pages)."""

    blueprints: tuple[Blueprint, ...] = ()
    apis: tuple[Api, ...] = ()
    nav: tuple[NavItem, ...] = ()
    setup: Callable[[Flask], None] | None = None


def init_modules(app: Flask, modules: Sequence[Module]) -> list[Api]:
    """Register every module's pages and navigation; returns their API slices, in order."""
    apis: list[Api] = []
    for module in modules:
        parts = module.resolve("web")
        if parts is None:
            continue
        if not isinstance(parts, WebParts):
            raise ModuleError(f"Module {module.name!r}: web must name a WebParts object.")
        for blueprint in parts.blueprints:
            app.register_blueprint(blueprint)
        register_nav(app, *parts.nav)
        apis.extend(parts.apis)
        if parts.setup is not None:
            parts.setup(app)
    return apis
