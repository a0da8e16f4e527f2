"""The `[hq]` settings section: head office's MySQL, broker and key (docs/settings.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from physioez.core.kernel.settings import Section


class HqSettings(Section):
    mysql_host: str = Field("localhost", description="Head office MySQL / MariaDB host.")
    mysql_port: int = Field(3306, ge=1, le=65535, description="MySQL port.")
    mysql_user: str = Field("physioez", description="MySQL user of the ingest.")
    mysql_password_file: Path = Field(
        Path("/etc/physioez/hq-mysql.password"),
        description="Root-only file holding the MySQL password.",
    )
    mysql_database: str = Field("physioez_hq", description="Head office database.")
    broker_host: str = Field("localhost", description="The MQTT broker the branches publish to.")
    broker_port: int = Field(1883, ge=1, le=65535, description="MQTT port (8883 for TLS).")
    broker_username: str = Field("hq-ingest", description="Broker user of the ingest.")
    broker_password_file: Path = Field(
        Path("/etc/physioez/hq-broker.password"),
        description="Root-only file holding the ingest's broker password.",
    )
    tls_ca: str = Field("", description="CA certificate file of the broker (TLS when set).")
    private_key_file: Path = Field(
        Path("/var/lib/physioez-hq/hq-box.key"),
        description="Head office's private key (made on first use, 0600); batches are sealed "
        "to its public half.",
    )
    max_batch_mb: int = Field(
        8,
        ge=1,
        le=64,
        description="Most MiB a branch's message may inflate to; a larger one is refused "
        "and logged (a branch sends at most sync.batch_kb of rows in one).",
    )
