"""Replication to head office: the branch's outbox, in signed and sealed batches over MQTT 5,
applied exactly once to head office's MySQL, acknowledged end to end."""

from __future__ import annotations

from physioez.core.kernel.modules import Module
from physioez.core.kernel.permissions import Permission
from physioez.sync.events import ReplicationChanged
from physioez.sync.migrations import MIGRATIONS
from physioez.sync.settings import SyncSettings

MODULE = Module(
    name="sync",
    description="Replication to head office and back",
    permissions=(
        Permission(
            "sync.replication.manage",
            "See replication to head office, check it and send tables again",
            ("it_admin", "network_ops"),
            governance=True,
        ),
    ),
    settings=SyncSettings,
    events=(ReplicationChanged,),
    migrations=MIGRATIONS,
    web="physioez.sync.web:WEB",
    cli="physioez.sync.cli:sync_group",
    start="physioez.sync.services.runtime:start",
    serve="physioez.sync.services.runtime:serve",
)
