"""The branch publisher: the outbox, in order, to head office; delivered only when acked.

It reads the outbox after the last acknowledged seq, cuts batches (at most ``batch_rows``
rows or ``batch_bytes``), signs and seals each, and publishes it with QoS 1 to the branch's up
topic, keeping at most ``max_inflight`` batches unacknowledged. Head office acks the highest
seq it has committed to MySQL; only then does the branch count those rows as delivered. If no
ack comes in ``ack_timeout_s`` (ingest down, MySQL down, a message lost), or head office asks
for a resend, it starts again from the last ack: head office skips what it already has.
A commit wakes it at once; a timer catches anything missed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import paho.mqtt.client as paho
from nacl.public import PublicKey
from nacl.signing import SigningKey, VerifyKey

from physioez.core.kernel.events import bus
from physioez.sync.events import ReplicationChanged
from physioez.sync.services import downstream, envelope, state
from physioez.sync.services.mqtt import BrokerSettings, connect, new_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestCheck:
    """The last comparison with head office: when, at which seq, which months differed."""

    checked_at: float
    as_of_seq: int
    differing: tuple[tuple[str, str], ...]
    resent_rows: int


@dataclass
class PublisherStatus:
    connected: bool
    acked_seq: int
    last_seq: int
    inflight: int
    last_ack_at: float | None
    rejected_acks: int
    last_check: DigestCheck | None = None


class BranchPublisher:
    def __init__(
        self,
        *,
        branch: str,
        signing_key: SigningKey,
        hq_public_key: PublicKey,
        broker: BrokerSettings,
        batch_rows: int = 200,
        batch_bytes: int = 256 * 1024,
        linger_s: float = 0.05,
        max_inflight: int = 4,
        ack_timeout_s: float = 10.0,
        tick_s: float = 1.0,
        check_every_s: float = 6 * 3600,
        hq_verify_key: VerifyKey | None = None,
        pull_every_s: float = 30.0,
    ) -> None:
        self.branch = branch
        self.signing_key = signing_key
        self.hq_public_key = hq_public_key
        self.broker = broker
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.linger_s = linger_s
        self.max_inflight = max_inflight
        self.ack_timeout_s = ack_timeout_s
        self.tick_s = tick_s
        self.check_every_s = check_every_s
        # Head office's changes come down only when its verify key is configured.
        self.hq_verify_key = hq_verify_key
        self.pull_every_s = pull_every_s
        self._box_key = envelope.derived_box_key(bytes(signing_key))
        self._next_pull_at = 0.0
        self.down_applied = 0
        self._next_check_at = time.monotonic() + check_every_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._connected = False
        self._next_seq = 1
        self._inflight: deque[tuple[int, int, float]] = deque()  # first, last, sent at
        self._last_ack_at: float | None = None
        self._rejected_acks = 0
        self._thread: threading.Thread | None = None
        self._announced_at = 0.0
        self._last_check: DigestCheck | None = None
        self._asked_as_of: int | None = None
        self._digest_answer: tuple[int, dict] | None = None
        self._client = new_client(f"physioez-branch-{branch}", broker)
        self._client.will_set(envelope.status_topic(branch), b"offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._next_seq = state.acked_seq() + 1
        connect(self._client, self.broker)
        self._start_pump()

    def _start_pump(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sync-publisher", daemon=True)
        self._thread.start()

    def catch_up(self) -> None:
        """The scheduler's tick (every few seconds): wake the pump for anything a missed wake
        left waiting, and start it again if something killed it: the outbox keeps the
        changes, so replication resumes from the last ack."""
        if self._stop.is_set():
            return
        if self._thread is None or not self._thread.is_alive():
            log.error("the replication pump had stopped; starting it again from the last ack")
            with self._lock:
                self._inflight.clear()
                self._next_seq = state.acked_seq() + 1
            self._start_pump()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._connected:
            self._client.publish(envelope.status_topic(self.branch), b"offline", 1, retain=True)
        self._client.disconnect()
        self._client.loop_stop()

    def wake(self) -> None:
        """Something was committed: push it now rather than at the next tick."""
        self._wake.set()

    def status(self) -> PublisherStatus:
        with self._lock:
            return PublisherStatus(
                self._connected,
                state.acked_seq(),
                state.last_seq(),
                len(self._inflight),
                self._last_ack_at,
                self._rejected_acks,
                self._last_check,
            )

    def check_with_head_office(self) -> bool:
        """Ask head office for its digests (anti-entropy). Only when everything sent has been
        acknowledged, so both sides describe the same seq; False when that is not the case."""
        acked = state.acked_seq()
        if not self._connected or acked != state.last_seq():
            return False
        request = envelope.DigestRequest(self.branch, acked)
        payload = envelope.seal(request, self.signing_key, self.hq_public_key)
        self._asked_as_of = acked
        info = self._client.publish(envelope.up_topic(self.branch), payload, qos=1)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def _compare_when_answered(self) -> None:
        with self._lock:
            answer, self._digest_answer = self._digest_answer, None
        if answer is not None:
            self._compare(*answer)

    def _compare(self, as_of: int, digests: dict) -> None:
        theirs = {
            table: {bucket: tuple(value) for bucket, value in months.items()}
            for table, months in digests.items()
        }
        differ = state.differing(state.branch_buckets(as_of), theirs)
        resent = state.resend_buckets(differ) if differ else 0
        if differ:
            log.warning("head office differs in %s: re-sent %s records", differ, resent)
        self._last_check = DigestCheck(time.monotonic(), as_of, tuple(differ), resent)
        self._announce(force=True)

    def _announce(self, force: bool = False) -> None:
        """Tell the IT person's screens, at most once a second (acks can come many a second)."""
        now = time.monotonic()
        if not force and now - self._announced_at < 1.0:
            return
        self._announced_at = now
        bus.publish(ReplicationChanged(branch=self.branch, audience_roles=("it_admin", "owner")))

    # -- MQTT callbacks (paho's network thread) -----------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("broker refused the branch connection: %s", reason_code)
            return
        client.subscribe(envelope.ack_topic(self.branch), qos=1)
        if self.hq_verify_key is not None:
            client.subscribe(envelope.down_topic(self.branch), qos=1)
            self._next_pull_at = 0.0  # pull head office's changes on every connect
        client.publish(envelope.status_topic(self.branch), b"online", qos=1, retain=True)
        with self._lock:
            self._connected = True
            # Whatever was in flight may be lost with the connection: resend from the ack.
            self._inflight.clear()
            self._next_seq = state.acked_seq() + 1
        self._wake.set()
        self._announce(force=True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self._connected = False
        log.info("replication broker connection lost (%s); paho reconnects", reason_code)
        self._announce(force=True)

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == envelope.down_topic(self.branch):
            self._on_down(bytes(message.payload))
            return
        try:
            answer = json.loads(message.payload)
            branch = answer["branch"]
        except (ValueError, KeyError, TypeError):
            self._rejected_acks += 1
            log.warning("unreadable message on the ack topic, ignored")
            return
        if branch != self.branch:
            self._rejected_acks += 1
            return
        if "applied_seq" in answer:
            acked = state.record_ack(int(answer["applied_seq"]))
            with self._lock:
                self._last_ack_at = time.monotonic()
                while self._inflight and self._inflight[0][1] <= acked:
                    self._inflight.popleft()
                self._next_seq = max(self._next_seq, acked + 1)
            self._announce()
        if "digests" in answer and int(answer.get("as_of_seq", -1)) == self._asked_as_of:
            self._asked_as_of = None
            # Compared on the pump's thread: folding every record's hash takes a while on a
            # big outbox, and this (paho's network) thread must keep acks and pings flowing.
            with self._lock:
                self._digest_answer = (int(answer["as_of_seq"]), answer["digests"])
        if "resend_from" in answer:
            start = int(answer["resend_from"])
            with self._lock:
                self._inflight.clear()
                self._next_seq = max(start, state.acked_seq() + 1)
        self._wake.set()

    # -- the pump -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._pump()
                self._pull_when_due()
                self._check_when_due()
                self._compare_when_answered()
                self._resend_when_asked()
            except Exception:
                # A bad moment (database busy, broker gone) must not end replication.
                log.exception("replication publisher step failed; retrying at the next tick")

    def _linger(self, deadline: float) -> None:
        # Woken by commits and acks; a wake cleared here is for rows committed before the
        # caller reads the outbox again, so none is lost.
        while (left := deadline - time.monotonic()) > 0 and not self._stop.is_set():
            with self._lock:
                if not self._inflight:
                    return
            self._wake.clear()
            self._wake.wait(left)

    def _on_down(self, payload: bytes) -> None:
        if self.hq_verify_key is None:
            return
        try:
            batch = envelope.open_down(payload, self._box_key, self.hq_verify_key, self.branch)
        except envelope.Rejected as refused:
            log.warning("refused a batch on the down topic: %s", refused)
            return
        applied, _ = downstream.apply_down(batch.rows, batch.last_hq_seq)
        self.down_applied += applied
        if batch.more:
            self.pull()
        elif applied:
            self._announce()

    def pull(self) -> bool:
        """Ask head office for its changes after the last one applied here."""
        if self.hq_verify_key is None or not self._connected:
            return False
        request = envelope.PullRequest(self.branch, downstream.hq_applied_seq())
        payload = envelope.seal(request, self.signing_key, self.hq_public_key)
        info = self._client.publish(envelope.up_topic(self.branch), payload, qos=1)
        return info.rc == paho.MQTT_ERR_SUCCESS

    def _pull_when_due(self) -> None:
        if time.monotonic() >= self._next_pull_at and self.pull():
            self._next_pull_at = time.monotonic() + self.pull_every_s

    def _resend_when_asked(self) -> None:
        """A table re-send an admin asked for: the next chunk, while the link is up and
        nothing else waits (a re-send never delays the branch's own new changes)."""
        with self._lock:
            if not self._connected or self._inflight:
                return
        if state.resend_step():
            self._wake.set()

    def _check_when_due(self) -> None:
        """Anti-entropy on a schedule: when due and nothing is waiting, compare with head
        office; when busy, try again at a later tick."""
        if time.monotonic() >= self._next_check_at and self.check_with_head_office():
            self._next_check_at = time.monotonic() + self.check_every_s

    def _pump(self) -> None:
        with self._lock:
            if not self._connected:
                return
            if self._inflight and time.monotonic() - self._inflight[0][2] > self.ack_timeout_s:
                log.info(
                    "no ack for seq %s..%s: resending from the last ack", *self._inflight[0][:2]
                )
                self._inflight.clear()
                self._next_seq = state.acked_seq() + 1
        while not self._stop.is_set():
            with self._lock:
                if not self._connected or len(self._inflight) >= self.max_inflight:
                    return
                after = self._next_seq - 1
                busy = bool(self._inflight)
            rows = state.pending_rows(after, self.batch_rows, self.batch_bytes)
            if not rows:
                return
            if len(rows) < self.batch_rows and self.linger_s and busy:
                # Like Nagle's algorithm: an idle link sends a short batch at once (a commit
                # wakes us after all its rows are in the outbox); while a batch is unacked, a
                # short one waits for its ack, at most linger_s, gathering the commits made
                # meanwhile, so a busy branch sends fewer, fuller batches.
                self._linger(time.monotonic() + self.linger_s)
                rows = state.pending_rows(after, self.batch_rows, self.batch_bytes)
            batch = envelope.Batch(
                branch=self.branch,
                first_seq=rows[0]["seq"],
                last_seq=rows[-1]["seq"],
                schema_version=envelope.SCHEMA_VERSION,
                rows=rows,
            )
            payload = envelope.seal(batch, self.signing_key, self.hq_public_key)
            info = self._client.publish(envelope.up_topic(self.branch), payload, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                return  # not connected after all; on_connect restarts from the ack
            with self._lock:
                self._inflight.append((batch.first_seq, batch.last_seq, time.monotonic()))
                self._next_seq = batch.last_seq + 1
