"""Live updates: only signed-in staff connect, and events reach the roles they concern."""

from __future__ import annotations

from physioez.admin.services.staff import create_staff
from physioez.core.web.realtime import socketio


def test_unauthenticated_socket_is_refused(app, anon):
    client = socketio.test_client(app, flask_test_client=anon)
    assert not client.is_connected()


def test_staff_change_reaches_admin_roles_not_reception(app, client_for, system_actor):
    manager = client_for("branch_manager")
    receptionist = client_for("receptionist")
    manager_socket = socketio.test_client(app, flask_test_client=manager)
    reception_socket = socketio.test_client(app, flask_test_client=receptionist)
    assert manager_socket.is_connected() and reception_socket.is_connected()
    manager_socket.get_received()
    reception_socket.get_received()

    create_staff(
        system_actor,
        username="newhire",
        full_name="New Hire",
        role_codes=["receptionist"],
        password="temporary-pass-1",
        min_password_length=10,
    )

    received = manager_socket.get_received()
    assert [m["name"] for m in received] == ["staff.changed"]
    assert received[0]["args"][0]["change"] == "created"
    assert reception_socket.get_received() == []
    manager_socket.disconnect()
    reception_socket.disconnect()


def test_rolled_back_change_sends_nothing(app, client_for, system_actor):
    import pytest

    from physioez.core.kernel.db import write_transaction

    manager = client_for("branch_manager")
    sock = socketio.test_client(app, flask_test_client=manager)
    sock.get_received()
    with pytest.raises(RuntimeError), write_transaction():
        create_staff(
            system_actor,
            username="ghost",
            full_name="Ghost",
            role_codes=["receptionist"],
            password="temporary-pass-1",
            min_password_length=10,
        )
        raise RuntimeError("abort")
    assert sock.get_received() == []
    sock.disconnect()


def test_async_mode_is_threading(app):
    assert socketio.async_mode == "threading"


def test_locked_or_deactivated_sessions_hear_nothing(app, client_for, system_actor):
    receptionist = client_for("receptionist")
    receptionist.get("/lock")
    locked = socketio.test_client(app, flask_test_client=receptionist)
    assert not locked.is_connected()

    manager = client_for("branch_manager")
    sock = socketio.test_client(app, flask_test_client=manager)
    assert sock.is_connected()
    owner = client_for("owner")
    response = owner.put(f"/api/v1/staff/{manager.staff.id}/active", json={"active": False})
    assert response.status_code == 200
    assert not sock.is_connected()
