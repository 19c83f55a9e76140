"""The submit planner as values: no database, no clock, no service."""
from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from gateway.clock import ManualClock
from gateway.config import SendingConfig
from gateway.errors import QuotaExceededError, ValidationError
from gateway.lifecycle import MessageState
from gateway.submit import Destination, SendQuota, SubmitRequest, plan_submit, validate_request


def _plan(req: SubmitRequest, *, taken=(), first_ref=10, max_parts=3):
    sender, options = validate_request(req, replace(SendingConfig(), max_parts=max_parts))
    ids = (f"id-{n}" for n in itertools.count(1))
    return plan_submit(req, account_id=1, sender=sender, options=options, now=1000.0, taken_ids=set(taken),
                       first_ref=first_ref, new_id=lambda: next(ids))


def test_a_plan_holds_the_records_and_the_answer() -> None:
    plan = _plan(SubmitRequest(destinations=(Destination("+41 79 302 67 27"), Destination("41793026728", "mine")),
                               text="a" * 161, sender="InfoSMS"))
    assert plan.bulk_id == "id-1" and plan.queued == 2
    assert [(r.message_id, r.destination, r.sms_count, len(r.parts), r.concat_ref) for r in plan.records] == [
        ("id-2", "41793026727", 2, 2, 10), ("mine", "41793026728", 2, 2, 11)]
    assert {r.state for r in plan.records} == {MessageState.ACCEPTED}
    assert [(m.message_id, m.status.name) for m in plan.answer.messages] == [
        ("id-2", "MESSAGE_ACCEPTED"), ("mine", "MESSAGE_ACCEPTED")]
    assert all(r.expires_at == 1000.0 + 2880 * 60 and r.sender == "InfoSMS" for r in plan.records)


def test_taken_and_repeated_ids_are_answered_not_stored() -> None:
    req = SubmitRequest(destinations=(Destination("41793026727", "a"), Destination("41793026728", "b"),
                                      Destination("41793026729", "b")), text="x")
    plan = _plan(req, taken={"a"})
    assert [r.message_id for r in plan.records] == ["b"]
    assert [m.status.name for m in plan.answer.messages] == [
        "REJECTED_DUPLICATE_MESSAGE_ID", "MESSAGE_ACCEPTED", "REJECTED_DUPLICATE_MESSAGE_ID"]
    assert plan.records[0].concat_ref == 10  # references go to stored messages only


def test_references_wrap() -> None:
    plan = _plan(SubmitRequest(destinations=(Destination("41793026727"), Destination("41793026728")), text="x"),
                 first_ref=65535)
    assert [r.concat_ref for r in plan.records] == [65535, 0]


def test_a_too_long_text_is_recorded_without_its_body() -> None:
    plan = _plan(SubmitRequest(destinations=(Destination("41793026727"), Destination("41793026728")), text="a" * 1000))
    assert plan.queued == 0
    assert [(r.state, r.status_name, r.text, r.data, r.parts) for r in plan.records] == [
        (MessageState.REJECTED, "REJECTED_MESSAGE_TOO_LONG", None, None, ())] * 2
    assert {r.sms_count for r in plan.records} == {7}  # what it would have needed
    assert {m.status.name for m in plan.answer.messages} == {"REJECTED_MESSAGE_TOO_LONG"}


def test_binary_data_too_long_is_recorded_without_its_body() -> None:
    plan = _plan(SubmitRequest(destinations=(Destination("41793026727"),), data=b"\x01" * 1000), max_parts=2)
    [r] = plan.records
    assert (r.state, r.data, r.parts) == (MessageState.REJECTED, None, ())


@pytest.mark.parametrize(
    "req, field",
    [
        (SubmitRequest(destinations=()), "to"),
        (SubmitRequest(destinations=(Destination("41793026727"),), text="x", data=b"x"), "text"),
        (SubmitRequest(destinations=(Destination("41793026727"),), text="x", sender="InfoSMS\n"), "from"),
        (SubmitRequest(destinations=(Destination("41793026727"),), text="x", validity_minutes=86401), "validityPeriod"),
    ],
)
def test_validation_names_the_field(req: SubmitRequest, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_request(req, SendingConfig())
    assert err.value.field == field


def test_quota_bucket_refills_at_its_rate_and_gives_back() -> None:
    clock = ManualClock()
    quota = SendQuota(6, clock)  # one message per 10 s, six at once
    quota.take(1, 6)
    with pytest.raises(QuotaExceededError) as err:
        quota.take(1, 1)
    assert err.value.retry_after == pytest.approx(10.0)
    clock.advance(25.0)
    quota.take(1, 2)  # 2.5 refilled
    with pytest.raises(QuotaExceededError):
        quota.take(1, 1)
    quota.give_back(1, 2)
    quota.take(1, 2)
    clock.advance(3600.0)
    quota.take(1, 6)  # never more than a minute's worth
    with pytest.raises(QuotaExceededError):
        quota.take(1, 1)
    quota.take(2, 6)  # another account


def test_quota_zero_is_unlimited() -> None:
    SendQuota(0, ManualClock()).take(1, 10**6)
