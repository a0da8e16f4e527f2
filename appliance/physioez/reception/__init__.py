"""The front desk: patients, inquiries, the appointment book, check-in."""

from __future__ import annotations

from flask import Flask

from physioez.core.web.nav import register_nav
from physioez.reception.schema import MIGRATIONS

__all__ = ["MIGRATIONS", "init_module"]


def init_module(app: Flask) -> None:
    from physioez.reception import views
    from physioez.reception.services import directory, reactions

    app.register_blueprint(views.bp)
    register_nav(app, *views.NAV)
    reactions.subscribe()
    directory.provide_directory()
