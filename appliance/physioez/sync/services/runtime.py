"""Keys, secrets and the start of replication, from settings; for the server and the CLI."""

from __future__ import annotations

import atexit
import logging
import os
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from physioez.core.kernel import records
from physioez.core.kernel.settings import Settings
from physioez.core.platform.scheduler import ScheduledJob, add_jobs
from physioez.sync.services import envelope
from physioez.sync.services.mqtt import BrokerSettings
from physioez.sync.services.publisher import BranchPublisher


class SyncConfigError(Exception):
    """Replication cannot start as configured; the message says what to fix."""


def _load_or_create_seed(path: Path) -> bytes:
    """32 secret bytes in a root-only file, made on first use (never overwritten)."""
    if path.exists():
        seed = bytes.fromhex(path.read_text().strip())
        if len(seed) != 32:
            raise SyncConfigError(f"{path} does not hold a 32-byte key")
        return seed
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    seed = os.urandom(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(seed.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return seed


def branch_signing_key(data_dir: Path) -> SigningKey:
    """The branch's Ed25519 key; head office registers its public half."""
    return SigningKey(_load_or_create_seed(Path(data_dir) / "sync" / "branch-signing.key"))


def hq_private_key(path: Path) -> PrivateKey:
    return PrivateKey(_load_or_create_seed(Path(path)))


def read_secret(path: Path, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SyncConfigError(f"Cannot read the {what} from {path}: {exc.strerror}.") from None


def branch_broker(settings: Settings) -> BrokerSettings:
    sync = settings.sync
    return BrokerSettings(
        host=sync.broker_host,
        port=sync.broker_port,
        username=sync.username or settings.branch.id,
        password=read_secret(sync.password_file, "broker password"),
        tls_ca=sync.tls_ca,
    )


def start_publisher(settings: Settings) -> BranchPublisher:
    """Start replication for this branch, woken by every commit that writes the outbox."""
    if not settings.sync.hq_public_key:
        raise SyncConfigError(
            "sync.hq_public_key is empty: ask head office for the output of "
            "'physioez-hq key' and put it in the settings."
        )
    try:
        hq_key = envelope.public_key(settings.sync.hq_public_key)
    except Exception:
        raise SyncConfigError("sync.hq_public_key is not a valid public key.") from None
    verify = None
    if settings.sync.hq_verify_key:
        try:
            verify = envelope.verify_key(settings.sync.hq_verify_key)
        except Exception:
            raise SyncConfigError("sync.hq_verify_key is not a valid verify key.") from None
    publisher = BranchPublisher(
        branch=settings.branch.id,
        signing_key=branch_signing_key(settings.paths.data_dir),
        hq_public_key=hq_key,
        broker=branch_broker(settings),
        batch_rows=settings.sync.batch_rows,
        batch_bytes=settings.sync.batch_kb * 1024,
        max_inflight=settings.sync.max_inflight,
        ack_timeout_s=settings.sync.ack_timeout_seconds,
        hq_verify_key=verify,
    )
    publisher.start()
    records.on_outbox_commit(publisher.wake)
    return publisher


# The scheduler's catch-up tick for replication (besides the push after every commit).
CATCH_UP_SECONDS = 10


def publisher_jobs(publisher: BranchPublisher) -> list[ScheduledJob]:
    return [
        ScheduledJob("sync-catch-up", publisher.catch_up, "interval", {"seconds": CATCH_UP_SECONDS})
    ]


def start() -> None:
    """Run once when the app is created: edits of shared records tell head office what this
    branch knew of others' edits."""
    from physioez.sync.services import downstream

    records.track_head_office(downstream.hq_applied_seq)


def serve(app: Any, settings: Settings, scheduler: BackgroundScheduler) -> None:
    """In the serving worker: start replication when it is on. It runs, like the jobs, in the
    serving worker and stops with it; a mistake in its settings must not stop the clinic,
    which works without head office."""
    if not settings.sync.enabled:
        return
    try:
        publisher = start_publisher(settings)
    except SyncConfigError as exc:
        logging.getLogger("physioez.sync").error("replication is off: %s", exc)
        return
    app.extensions["physioez_sync"] = publisher
    add_jobs(scheduler, publisher_jobs(publisher))
    atexit.register(publisher.stop)
