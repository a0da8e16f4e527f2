"""Governance pages, API and navigation, as the web app takes them."""

from __future__ import annotations

from physioez.admin import views
from physioez.admin.api import api
from physioez.core.web.modules import WebParts

WEB = WebParts(blueprints=(views.bp,), apis=(api,), nav=views.NAV)
