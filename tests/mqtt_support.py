"""A private Mosquitto broker for the replication tests, and a synchronous MQTT 5 test client.

Not a test module. The ``mosquitto`` fixture is a factory: each call starts its own
``mosquitto -c <tmp>/mosquitto.conf`` in the foreground on a free 127.0.0.1 port, with its
persistence, password file, ACL, certificates and log in a temporary folder, so a machine's own
broker (port 1883, /etc/mosquitto) is never used or needed. Its configuration is the one
shipped to head office, ``config/mosquitto/physioez.conf``: every line above its listeners
except the paths, the log destination and the settings a test overrides, followed by the
fixture's own listeners. The ACL is ``config/mosquitto/acl`` unless a test passes another.

``MqttProbe`` is a paho-mqtt 2 client (``CallbackAPIVersion.VERSION2``, MQTT 5) whose calls
wait for the broker's answer: ``connect`` for CONNACK, ``subscribe`` for SUBACK, ``publish``
at QoS 1 for PUBACK, each returning the reason code, so a test can assert a refusal.

Mosquitto started as root switches to the ``mosquitto`` user, which could not read the
temporary folder; the fixture's configuration says ``user root`` when it runs as root (CI
does). Without mosquitto, mosquitto_passwd or openssl the tests are skipped, except when
``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.cups_support import free_port
from tests.server_process import ServerProcess, find_program, port_open, skip_or_fail

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONF = REPO / "config" / "mosquitto" / "physioez.conf"
SHIPPED_ACL = REPO / "config" / "mosquitto" / "acl"
HOST = "127.0.0.1"
TOPIC_ROOT = "physioez/v1/branch"
WAIT_S = 10.0

# Settings of the shipped file that name places on the head-office server; the fixture writes
# its own. A repeated path is an error for Mosquitto, so they are left out, not overridden.
SITE_KEYS = frozenset(
    {"pid_file", "log_dest", "log_type", "password_file", "acl_file", "persistence_location"}
)


def topic(branch: str, kind: str) -> str:
    """``physioez/v1/branch/<branch>/<kind>``, kind one of up, status, ack, down."""
    return f"{TOPIC_ROOT}/{branch}/{kind}"


def missing_requirement(tls: bool = False) -> str | None:
    for program, package in (
        ("mosquitto", "mosquitto"),
        ("mosquitto_passwd", "mosquitto"),
        *((("openssl", "openssl"),) if tls else ()),
    ):
        if find_program(program) is None:
            return f"{program} is not installed (apt-get install {package})"
    return None


def shipped_global_lines(conf: Path, overridden: frozenset[str]) -> list[str]:
    """The shipped file's settings above its first listener, less site paths and ``overridden``."""
    lines = []
    for raw in conf.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key = line.split()[0]
        if key == "listener":
            break
        if key not in SITE_KEYS and key not in overridden:
            lines.append(line)
    return lines


