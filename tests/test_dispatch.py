"""Dispatcher policy against a scripted modem: the Sender protocol is the seam being tested."""
from __future__ import annotations

import random
from collections import deque
from dataclasses import replace

import pytest

from gateway.clock import ManualClock
from gateway.config import SendingConfig
from gateway.dispatch import Dispatcher
from gateway.errors import AtCommandError, CmsError, ModemUnavailableError, SendInDoubtError
from gateway.lifecycle import InDoubtPolicy, MessageState
from gateway.store import NewMessage, NewPart, Store


class ScriptedModem:
    """Answers each send with the next scripted outcome (an int TP-MR or an exception)."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = deque(outcomes)
        self.sent: list[tuple[str, int, bool]] = []
        self.ready = True

    def send(self, pdu: str, tpdu_length: int, *, more_to_follow: bool = False) -> int:
        self.sent.append((pdu, tpdu_length, more_to_follow))
        outcome = self.outcomes.popleft()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def account(store: Store) -> int:
    return store.create_account("alice", "hash", 0.0).id


def _queue(store: Store, account: int, clock: ManualClock, message_id: str = "m", parts: int = 1, report: bool = True, validity: float = 3600) -> None:
    now = clock.now().timestamp()
    store.insert_messages([
        NewMessage(
            message_id=message_id, account_id=account, bulk_id=None, sender=None, destination="41793026727",
            text="x", data=None, encoding="gsm7", sms_count=parts, concat_ref=1, created_at=now,
            expires_at=now + validity,
            parts=tuple(NewPart(i, parts, f"00PDU{i}", 20) for i in range(1, parts + 1)),
            options={"status_report": report},
        )
    ])


def _dispatcher(store: Store, modem: ScriptedModem, clock: ManualClock, **cfg) -> Dispatcher:
    return Dispatcher(store, modem, replace(SendingConfig(), **cfg), clock=clock, rng=random.Random(1))


def test_multipart_uses_more_to_follow_and_waits_for_reports(store, account, clock) -> None:
    modem = ScriptedModem(10, 11)
    _queue(store, account, clock, parts=2)
    d = _dispatcher(store, modem, clock)
    assert d.run_once() and d.run_once() and not d.run_once()
    assert [m for *_x, m in modem.sent] == [True, False]
    assert store.message(account, "m").state is MessageState.SENT
    assert [p["mr"] for p in store.message_parts(store.message(account, "m").pk)] == [10, 11]


def test_without_status_report_the_message_is_delivered_to_operator(store, account, clock) -> None:
    _queue(store, account, clock, report=False)
    d = _dispatcher(store, ScriptedModem(5), clock)
    d.run_once()
    assert store.message(account, "m").state is MessageState.SENT_NO_REPORT


def test_transient_error_is_retried_with_backoff(store, account, clock) -> None:
    modem = ScriptedModem(CmsError("AT+CMGS", 42), 7)
    _queue(store, account, clock)
    d = _dispatcher(store, modem, clock, retry_base=10.0)
    assert d.run_once()
    assert not d.run_once()  # not due yet
    clock.advance(16)  # 10 s * jitter (0.5-1.5)
    assert d.run_once()
    assert store.message(account, "m").state is MessageState.SENT
    assert d.stats.retried == 1


def test_permanent_error_ends_the_message(store, account, clock) -> None:
    _queue(store, account, clock)
    d = _dispatcher(store, ScriptedModem(CmsError("AT+CMGS", 1)), clock)
    d.run_once()
    rec = store.message(account, "m")
    assert (rec.state, rec.status_name, rec.error_id) == (MessageState.UNDELIVERABLE, "UNDELIVERABLE_REJECTED_OPERATOR", 1)


def test_too_many_transient_failures_give_up(store, account, clock) -> None:
    _queue(store, account, clock)
    d = _dispatcher(store, ScriptedModem(*[CmsError("AT+CMGS", 500)] * 3), clock, max_attempts=3, retry_base=1.0)
    for _ in range(3):
        clock.advance(5)
        d.run_once()
    assert store.message(account, "m").status_name == "UNDELIVERABLE_NOT_DELIVERED"


def test_retry_past_validity_expires(store, account, clock) -> None:
    _queue(store, account, clock, validity=20)
    d = _dispatcher(store, ScriptedModem(CmsError("AT+CMGS", 38)), clock, retry_base=60.0)
    d.run_once()
    assert store.message(account, "m").state is MessageState.EXPIRED


def test_queued_message_expires_while_modem_is_down(store, account, clock) -> None:
    modem = ScriptedModem()
    modem.ready = False
    _queue(store, account, clock, validity=30)
    d = _dispatcher(store, modem, clock)
    assert not d.run_once()
    clock.advance(31)
    d.run_once()
    assert store.message(account, "m").status_name == "EXPIRED_EXPIRED"
    assert modem.sent == []


@pytest.mark.parametrize("exc", [ModemUnavailableError("no SIM"), CmsError("AT+CMGS", 310), CmsError("AT+CMGS", 330)])
def test_modem_side_problems_hold_the_queue(store, account, clock, exc) -> None:
    _queue(store, account, clock)
    d = _dispatcher(store, ScriptedModem(exc, 9), clock)
    d.run_once()
    rec = store.message(account, "m")
    assert not rec.state.final
    clock.advance(60)
    d.run_once()
    assert store.message(account, "m").state is MessageState.SENT
    assert store.message_parts(rec.pk)[0]["attempts"] == 1  # the held try did not count


@pytest.mark.parametrize("policy, state, sends", [
    (InDoubtPolicy.ASSUME_SENT, MessageState.SENT, 1),
    (InDoubtPolicy.RESEND, MessageState.SENT, 2),
    ("resend", MessageState.SENT, 2),  # a config built in code with the config file's string
])
def test_in_doubt_policy(store, account, clock, policy, state, sends) -> None:
    modem = ScriptedModem(SendInDoubtError("no +CMGS after Ctrl-Z"), 4)
    _queue(store, account, clock)
    d = _dispatcher(store, modem, clock, in_doubt=policy, retry_base=1.0)
    d.run_once()
    clock.advance(5)
    d.run_once()
    assert store.message(account, "m").state is state
    assert len(modem.sent) == sends


def test_an_unexpected_error_is_handled_as_in_doubt_not_left_sending(store, account, clock) -> None:
    _queue(store, account, clock)
    d = _dispatcher(store, ScriptedModem(RuntimeError("driver bug")), clock)
    d.run_once()
    rec = store.message(account, "m")
    assert rec.state is MessageState.SENT  # assume_sent: never a duplicate
    assert d.stats.in_doubt == 1


def test_plain_error_is_transient(store, account, clock) -> None:
    _queue(store, account, clock)
    d = _dispatcher(store, ScriptedModem(AtCommandError("AT+CMGS"), 3), clock, retry_base=1.0)
    d.run_once()
    clock.advance(5)
    d.run_once()
    assert store.message(account, "m").state is MessageState.SENT


def test_rate_limit_spaces_sends(store, account, clock) -> None:
    _queue(store, account, clock, "a")
    _queue(store, account, clock, "b")
    d = _dispatcher(store, ScriptedModem(1, 2), clock, rate_per_minute=6)
    assert d.run_once()
    assert not d.run_once()
    clock.advance(10)
    assert d.run_once()


def test_thread_sends_on_wake(store, account) -> None:
    """The real thread with the system clock: woken by the service, no sleeps in the test."""
    import threading

    from gateway.clock import SYSTEM_CLOCK

    sent = threading.Event()

    class Modem(ScriptedModem):
        def send(self, pdu, tpdu_length, *, more_to_follow=False):
            mr = super().send(pdu, tpdu_length, more_to_follow=more_to_follow)
            sent.set()
            return mr

    d = Dispatcher(store, Modem(3), SendingConfig(), clock=SYSTEM_CLOCK)
    d.start()
    try:
        _queue(store, account, ManualClock(SYSTEM_CLOCK.now()))
        d.wake()
        assert sent.wait(10)
    finally:
        d.stop()
