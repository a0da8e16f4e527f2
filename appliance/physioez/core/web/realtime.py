"""Live updates over Socket.IO, in threading mode (no eventlet; see docs/dependencies.md).

Each signed-in browser joins a room for its branch and one per role it holds; domain events
from the bus are forwarded to the rooms of the roles that care about them.
"""

from __future__ import annotations

from flask import Flask
from flask_login import current_user
from flask_socketio import SocketIO, join_room

from physioez.core.events import DomainEvent, bus

socketio = SocketIO()


def branch_room(branch: str) -> str:
    return f"branch:{branch}"


def role_room(branch: str, role: str) -> str:
    return f"branch:{branch}:role:{role}"


def init_realtime(app: Flask) -> None:
    settings = app.config["PHYSIOEZ"]
    socketio.init_app(
        app,
        async_mode="threading",
        ping_interval=settings.realtime.ping_interval_seconds,
        # Same origin only: the box serves its own pages.
        cors_allowed_origins=None,
        manage_session=False,
    )
    branch = settings.branch.id

    @socketio.on("connect")
    def _connect(auth=None):
        if not current_user.is_authenticated:
            return False  # Refuses the connection.
        join_room(branch_room(branch))
        for role in current_user.role_codes:
            join_room(role_room(branch, role))
        return True

    def forward(event: DomainEvent) -> None:
        message = {"event": event.name, **event.payload}
        if event.audience_roles:
            for role in event.audience_roles:
                socketio.emit(event.name, message, to=role_room(event.branch, role))
        else:
            socketio.emit(event.name, message, to=branch_room(event.branch))

    bus.subscribe(DomainEvent, forward)
