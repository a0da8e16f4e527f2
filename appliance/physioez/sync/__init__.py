"""Replication to head office: the branch's outbox, in signed and sealed batches over MQTT 5,
applied exactly once to head office's MySQL, acknowledged end to end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from physioez.sync.schema import MIGRATIONS

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["MIGRATIONS", "init_module"]


def init_module(app: Flask) -> None:
    from physioez.core.kernel import records
    from physioez.core.web.nav import register_nav
    from physioez.sync import downstream, views

    # Edits of shared records tell head office what this branch knew of others' edits.
    records.track_head_office(downstream.hq_applied_seq)
    app.register_blueprint(views.bp)
    register_nav(app, *views.NAV)
