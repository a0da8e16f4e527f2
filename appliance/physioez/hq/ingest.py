"""Head office's ingest (``physioez-hq ingest``): batches from every branch, applied to MySQL.

Any number of instances share one subscription, so the broker hands each batch to one of
them. A batch is opened and verified (:mod:`envelope`), applied in one MySQL transaction
(:mod:`hq_store`) and only then acknowledged to its branch. Anything that cannot be applied
now (MySQL down, a gap) is not acked: the branch resends, and seqs already applied are skipped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable

import pymysql
from nacl.public import PrivateKey

from physioez.hq import apply, digests, outbox, store
from physioez.sync.services import envelope
from physioez.sync.services.mqtt import BrokerSettings, connect, new_client

log = logging.getLogger(__name__)

SHARE_GROUP = "hq-ingest"
SUBSCRIPTION = f"$share/{SHARE_GROUP}/{envelope.TOPIC_ROOT}/+/up"
# Times a batch that finds a gap goes back to the end of the queue before the branch is asked
# to resend, and the pause when nothing else is queued (so a real loss costs ~0.1 s).
GAP_RETRIES = 4
GAP_PAUSE_S = 0.025


class HqIngest:
    def __init__(
        self,
        *,
        instance: str,
        hq_private_key: PrivateKey,
        broker: BrokerSettings,
        mysql: store.MySqlSettings,
        before_commit: Callable[[], None] | None = None,
        before_ack: Callable[[envelope.Batch], None] | None = None,
        max_batch_bytes: int = envelope.DEFAULT_MAX_BYTES,
    ) -> None:
        self.instance = instance
        self.max_batch_bytes = max_batch_bytes
        self.hq_private_key = hq_private_key
        self._signing_key = envelope.derived_signing_key(bytes(hq_private_key))
        self.mysql = mysql
        self.counts: Counter[str] = Counter()
        self._before_commit = before_commit
        self._before_ack = before_ack
        self._queue: queue.Queue = queue.Queue(maxsize=1000)
        self._stop = threading.Event()
        self._connection: pymysql.connections.Connection | None = None
        self._keys: dict = {}
        self._keys_loaded_at = 0.0
        self.broker = broker
        self._client = new_client(f"physioez-hq-ingest-{instance}", broker)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._worker = threading.Thread(target=self._run, name=f"ingest-{instance}", daemon=True)

    def start(self) -> None:
        self._worker.start()
        connect(self._client, self.broker)

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._worker.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()
        self._drop_connection()

    # -- MQTT (paho's thread): hand over, never block -------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused hq-ingest %s: %s", self.instance, reason_code)
            return
        client.subscribe(SUBSCRIPTION, qos=1)

    def _on_message(self, client, userdata, message) -> None:
        self._queue.put((message.topic, bytes(message.payload)))

    # -- the worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            topic, payload, *retries = item
            try:
                self._handle(topic, payload, *retries)
            except pymysql.Error as exc:
                # MySQL is down or restarting: not acked, the branch resends after its timeout.
                self.counts["mysql_unavailable"] += 1
                log.warning("MySQL unavailable, batch on %s left for a resend: %s", topic, exc)
                self._drop_connection()
                time.sleep(0.5)
            except Exception:
                self.counts["failed"] += 1
                log.exception("batch on %s could not be applied", topic)

    def _db(self):
        if self._connection is None:
            self._connection = self.mysql.connect()
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(pymysql.Error):
                self._connection.close()
        self._connection = None

    def _branch_keys(self, force: bool = False) -> dict:
        if force or time.monotonic() - self._keys_loaded_at > 30:
            self._keys = store.branch_keys(self._db())
            self._keys_loaded_at = time.monotonic()
        return self._keys

    def _handle(self, topic: str, payload: bytes, retries: int = 0) -> None:
        topic_branch = envelope.branch_of_topic(topic)
        try:
            batch = envelope.open_message(
                payload,
                self.hq_private_key,
                self._branch_keys(),
                topic_branch,
                self.max_batch_bytes,
            )
        except envelope.Rejected as first:
            if first.reason != "unknown_branch":
                return self._reject(topic, first)
            # A branch registered since the keys were read: look again once.
            try:
                batch = envelope.open_message(
                    payload,
                    self.hq_private_key,
                    self._branch_keys(force=True),
                    topic_branch,
                    self.max_batch_bytes,
                )
            except envelope.Rejected as again:
                return self._reject(topic, again)
        if isinstance(batch, envelope.DigestRequest):
            return self._answer_digests(batch)
        if isinstance(batch, envelope.PullRequest):
            return self._send_down(batch)
        if batch.schema_version not in (envelope.SCHEMA_VERSION, envelope.SCHEMA_VERSION - 1):
            # Held, not acked: the branch keeps resending until head office is upgraded.
            self.counts["unknown_schema"] += 1
            log.error(
                "ALERT: %s sent schema version %s; this head office applies %s and %s",
                batch.branch,
                batch.schema_version,
                envelope.SCHEMA_VERSION - 1,
                envelope.SCHEMA_VERSION,
            )
            return None
        result = apply.apply_batch(self._db(), batch, self._before_commit)
        if isinstance(result, apply.Gap):
            if self._retry_later(topic, payload, retries):
                return None
            self.counts["gap"] += 1
            self._answer(batch.branch, {"resend_from": result.expected})
            return None
        self.counts["applied" if result.rows_written else "duplicate"] += 1
        self.counts["rows"] += result.rows_written
        if not result.rows_written:
            log.info(
                "batch %s..%s from %s already applied (a resend or a replay): skipped",
                batch.first_seq,
                batch.last_seq,
                batch.branch,
            )
        if self._before_ack is not None:
            self._before_ack(batch)
        self._answer(batch.branch, {"applied_seq": result.applied_seq})
        return None

    def _send_down(self, request: envelope.PullRequest) -> None:
        """Head office's changes for the branch after what it has applied, sealed to it."""
        self.counts["pull_requests"] += 1
        connection = self._db()
        box_key = store.branch_box_key(connection, request.branch)
        if box_key is None:
            log.warning(
                "%s asks for head office's changes but has no box key registered", request.branch
            )
            return
        rows, more = outbox.down_rows(connection, request.branch, request.after_hq_seq)
        batch = envelope.DownBatch(
            branch=request.branch,
            after_hq_seq=request.after_hq_seq,
            last_hq_seq=rows[-1]["seq"] if rows else request.after_hq_seq,
            rows=rows,
            more=more,
        )
        self._client.publish(
            envelope.down_topic(request.branch),
            envelope.seal_down(batch, self._signing_key, box_key),
            qos=1,
        )
        self.counts["down_rows"] += len(rows)

    def _answer_digests(self, request: envelope.DigestRequest) -> None:
        """Digests are comparable only at the same point of the stream: answer when head office
        has applied exactly what the branch had sent when it asked."""
        self.counts["digest_requests"] += 1
        connection = self._db()
        applied = store.applied_seq(connection, request.branch)
        if applied != request.as_of_seq:
            self._answer(request.branch, {"digests_not_ready": applied})
            return
        buckets = digests.hq_buckets(connection, request.branch)
        self._answer(
            request.branch,
            {
                "as_of_seq": applied,
                "digests": {
                    table: {bucket: list(value) for bucket, value in months.items()}
                    for table, months in buckets.items()
                },
            },
        )

    def _retry_later(self, topic: str, payload: bytes, retries: int) -> bool:
        """With instances sharing the subscription, the batch before this one is usually not
        lost but in another instance's queue. Asking the branch to resend at once made it send
        its whole window again: with two instances, 5 batches were published for each one
        applied, and two applied fewer changes a second than one (bench/hq_ingest.py). So the
        batch goes back to the end of the queue a few times first; a longer queue gives the
        other instances more time."""
        if retries >= GAP_RETRIES:
            return False
        try:
            self._queue.put_nowait((topic, payload, retries + 1))
        except queue.Full:
            return False
        self.counts["gap_retried"] += 1
        if self._queue.qsize() == 1:
            time.sleep(GAP_PAUSE_S)
        return True

    def _reject(self, topic: str, rejected: envelope.Rejected) -> None:
        self.counts[f"rejected_{rejected.reason}"] += 1
        log.warning("rejected a batch on %s: %s", topic, rejected)
        store.record_rejection(self._db(), topic, rejected.reason, rejected.detail)

    def _answer(self, branch: str, body: dict) -> None:
        self._client.publish(
            envelope.ack_topic(branch), json.dumps({"branch": branch, **body}).encode(), qos=1
        )
