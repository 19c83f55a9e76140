"""The storage contract (gateway/store/protocol.py), run against every backend in conftest.

Only methods of ``Storage`` are used here: nothing about SQLite, threads or files.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

import pytest

from gateway.errors import DuplicateMessageIdError, ValidationError
from gateway import lifecycle
from gateway.lifecycle import InDoubtPolicy, MessageState, RejectReason
from gateway.store import LogFilter
from gateway.store.protocol import Storage
from gateway.store.records import InboundRecord
from tests.store.messages import insert_concurrently, new_message as _msg


@pytest.fixture
def account(store: Storage) -> int:
    return store.create_account("alice", "hash", 0.0).id


def test_accept_claim_send_report_cycle(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, "m1", parts=2)])
    job1 = store.claim_next_part(now=1000.0)
    assert job1 and (job1.seq, job1.total, job1.attempts) == (1, 2, 1)
    assert store.message(account, "m1").state is MessageState.SENDING
    store.record_part_sent(job1.part_id, 17, 1001.0, True)
    assert store.message(account, "m1").state is MessageState.SENDING  # part 2 still queued
    job2 = store.claim_next_part(now=1001.0)
    store.record_part_sent(job2.part_id, 18, 1002.0, True)
    assert store.message(account, "m1").state is MessageState.SENT
    assert store.claim_next_part(now=2000.0) is None

    store.apply_status_report("93026727", 17, 0, 1003.0)
    assert store.message(account, "m1").state is MessageState.SENT
    assert store.take_reports(account, bulk_id=None, message_id=None, limit=10) == []
    rec = store.apply_status_report("93026727", 18, 0, 1004.0)
    assert rec.state is MessageState.DELIVERED and rec.done_at == 1004.0
    reports = store.take_reports(account, bulk_id=None, message_id=None, limit=10)
    assert [r.message_id for r in reports] == ["m1"]
    assert store.take_reports(account, bulk_id=None, message_id=None, limit=10) == []  # once
    assert [r.message_id for r in store.logs(account, LogFilter())] == ["m1"]  # logs: always


def test_duplicate_message_id_per_account(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, "dup")])
    with pytest.raises(DuplicateMessageIdError):
        store.insert_messages([_msg(account, "dup")])
    other = store.create_account("bob", "h", 0.0).id
    store.insert_messages([_msg(other, "dup")])  # another account may reuse it


def test_a_request_is_all_or_nothing(store: Storage, account: int) -> None:
    with pytest.raises(DuplicateMessageIdError):
        store.insert_messages([_msg(account, "a"), _msg(account, "a")])
    assert store.logs(account, LogFilter()) == []


def test_duplicate_account_is_a_validation_error(store: Storage, account: int) -> None:
    with pytest.raises(ValidationError):
        store.create_account("alice", "x", 0.0)


def test_retry_and_release(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, "m")])
    job = store.claim_next_part(1000.0)
    store.record_part_retry(job.part_id, "+CMS ERROR: 42", 1100.0)
    assert store.claim_next_part(1099.0) is None
    assert store.next_due_time() == 1100.0
    job = store.claim_next_part(1100.0)
    assert job.attempts == 2
    store.release_part(job.part_id, 1200.0)  # modem unavailable: no attempt counted
    assert store.claim_next_part(1200.0).attempts == 2


def test_expiry_and_permanent_failure(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, "late", expires_at=1500.0), _msg(account, "bad")])
    assert store.expire_due(1600.0) == ["late"]
    assert store.message(account, "late").status_name == "EXPIRED_EXPIRED"
    job = store.claim_next_part(1600.0)
    store.fail_message(job.message_pk, lifecycle.refused(permanent=True, error_id=1), 1601.0, "CMS 1")
    rec = store.message(account, "bad")
    assert (rec.state, rec.error_id) == (MessageState.UNDELIVERABLE, 1)
    assert {r.message_id for r in store.take_reports(account, bulk_id=None, message_id=None, limit=5)} == {"late", "bad"}


def test_sent_message_without_report_ends_delivered_to_operator(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, "m", expires_at=2000.0)])
    job = store.claim_next_part(1000.0)
    store.record_part_sent(job.part_id, 5, 1001.0, True)
    store.expire_due(2000.0 + 3599)
    assert store.message(account, "m").state is MessageState.SENT
    store.expire_due(2000.0 + 3600)
    assert store.message(account, "m").state is MessageState.SENT_NO_REPORT


@pytest.mark.parametrize("resend", [False, True])
def test_in_doubt_parts_after_a_crash(reopen: Callable[[], Storage], resend: bool) -> None:
    s = reopen()
    acc = s.create_account("a", "h", 0).id
    s.insert_messages([_msg(acc, "m")])
    s.claim_next_part(1000.0)  # 'sending' when the process "dies"
    s.close()
    s = reopen()
    try:
        assert s.recover_in_doubt(1010.0, InDoubtPolicy.RESEND if resend else InDoubtPolicy.ASSUME_SENT) == [("m", 1)]
        if resend:
            assert s.claim_next_part(1010.0).attempts == 2
        else:
            assert s.message(acc, "m").state is MessageState.SENT
            rec = s.apply_status_report("93026727", 99, 0, 1011.0)  # matched by recipient
            assert rec is not None and rec.state is MessageState.DELIVERED
    finally:
        s.close()


def test_report_before_the_send_is_recorded_is_kept_pending(store: Storage, account: int) -> None:
    """On a fast network +CDS can be read before the dispatcher records +CMGS: no report lost."""
    store.insert_messages([_msg(account, "m")])
    job = store.claim_next_part(1000.0)
    assert store.apply_status_report("93026727", 42, 0, 1000.5) is None
    assert store.pending_reports() == 1
    store.record_part_sent(job.part_id, 42, 1000.6, True)
    assert store.message(account, "m").state is MessageState.DELIVERED
    assert store.pending_reports() == 0


def test_concurrent_writers_all_commit(store: Storage, account: int) -> None:
    assert insert_concurrently(store, account) == []
    assert len(store.logs(account, LogFilter(limit=1000))) == 400


def test_inbound_parts_and_read_once(store: Storage, account: int) -> None:
    assert len(store.add_inbound_part("4479", 5, 8, 2, 2, "world", None, 1.0)) == 1
    assert len(store.add_inbound_part("4479", 5, 8, 2, 2, "world", None, 1.0)) == 1  # duplicate ignored
    parts = store.add_inbound_part("4479", 5, 8, 2, 1, "hello ", None, 2.0)
    assert [p.seq for p in parts] == [1, 2]
    store.insert_inbound(InboundRecord(message_id="i1", sender="4479", receiver="", text="hello world", data=None, keyword="HELLO",
                         clean_text="world", sms_count=2, complete=True, received_at=3.0),
                         consumed_parts=[("4479", 5, 8, 2)])
    assert store.inbound_group_parts(("4479", 5, 8, 2)) == []
    assert [r.message_id for r in store.take_inbound(account, 10)] == ["i1"]
    assert store.take_inbound(account, 10) == []
    other = store.create_account("bob", "h", 0.0).id
    assert [r.message_id for r in store.take_inbound(other, 10)] == ["i1"]
    assert [r.message_id for r in store.inbound_logs(keyword="HELLO")] == ["i1"]


def test_prune_keeps_unfinished(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, "old-final", outcome=lifecycle.rejected(RejectReason.MESSAGE_TOO_LONG), parts=0), _msg(account, "old-queued")])
    assert store.prune(older_than=2000.0) == 1
    assert [r.message_id for r in store.logs(account, LogFilter())] == ["old-queued"]


def test_a_part_is_claimed_by_one_caller_only(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, f"m{i}") for i in range(20)])
    claimed: list[int] = []
    lock = threading.Lock()

    def claim() -> None:
        while (job := store.claim_next_part(1000.0)) is not None:
            with lock:
                claimed.append(job.part_id)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(claimed) == len(set(claimed)) == 20


def test_racing_report_readers_get_each_report_once(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, f"r{i}", outcome=lifecycle.rejected(RejectReason.MESSAGE_TOO_LONG), parts=0) for i in range(30)])
    got: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        while batch := store.take_reports(account, bulk_id=None, message_id=None, limit=3):
            with lock:
                got.extend(r.message_id for r in batch)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(got) == sorted(f"r{i}" for i in range(30))


def test_another_accounts_message_reads_as_absent(store: Storage, account: int) -> None:
    store.insert_messages([_msg(account, "mine")])
    other = store.create_account("bob", "h", 0.0).id
    assert store.message(other, "mine") is None and store.message(account, "mine") is not None
    assert store.logs(other, LogFilter()) == []


def test_writes_survive_a_reopen_and_close_is_idempotent(reopen: Callable[[], Storage]) -> None:
    s = reopen()
    acc = s.create_account("alice", "h", 0.0).id
    s.insert_messages([_msg(acc, "m", parts=2)])
    s.add_modem_event("boot", "RDY", 5.0)
    s.close()
    s.close()
    s = reopen()
    try:
        assert s.message(acc, "m") is not None and s.queued_parts() == 2
        assert s.modem_events() == [(5.0, "boot", "RDY")]
        assert s.last_concat_ref() == 7
    finally:
        s.close()


def test_writes_after_close_are_store_errors(reopen: Callable[[], Storage]) -> None:
    from gateway.errors import StoreError

    s = reopen()
    s.close()
    with pytest.raises(StoreError):
        s.add_modem_event("boot", "", 1.0)


def _inbound(store: Storage, mid: str, at: float, key: str | None = None, consumed=()):  # noqa: ANN202
    return store.insert_inbound(InboundRecord(message_id=mid, sender="4479", receiver="", text="hi", data=None, keyword=None,
                                clean_text="hi", sms_count=1, complete=True, received_at=at),
                                consumed_parts=consumed, dedup_key=key)


def test_an_identical_single_sms_is_stored_once(store: Storage, account: int) -> None:
    assert _inbound(store, "i1", 10.0, key="k") is not None
    assert _inbound(store, "i2", 20.0, key="k") is None  # the same SMS delivered again
    assert _inbound(store, "i3", 20.0, key="other") is not None
    assert [r.message_id for r in store.take_inbound(account, 10)] == ["i1", "i3"]


def test_a_part_delivered_again_after_assembly_starts_no_group(store: Storage) -> None:
    group = ("4479", 5, 8, 2)
    store.add_inbound_part(*group, 1, "hello ", None, 1.0, dedup_key="p1")
    assert len(store.add_inbound_part(*group, 2, "world", None, 2.0, dedup_key="p2")) == 2
    assert _inbound(store, "i1", 3.0, consumed=[group]) is not None
    assert store.add_inbound_part(*group, 2, "world", None, 4.0, dedup_key="p2") == []  # redelivered
    assert store.add_inbound_part(*group, 1, "hello ", None, 4.0, dedup_key="p1") == []
    assert store.stale_inbound_groups(older_than=1e9) == []
    assert _inbound(store, "i2", 5.0, consumed=[group]) is None  # nothing waiting: assembled already
    assert [r.message_id for r in store.inbound_logs()] == ["i1"]


def test_dedup_forgets_after_its_window(store: Storage) -> None:
    from gateway.store.inbound import INBOUND_DEDUP_WINDOW

    assert _inbound(store, "i1", 10.0, key="k") is not None
    assert _inbound(store, "i2", 10.0 + INBOUND_DEDUP_WINDOW - 1, key="k") is None
    assert _inbound(store, "i3", 10.0 + INBOUND_DEDUP_WINDOW + 1, key="k") is not None


def test_prune_forgets_what_was_seen(store: Storage) -> None:
    assert _inbound(store, "i1", 10.0, key="k") is not None
    store.prune(older_than=100.0)
    assert _inbound(store, "i2", 200.0, key="k") is not None


def test_a_message_reads_back_as_the_record_it_was_stored_from(store: Storage, account: int) -> None:
    """One record type in and out: every field survives the round trip, so a field added to
    MessageRecord that the store forgot to persist fails here."""
    taken = _msg(account, "rt", parts=2, bulk_id="b1", data=b"\x00\x01", encoding="binary",
                 options={"status_report": False, "flash": True})
    [stored] = store.insert_messages([taken])
    assert stored.pk is not None and taken.pk is None
    assert store.message(account, "rt") == replace(taken, pk=stored.pk, parts=())


def test_a_refused_message_reads_back_with_its_outcome(store: Storage, account: int) -> None:
    refused = lifecycle.rejected(RejectReason.MESSAGE_TOO_LONG)
    [stored] = store.insert_messages([_msg(account, "no", parts=0, outcome=refused)])
    back = store.message(account, "no")
    assert back == replace(stored, done_at=stored.created_at)  # final when stored: done at once
    assert (back.outcome, back.status_name) == (refused, "REJECTED_MESSAGE_TOO_LONG")


def test_an_inbound_sms_reads_back_as_the_record_it_was_stored_from(store: Storage, account: int) -> None:
    taken = InboundRecord(message_id="in1", sender="4479", receiver="4470", text=None, data=b"\xff\x00",
                          keyword="K", clean_text="rest", sms_count=3, complete=False, received_at=9.5)
    stored = store.insert_inbound(taken)
    assert stored is not None and stored.pk is not None and taken.pk is None
    assert stored == replace(taken, pk=stored.pk)
    assert store.take_inbound(account, 10) == [stored]
    assert store.inbound_logs() == [stored]