def make_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost (EC P-256, two days).

    Returns the CA certificate, the server certificate and the server key.
    """
    openssl = find_program("openssl")
    assert openssl is not None
    folder.mkdir(parents=True, exist_ok=True)
    ca_crt, ca_key = folder / "ca.crt", folder / "ca.key"
    crt, key, csr = folder / "server.crt", folder / "server.key", folder / "server.csr"
    ext = folder / "server.ext"
    ext.write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = ["-days", "2", "-addext", "basicConstraints=critical,CA:TRUE"]
    ca_ext += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    sign = ["-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-days", "2", "-extfile", ext]
    for argv in (
        ["req", "-x509", *ec, *ca_ext, "-keyout", ca_key, "-out", ca_crt, "-subj", "/CN=Test CA"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", csr, *sign, "-out", crt],
    ):
        subprocess.run([openssl, *map(str, argv)], check=True, capture_output=True, timeout=30)
    return ca_crt, crt, key


@dataclass(frozen=True)
class ConnectResult:
    reason_code: ReasonCode
    session_present: bool
    properties: Properties | None


class MqttProbe:
    """A paho-mqtt 2 client (VERSION2 callbacks, MQTT 5) whose calls wait for the broker.

    Received messages queue up in ``messages``; ``next_message`` takes the next one.
    """

    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        client_id: str,
        ca_file: Path | None = None,
        tls: bool = False,
    ) -> None:
        self.port = port
        self.client_id = client_id
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            # A probe never reconnects by itself: a test reconnects when it means to.
            reconnect_on_failure=False,
        )
        self.client.username_pw_set(username, password)
        if tls:
            # Without ca_file: the system's CAs, which do not know the test CA.
            self.client.tls_set(ca_certs=str(ca_file) if ca_file else None)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._answers: dict[tuple[str, int], Any] = {}
        self._connack: ConnectResult | None = None
        self._changed = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda _client, _userdata, message: self.messages.put(message)
        self._looping = False

    # paho calls these on its network thread.
    def _on_connect(self, _client, _userdata, flags, reason_code, properties) -> None:
        with self._changed:
            self._connack = ConnectResult(reason_code, bool(flags.session_present), properties)
            self._changed.notify_all()

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _properties) -> None:
        with self._changed:
            self._answers["suback", mid] = reason_codes
            self._changed.notify_all()

    def _on_publish(self, _client, _userdata, mid, reason_code, _properties) -> None:
        with self._changed:
            self._answers["puback", mid] = reason_code
            self._changed.notify_all()

    def _wait(self, ready: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        with self._changed:
            if not self._changed.wait_for(ready, timeout=timeout):
                raise AssertionError(f"{self.client_id}: no {what} within {timeout} s")
            return ready()

    def connect(self, clean_start: bool = True, session_expiry: int | None = None) -> ConnectResult:
        """Connect and wait for CONNACK. ``session_expiry``: seconds the broker keeps the
        session after a disconnect (MQTT 5 Session Expiry Interval; 0 or None: none)."""
        properties = Properties(PacketTypes.CONNECT)
        if session_expiry is not None:
            properties.SessionExpiryInterval = session_expiry
        self.client.connect(
            HOST, self.port, keepalive=30, clean_start=clean_start, properties=properties
        )
        self.client.loop_start()
        self._looping = True
        return self._wait(lambda: self._connack, "CONNACK")

    def subscribe(self, topic_filter: str, qos: int = 1) -> ReasonCode:
        """Subscribe and return the SUBACK's reason code (the granted QoS, or a failure)."""
        result, mid = self.client.subscribe(topic_filter, qos=qos)
        assert result == mqtt.MQTT_ERR_SUCCESS, f"subscribe not sent: {result}"
        (code,) = self._wait(lambda: self._answers.get(("suback", mid)), "SUBACK")
        return code

    def publish(self, topic_name: str, payload: bytes | str, qos: int = 1) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code (0 Success, 0x87 Not authorized)."""
        assert qos == 1, "only QoS 1 has a PUBACK to wait for"
        info = self.client.publish(topic_name, payload, qos=qos)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish not sent: {info.rc}"
        return self._wait(lambda: self._answers.get(("puback", info.mid)), "PUBACK")

    def next_message(self, timeout: float = WAIT_S) -> mqtt.MQTTMessage:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id}: no message within {timeout} s") from None

    def received(self, within: float = 0.5) -> list[mqtt.MQTTMessage]:
        """Every message that arrives within ``within`` seconds (and those already queued)."""
        deadline = time.monotonic() + within
        got = []
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return got

    def disconnect(self) -> None:
        """A clean DISCONNECT (no last will); the session stays if it has an expiry."""
        if self._looping:
            self.client.disconnect()
            self.client.loop_stop()
            self._looping = False


class MosquittoBroker:
    """One private Mosquitto; ``start`` again after ``stop``/``kill`` reuses port and data."""

    def __init__(
        self,
        root: Path,
        users: Mapping[str, str],
        acl: Path | str = SHIPPED_ACL,
        tls: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.users = dict(users)
        self.settings = dict(settings or {})
        self.data_dir = root / "data"
        self.data_dir.mkdir()
        self.passwd = root / "passwd"
        self.acl = root / "acl"
        self.conf = root / "mosquitto.conf"
        self.ca_file: Path | None = None
        self.server = ServerProcess("mosquitto", root / "mosquitto.log")
        self.probes: list[MqttProbe] = []
        self.acl.write_text(acl.read_text() if isinstance(acl, Path) else acl)
        self.passwd.touch(mode=0o600)
        for username, password in self.users.items():
            self._passwd(username, password)
        if tls:
            self.ca_file, self.cert_file, self.key_file = make_test_ca(root / "certs")
        self.conf.write_text(self.config_text())

    def _passwd(self, username: str, password: str) -> None:
        subprocess.run(
            [find_program("mosquitto_passwd"), "-b", str(self.passwd), username, password],
            check=True,
            capture_output=True,
            timeout=30,
        )

    def config_text(self) -> str:
        lines = [
            "# Written by tests/mqtt_support.py from config/mosquitto/physioez.conf.",
            *shipped_global_lines(SHIPPED_CONF, frozenset(self.settings)),
            *(f"{key} {value}" for key, value in self.settings.items()),
            f"password_file {self.passwd}",
            f"acl_file {self.acl}",
            f"persistence_location {self.data_dir}/",
            "log_dest stderr",
            "log_type all",
        ]
        if os.geteuid() == 0:
            # As root Mosquitto would switch to the mosquitto user, who cannot read root's
            # temporary folder.
            lines.append("user root")
        lines += ["", f"listener {self.port} {HOST}"]
        if self.tls_port is not None:
            lines += [
                f"listener {self.tls_port} {HOST}",
                f"cafile {self.ca_file}",
                f"certfile {self.cert_file}",
                f"keyfile {self.key_file}",
            ]
        return "\n".join(lines) + "\n"

    @property
    def pid(self) -> int:
        return self.server.pid

    @property
    def db_file(self) -> Path:
        return self.data_dir / "mosquitto.db"

    def start(self) -> None:
        ports = [self.port] + ([self.tls_port] if self.tls_port else [])
        self.server.launch(
            [find_program("mosquitto"), "-c", str(self.conf)],
            ready=lambda: all(port_open(port) for port in ports),
        )

    def stop(self) -> None:
        """A clean stop: Mosquitto saves its sessions and messages before it exits."""
        self.server.terminate()

    def kill(self) -> None:
        """``kill -9``: whatever it accepted since its last save is lost."""
        self.server.kill()

    def persist(self, timeout: float = WAIT_S) -> None:
        """Make the running broker save its in-memory state now (SIGUSR1), and wait for it."""

        def stamp() -> tuple[int, int] | None:
            try:
                st = self.db_file.stat()
            except FileNotFoundError:
                return None
            return st.st_ino, st.st_mtime_ns

        before = stamp()
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while stamp() == before:
            assert time.monotonic() < deadline, f"no save within {timeout} s:\n{self.log_tail()}"
            time.sleep(0.02)

    def add_user(self, username: str, password: str) -> None:
        """Add or change a user; a running broker rereads the password file (SIGHUP)."""
        self._passwd(username, password)
        self.users[username] = password
        if self.server.running:
            os.kill(self.pid, signal.SIGHUP)

    def probe(
        self,
        username: str,
        *,
        password: str | None = None,
        client_id: str | None = None,
        tls: bool = False,
        ca_file: Path | None = None,
    ) -> MqttProbe:
        """An unconnected client; closed when the broker's fixture ends."""
        port = self.tls_port if tls else self.port
        assert port is not None, "start the broker with tls=True"
        probe = MqttProbe(
            port,
            username,
            self.users[username] if password is None else password,
            client_id or f"{username}-{len(self.probes)}",
            ca_file=ca_file,
            tls=tls,
        )
        self.probes.append(probe)
        return probe

    def client(
        self,
        username: str,
        *,
        client_id: str | None = None,
        clean_start: bool = True,
        session_expiry: int | None = None,
        tls: bool = False,
    ) -> MqttProbe:
        """A connected client signed in as ``username`` (over TLS with the test CA if ``tls``)."""
        probe = self.probe(
            username, client_id=client_id, tls=tls, ca_file=self.ca_file if tls else None
        )
        result = probe.connect(clean_start=clean_start, session_expiry=session_expiry)
        assert not result.reason_code.is_failure, f"{username} refused: {result.reason_code}"
        return probe

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)

    def close(self) -> None:
        for probe in self.probes:
            probe.disconnect()
        self.server.terminate()
        self.server.assert_all_gone()


@pytest.fixture
def mosquitto() -> Iterator[Callable[..., MosquittoBroker]]:
    """Start a broker: ``mosquitto(users, acl=SHIPPED_ACL, tls=False, settings=None)``.

    ``users`` maps user names to passwords; ``settings`` overrides lines of the shipped
    configuration (``{"autosave_interval": "0"}``). Every broker is stopped, and checked to be
    gone, when the test ends.
    """
    brokers: list[MosquittoBroker] = []

    def start(
        users: Mapping[str, str],
        *,
        acl: Path | str = SHIPPED_ACL,
        tls: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> MosquittoBroker:
        reason = missing_requirement(tls=tls)
        if reason:
            skip_or_fail("MQTT", reason)
        root = Path(tempfile.mkdtemp(prefix="physioez-mosquitto-"))
        broker = MosquittoBroker(root, users, acl=acl, tls=tls, settings=settings)
        brokers.append(broker)
        broker.start()
        return broker

    try:
        yield start
    finally:
        errors = []
        for broker in brokers:
            try:
                broker.close()
            except AssertionError as exc:
                errors.append(str(exc))
            else:
                shutil.rmtree(broker.root, ignore_errors=True)
        assert not errors, "\n".join(errors)
