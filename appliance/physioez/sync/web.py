"""The replication page and its navigation entry, as the web app takes them."""

from __future__ import annotations

from physioez.core.web.modules import WebParts
from physioez.sync import views

WEB = WebParts(blueprints=(views.bp,), nav=views.NAV)
