from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from gateway.clock import ManualClock
from gateway.reports import ReportMatcher
from gateway.sms import encode_status_report
from gateway.statuses import MessageState
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
