"""Governance: staff and roles, permissions, API tokens, the audit log viewer."""

from __future__ import annotations

from flask import Flask

from physioez.core.web.nav import register_nav


def init_module(app: Flask) -> None:
    from physioez.admin import views

    app.register_blueprint(views.bp)
    register_nav(app, *views.NAV)


MIGRATIONS: list = []
