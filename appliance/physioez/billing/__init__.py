"""The accounts desk: price list, invoices, payments, packages, dues, day-end close, ledger."""

from __future__ import annotations

from flask import Flask

from physioez.billing.schema import MIGRATIONS
from physioez.core.kernel import directory
from physioez.core.web.nav import register_nav

__all__ = ["MIGRATIONS", "init_module"]


def init_module(app: Flask) -> None:
    from physioez.billing import views
    from physioez.billing.services import visits

    app.register_blueprint(views.bp)
    register_nav(app, *views.NAV)
    visits.subscribe()
    directory.provide_patient_facts(views.patient_facts)
