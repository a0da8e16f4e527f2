"""Live updates over Socket.IO, in threading mode (no eventlet; see docs/dependencies.md).

Each signed-in browser joins a room for its branch and one per role it holds; domain events
from the bus are forwarded to the rooms of the roles that care about them.
"""

from __future__ import annotations

from flask import Flask
from flask_login import current_user
from flask_socketio import SocketIO, join_room

from physioez.core.kernel.events import DomainEvent, StaffChanged, bus
from physioez.core.web.access import session_is_usable

socketio = SocketIO()


def branch_room(branch: str) -> str:
    return f"branch:{branch}"


def role_room(branch: str, role: str) -> str:
    return f"branch:{branch}:role:{role}"


def staff_room(staff_id: str) -> str:
    return f"staff:{staff_id}"


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
        if not session_is_usable():
            return False  # Refuses the connection: locked, idle, ended or signed out.
        join_room(branch_room(branch))
        join_room(staff_room(current_user.id))
        for role in current_user.role_codes:
            join_room(role_room(branch, role))
        return True

    def drop_changed_staff(event: DomainEvent) -> None:
        # A deactivated person must stop hearing anything; a changed role set means other
        # rooms. Dropping the sockets makes browsers reconnect through the checks above.
        if event.payload.get("change") in ("deactivated", "roles_changed"):
            room = staff_room(event.payload["staff_id"])
            for sid, _ in list(socketio.server.manager.get_participants("/", room)):
                socketio.server.disconnect(sid, namespace="/")

    bus.subscribe(StaffChanged, drop_changed_staff)

    def forward(event: DomainEvent) -> None:
        message = {"event": event.name, **event.payload}
        if event.notice:
            for staff_id in event.notify_staff:
                socketio.emit(
                    "notice", {"text": event.notice, "tag": event.name}, to=staff_room(staff_id)
                )
        if event.audience_staff:
            for staff_id in event.audience_staff:
                socketio.emit(event.name, message, to=staff_room(staff_id))
        elif event.audience_roles:
            for role in event.audience_roles:
                socketio.emit(event.name, message, to=role_room(event.branch, role))
        else:
            socketio.emit(event.name, message, to=branch_room(event.branch))

    bus.subscribe(DomainEvent, forward)
