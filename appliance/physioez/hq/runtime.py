"""Head office's connections and key, from settings."""

from __future__ import annotations

from physioez.core.kernel.settings import Settings
from physioez.hq.store import MySqlSettings
from physioez.sync.services.mqtt import BrokerSettings
from physioez.sync.services.runtime import SyncConfigError, hq_private_key, read_secret

__all__ = ["SyncConfigError", "hq_broker", "hq_mysql", "hq_private_key"]


def hq_broker(settings: Settings) -> BrokerSettings:
    hq = settings.hq
    return BrokerSettings(
        host=hq.broker_host,
        port=hq.broker_port,
        username=hq.broker_username,
        password=read_secret(hq.broker_password_file, "broker password"),
        tls_ca=hq.tls_ca,
    )


def hq_mysql(settings: Settings) -> MySqlSettings:
    hq = settings.hq
    return MySqlSettings(
        host=hq.mysql_host,
        port=hq.mysql_port,
        user=hq.mysql_user,
        password=read_secret(hq.mysql_password_file, "MySQL password"),
        database=hq.mysql_database,
    )
