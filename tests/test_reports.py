from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway.clock import ManualClock
from gateway.reports import ReportMatcher
from gateway.sms import encode_status_report
from gateway.lifecycle import MessageState
from gateway.store import NewMessage, NewPart, Store

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def account(store: Store) -> int:
    return store.create_account("a", "h", 0).id


def _sent(store: Store, account: int, message_id: str, mrs: list[int | None], at: float, dest: str = "41793026727") -> None:
    store.insert_messages([
        NewMessage(message_id=message_id, account_id=account, bulk_id=None, sender=None, destination=dest, text="x",
                   data=None, encoding="gsm7", sms_count=len(mrs), concat_ref=0, created_at=at, expires_at=at + 86400,
                   parts=tuple(NewPart(i + 1, len(mrs), "00", 1) for i in range(len(mrs))), options={"status_report": True})
    ])
    for mr in mrs:
        job = store.claim_next_part(at)
        store.record_part_sent(job.part_id, mr, at, True)


def _report(mr: int, status: int = 0, to: str = "+41793026727") -> str:
    return encode_status_report(mr, to, timestamp=T0, discharge_time=T0, status=status)


def test_multipart_delivered_when_all_parts_are(store, account, clock) -> None:
    _sent(store, account, "m", [200, 201], T0.timestamp())
    m = ReportMatcher(store, clock=clock)
    m.handle_pdu(_report(200))
    assert store.message(account, "m").state is MessageState.SENT
    m.handle_pdu(_report(201))
    assert store.message(account, "m").state is MessageState.DELIVERED


def test_tp_mr_wraps_newest_send_wins(store, account, clock) -> None:
    _sent(store, account, "old", [7], T0.timestamp() - 3600)
    _sent(store, account, "new", [7], T0.timestamp())
    ReportMatcher(store, clock=clock).handle_pdu(_report(7))
    assert store.message(account, "new").state is MessageState.DELIVERED
    assert store.message(account, "old").state is MessageState.SENT


def test_same_mr_other_recipient_does_not_match(store, account, clock) -> None:
    _sent(store, account, "m", [9], T0.timestamp(), dest="41790000000")
    m = ReportMatcher(store, clock=clock)
    m.handle_pdu(_report(9))
    assert m.unmatched == 1
    assert store.message(account, "m").state is MessageState.SENT


def test_reports_outside_the_window_are_not_matched(store, account, clock) -> None:
    _sent(store, account, "m", [9], T0.timestamp())
    clock.advance(timedelta(days=4).total_seconds())
    m = ReportMatcher(store, clock=clock)
    m.handle_pdu(_report(9))
    assert m.unmatched == 1


def test_national_form_of_the_recipient_matches(store, account, clock) -> None:
    _sent(store, account, "m", [3], T0.timestamp())
    ReportMatcher(store, clock=clock).handle_pdu(_report(3, to="0793026727"))
    assert store.message(account, "m").state is MessageState.DELIVERED


@pytest.mark.parametrize(
    "tp_st, state, status, error",
    [
        (0x00, MessageState.DELIVERED, None, 0),
        (0x41, MessageState.UNDELIVERABLE, "UNDELIVERABLE_NOT_DELIVERED", 36),
        (0x46, MessageState.EXPIRED, "EXPIRED_EXPIRED", 4101),
        (0x20, MessageState.SENT, None, 0),  # SC still trying: not final
    ],
)
def test_tp_status_mapping(store, account, clock, tp_st, state, status, error) -> None:
    _sent(store, account, "m", [1], T0.timestamp())
    ReportMatcher(store, clock=clock).handle_pdu(_report(1, tp_st))
    rec = store.message(account, "m")
    assert (rec.state, rec.status_name, rec.error_id) == (state, status, error)


def test_in_doubt_part_matched_by_recipient(store, account, clock) -> None:
    _sent(store, account, "m", [None], T0.timestamp())
    ReportMatcher(store, clock=clock).handle_pdu(_report(77))
    assert store.message(account, "m").state is MessageState.DELIVERED


def test_garbage_is_logged_not_raised(store, clock) -> None:
    ReportMatcher(store, clock=clock).handle_pdu("ZZ")


