"""The `[sync]` settings section: this branch's link to head office (docs/settings.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from physioez.core.kernel.settings import Section


class SyncSettings(Section):
    enabled: bool = Field(
        False, description="Replicate this branch to head office over MQTT (off: stand-alone)."
    )
    broker_host: str = Field("localhost", description="Head office's MQTT broker.")
    broker_port: int = Field(1883, ge=1, le=65535, description="MQTT port (8883 for TLS).")
    username: str = Field(
        "",
        max_length=64,
        description="Broker user name; empty: the branch id (as the ACL expects).",
    )
    password_file: Path = Field(
        Path("/etc/physioez/sync-broker.password"),
        description="Root-only file holding the broker password (never in this file).",
    )
    tls_ca: str = Field(
        "", description="CA certificate file of the broker; set it and the link is TLS."
    )
    hq_public_key: str = Field(
        "", description="Head office's public key (physioez-hq key prints it), base64."
    )
    hq_verify_key: str = Field(
        "",
        description="Head office's signing key (physioez-hq key prints it), base64; "
        "set it and head office's own changes come down to this branch.",
    )
    batch_rows: int = Field(200, ge=1, le=1000, description="Most outbox rows in one batch.")
    batch_kb: int = Field(256, ge=16, le=4096, description="Most KiB of rows in one batch.")
    max_inflight: int = Field(
        4, ge=1, le=32, description="Batches sent and not yet acknowledged by head office."
    )
    ack_timeout_seconds: int = Field(
        10, ge=2, le=600, description="Resend from the last ack when none comes this long."
    )
