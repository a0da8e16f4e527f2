"""The MQTT 5 client both sides use: paho-mqtt 2 with the version-2 callbacks, QoS 1,
persistent sessions, optional TLS. One place to get the connection details right."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    username: str
    password: str
    tls_ca: str = ""  # a CA file: TLS on, the broker's certificate checked against it
    keepalive: int = 30
    # How long the broker keeps this client's session (its subscriptions and unsent QoS 1
    # messages) while it is away; a branch offline for a weekend still gets its acks.
    session_expiry_s: int = 7 * 24 * 3600


def new_client(client_id: str, broker: BrokerSettings) -> paho.Client:
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(broker.username, broker.password)
    if broker.tls_ca:
        client.tls_set(ca_certs=broker.tls_ca)
    client.reconnect_delay_set(min_delay=1, max_delay=15)
    # paho keeps unsent messages only in memory; the outbox is the source of truth, so a
    # bounded queue is enough.
    client.max_queued_messages_set(1000)
    client.on_socket_open = _no_delay
    return client


def _no_delay(client, userdata, sock) -> None:
    """Send each packet at once. paho leaves Nagle's algorithm on, so a batch or an ack written
    while the previous small packet (a PUBACK) waits for the broker's delayed TCP ACK was held
    up to 40 ms: that was most of the branch-commit -> MySQL p95 (bench/sync_latency.py)."""
    if hasattr(sock, "setsockopt"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def connect(client: paho.Client, broker: BrokerSettings) -> None:
    """Start connecting in the background (paho retries by itself while the loop runs)."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = broker.session_expiry_s
    client.connect_async(
        broker.host,
        broker.port,
        keepalive=broker.keepalive,
        clean_start=False,
        properties=properties,
    )
    client.loop_start()
