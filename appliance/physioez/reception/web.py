"""The front desk's pages, API and navigation, as the web app takes them."""

from __future__ import annotations

from physioez.core.web.modules import WebParts
from physioez.reception import views
from physioez.reception.api import api
from physioez.reception.api.inquiries import api as inquiries_api

WEB = WebParts(blueprints=(views.bp,), apis=(api, inquiries_api), nav=views.NAV)
