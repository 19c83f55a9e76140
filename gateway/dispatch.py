"""The dispatcher: one thread that keeps the modem busy while work is queued.

It claims the next due part (the store moves it to 'sending', our in-doubt state), hands the PDU
to the modem and records what came back. Transient failures are retried with exponential backoff
and jitter until the validity period is over; permanent ones end the message; a send whose
outcome is unknown follows ``sending.in_doubt``. Which state, status and error a message ends
with is the lifecycle's decision (``gateway.lifecycle``); this module only decides *when*.
"""
from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Protocol

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import SendingConfig
from gateway.errors import (
    AtCommandError,
    CmeError,
    CmsError,
    ModemUnavailableError,
    SendInDoubtError,
)
from gateway import lifecycle
from gateway.lifecycle import InDoubtPolicy, PartState
from gateway.modem.errors import CmsInfo, CmsPolicy, classify_cme, classify_cms
from gateway.store import PartJob
from gateway.store.protocol import DispatchStorage

log = logging.getLogger(__name__)

IDLE_POLL = 1.0  # seconds between looks at the queue when nothing wakes us
EXPIRY_INTERVAL = 1.0  # seconds between validity sweeps (a writer job each)
UNAVAILABLE_RETRY = 2.0  # seconds before trying a part again when the modem was not reachable
HOLD_RETRY = 10.0  # seconds before trying again after "SIM busy / not ready" class errors


class Sender(Protocol):
    """The part of the modem driver the dispatcher uses."""

    @property
    def ready(self) -> bool: ...

    def send(self, pdu: str, tpdu_length: int, *, more_to_follow: bool = False) -> int: ...


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    in_doubt: int = 0
    expired: int = 0


