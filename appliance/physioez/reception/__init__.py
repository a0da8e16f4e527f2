"""The front desk: patients, inquiries, the appointment book, check-in (see issue 3)."""

from __future__ import annotations

from flask import Flask

from physioez.core.web.nav import register_nav


def init_module(app: Flask) -> None:
    from physioez.reception import views

    app.register_blueprint(views.bp)
    register_nav(app, *views.NAV)


MIGRATIONS: list = []
