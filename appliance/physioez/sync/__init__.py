"""Replication to head office: the branch's outbox, in signed and sealed batches over MQTT 5,
applied exactly once to head office's MySQL, acknowledged end to end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from physioez.sync.schema import MIGRATIONS

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["MIGRATIONS", "init_module"]


def init_module(app: Flask) -> None:
    from physioez.core.web.nav import register_nav
    from physioez.sync import views

    app.register_blueprint(views.bp)
    register_nav(app, *views.NAV)