class Dispatcher:
    def __init__(
        self,
        store: DispatchStorage,
        modem: Sender,
        config: SendingConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.modem = modem
        self.config = config
        # Parsed here too, so a config built in code with the plain string still works.
        self.in_doubt_policy = InDoubtPolicy(config.in_doubt)
        self.clock = clock
        self.rng = rng or random.Random()
        self.stats = DispatchStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_send = -1e9
        self._next_expiry = -1e9

    # ---- lifecycle ----

    def start(self) -> None:
        becomes = lifecycle.in_doubt(self.in_doubt_policy)
        recovered = self.store.recover_in_doubt(self.clock.now().timestamp(), self.in_doubt_policy)
        for message_id, seq in recovered:
            log.warning(
                "message %s part %d was being sent when simgate stopped: %s",
                message_id, seq, "queued again" if becomes is PartState.QUEUED else "assumed sent",
            )
        self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """The sending thread runs (the systemd watchdog is fed only while it does)."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Called by the service after it committed new work."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # never let one bad row kill the only sender
                log.exception("dispatcher iteration failed")
                worked = False
            if worked:
                continue
            self._wake.clear()
            self.clock.wait(self._wake, self._idle_timeout())

    def _idle_timeout(self) -> float:
        due = self.store.next_due_time()
        if due is None:
            return IDLE_POLL
        return max(0.0, min(IDLE_POLL, due - self.clock.now().timestamp()))

    # ---- one step ----

    def run_once(self) -> bool:
        """Expire what is overdue, then send at most one part. True when a part was handled."""
        now = self.clock.now().timestamp()
        if self.clock.monotonic() >= self._next_expiry:
            self._next_expiry = self.clock.monotonic() + EXPIRY_INTERVAL
            for message_id in self.store.expire_due(now):
                self.stats.expired += 1
                log.info("message %s expired before it could be sent", message_id)
        if not self.modem.ready:
            return False
        if self.config.rate_per_minute > 0:
            gap = 60.0 / self.config.rate_per_minute - (self.clock.monotonic() - self._last_send)
            if gap > 0:
                return False
        job = self.store.claim_next_part(now)
        if job is None:
            return False
        self._send(job)
        return True

    def _send(self, job: PartJob) -> None:
        more = job.seq < job.total
        log.debug("message %s part %d/%d: sending (attempt %d)", job.message_id, job.seq, job.total, job.attempts)
        self._last_send = self.clock.monotonic()
        try:
            mr = self.modem.send(job.pdu, job.tpdu_length, more_to_follow=more)
        except SendInDoubtError as exc:
            self._in_doubt(job, str(exc))
        except CmsError as exc:
            self._refused(job, exc, classify_cms(exc.code))
        except CmeError as exc:
            self._refused(job, exc, classify_cme(exc.code if exc.code is not None else exc.text))
        except AtCommandError as exc:  # a bare ERROR: transient, no catalogue error closer than unknown
            self._refused(job, exc, classify_cms(None))
        except ModemUnavailableError as exc:
            log.info("message %s part %d: modem unavailable (%s), kept in the queue", job.message_id, job.seq, exc)
            self.store.release_part(job.part_id, self.clock.now().timestamp() + UNAVAILABLE_RETRY)
        except Exception as exc:  # a bug below us: never leave the part in 'sending' until restart
            log.exception("message %s part %d: unexpected error while sending", job.message_id, job.seq)
            self._in_doubt(job, f"unexpected {type(exc).__name__}: {exc}")
        else:
            now = self.clock.now().timestamp()
            self.store.record_part_sent(job.part_id, mr, now, job.status_report)
            self.stats.sent += 1
            log.info("message %s part %d/%d sent, TP-MR %d", job.message_id, job.seq, job.total, mr)

    def _in_doubt(self, job: PartJob, reason: str) -> None:
        self.stats.in_doubt += 1
        now = self.clock.now().timestamp()
        if lifecycle.in_doubt(self.in_doubt_policy) is PartState.QUEUED:
            log.warning("message %s part %d: outcome unknown (%s); sending again (may duplicate)", job.message_id, job.seq, reason)
            self.store.record_part_retry(job.part_id, f"in doubt: {reason}", now + self._backoff(job.attempts))
        else:
            log.warning("message %s part %d: outcome unknown (%s); assumed sent", job.message_id, job.seq, reason)
            self.store.record_part_sent(job.part_id, None, now, job.status_report)

    def _refused(self, job: PartJob, exc: AtCommandError, info: CmsInfo) -> None:
        now = self.clock.now().timestamp()
        reason = " ".join(str(w) for w in (exc.kind, exc.code, info.meaning) if w is not None)
        for_good = info.permanent or info.policy is CmsPolicy.PERMANENT
        if for_good or job.attempts >= self.config.max_attempts:
            self.stats.failed += 1
            log.error(
                "message %s part %d %s: %s", job.message_id, job.seq,
                "refused for good" if for_good else f"failed {job.attempts} times", reason,
            )
            outcome = lifecycle.refused(permanent=for_good, error_id=info.error_id)
            self.store.fail_message(job.message_pk, outcome, now, reason)
            return
        if info.policy in (CmsPolicy.HOLD, CmsPolicy.RECONFIGURE):
            # The modem or our configuration cannot send anything now (no SIM, no network, no
            # SMSC): the message is not at fault, so it keeps its place and its attempts.
            log.warning("message %s part %d: modem cannot send (%s), held", job.message_id, job.seq, reason)
            self.store.release_part(job.part_id, now + HOLD_RETRY)
            return
        retry_at = now + self._backoff(job.attempts)
        if retry_at >= job.expires_at:
            self.stats.expired += 1
            log.warning("message %s: validity ends before the next retry (%s), expired", job.message_id, reason)
            self.store.fail_message(job.message_pk, lifecycle.expired(), now, reason)
            return
        self.stats.retried += 1
        log.warning("message %s part %d: %s, retry in %.1f s", job.message_id, job.seq, reason, retry_at - now)
        self.store.record_part_retry(job.part_id, reason, retry_at)

    def _backoff(self, attempts: int) -> float:
        base = self.config.retry_base * (2 ** max(0, attempts - 1))
        return min(self.config.retry_max, base) * self.rng.uniform(0.5, 1.5)
