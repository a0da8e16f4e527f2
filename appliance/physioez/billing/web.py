"""The accounts desk's pages, API and navigation, as the web app takes them."""

from __future__ import annotations

from flask import Flask

from physioez.billing import views
from physioez.billing.api import api
from physioez.core.kernel import directory
from physioez.core.web.modules import WebParts


def _setup(app: Flask) -> None:
    # Dues, credit and packs wherever reception shows a patient, linking to the account.
    directory.provide_patient_facts(views.patient_facts)


WEB = WebParts(blueprints=(views.bp,), apis=(api,), nav=views.NAV, setup=_setup)