class _RacingModem:
    """A modem whose network is faster than our bookkeeping: the report for the part being sent
    arrives (and is handled) before ``send`` returns its TP-MR."""

    def __init__(self, matcher: ReportMatcher, mr: int, to: str) -> None:
        self.matcher, self.mr, self.to = matcher, mr, to
        self.ready = True
        self.outcomes: list[int | Exception] = []

    def send(self, pdu: str, tpdu_length: int, *, more_to_follow: bool = False) -> int:
        self.matcher.handle_pdu(_report(self.mr, to=self.to))
        outcome = self.outcomes.pop(0) if self.outcomes else self.mr
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _racing_dispatcher(store: Store, clock: ManualClock, modem: _RacingModem):
    import random

    from gateway.config import SendingConfig
    from gateway.dispatch import Dispatcher

    return Dispatcher(store, modem, SendingConfig(), clock=clock, rng=random.Random(1))


def _queued(store: Store, account: int, message_id: str, at: float, dest: str = "41793026727") -> None:
    store.insert_messages([
        NewMessage(message_id=message_id, account_id=account, bulk_id=None, sender=None, destination=dest, text="x",
                   data=None, encoding="gsm7", sms_count=1, concat_ref=0, created_at=at, expires_at=at + 86400,
                   parts=(NewPart(1, 1, "00", 1),), options={"status_report": True})
    ])


def test_report_racing_its_own_send_is_not_credited_elsewhere(store, account, clock) -> None:
    """Issue 9 item 4: an older in-doubt message to the same number took the report of a part
    still in 'sending' (TP-MR not committed) and became DELIVERED_TO_HANDSET; the owner stayed
    pending. The report is held until the sending part commits its TP-MR, then credited to it."""
    _sent(store, account, "old-in-doubt", [None], T0.timestamp() - 3600)
    _queued(store, account, "new", T0.timestamp())
    matcher = ReportMatcher(store, clock=clock)
    modem = _RacingModem(matcher, mr=42, to="+41793026727")
    assert _racing_dispatcher(store, clock, modem).run_once()
    assert matcher.unmatched == 1  # held while "new" was sending, not given away
    assert store.message(account, "new").state is MessageState.DELIVERED
    assert store.message(account, "old-in-doubt").state is MessageState.SENT
    assert store.pending_reports() == 0


def test_a_report_held_for_a_send_that_failed_goes_to_the_in_doubt_part(store, account, clock) -> None:
    """The held report was not the failed send's own (it never reached the network): once no
    part to the number is sending, the in-doubt part within its window takes it."""
    from gateway.errors import CmsError

    _sent(store, account, "old-in-doubt", [None], T0.timestamp() - 60)
    _queued(store, account, "new", T0.timestamp())
    matcher = ReportMatcher(store, clock=clock)
    modem = _RacingModem(matcher, mr=42, to="+41793026727")
    modem.outcomes = [CmsError("AT+CMGS", 42)]  # transient: the part goes back to the queue
    _racing_dispatcher(store, clock, modem).run_once()
    assert store.message(account, "old-in-doubt").state is MessageState.DELIVERED
    assert store.message(account, "new").state is MessageState.SENDING  # queued again, not delivered
    assert store.pending_reports() == 0


def test_an_in_doubt_part_takes_reports_only_within_its_own_window(store, account, clock) -> None:
    """Validity 1 h, sent in doubt two days ago: the SC gave up on it long ago (validity + 1 h),
    so a report today is not its report, although it is inside the 3-day TP-MR window."""
    at = T0.timestamp() - 2 * 86400
    store.insert_messages([
        NewMessage(message_id="m", account_id=account, bulk_id=None, sender=None, destination="41793026727",
                   text="x", data=None, encoding="gsm7", sms_count=1, concat_ref=0, created_at=at,
                   expires_at=at + 3600, parts=(NewPart(1, 1, "00", 1),), options={"status_report": True})
    ])
    store.record_part_sent(store.claim_next_part(at).part_id, None, at, True)
    m = ReportMatcher(store, clock=clock)
    m.handle_pdu(_report(77))
    assert m.unmatched == 1
    assert store.message(account, "m").state is MessageState.SENT


def test_a_stale_held_report_is_not_taken_by_a_part_sent_much_later(store, account, clock) -> None:
    m = ReportMatcher(store, clock=clock)
    m.handle_pdu(_report(5))  # nobody's: held
    clock.advance(3600)
    _sent(store, account, "later", [5], clock.now().timestamp())
    assert store.message(account, "later").state is MessageState.SENT
    assert store.pending_reports() == 1
