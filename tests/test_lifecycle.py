"""The lifecycle as tables: every rule that picks a state, a status and an error, with no SQLite."""
from __future__ import annotations

from typing import Callable

import pytest

from gateway import lifecycle as lc
from gateway.errors import ConfigError, GatewayError
from gateway.lifecycle import (
    IN_DOUBT_WINDOW,
    REPORT_GRACE,
    REPORT_WINDOW,
    InDoubtPolicy,
    MessageState,
    Outcome,
    PartState,
    RejectReason,
    ReportCandidate,
)
from gateway.modem.errors import cms_table
from gateway.statuses import ERRORS_BY_ID, STATUSES, error_by_id

# ---- the catalogue mapping: (how it came about) -> (state, status shown, error) ----

OUTCOMES: list[tuple[str, Callable[[], Outcome], MessageState, str, str]] = [
    ("accepted", lc.accepted, MessageState.ACCEPTED, "PENDING_ENROUTE", "NO_ERROR"),
    ("claimed", lc.sending, MessageState.SENDING, "PENDING_ENROUTE", "NO_ERROR"),
    ("all parts sent, reports asked", lambda: lc.settle([PartState.SENT] * 2, status_report=True),
     MessageState.SENT, "PENDING_WAITING_DELIVERY", "NO_ERROR"),
    ("all parts sent, no report asked", lambda: lc.settle([PartState.SENT], status_report=False),
     MessageState.SENT_NO_REPORT, "DELIVERED_TO_OPERATOR", "NO_ERROR"),
    ("report overdue", lc.report_overdue, MessageState.SENT_NO_REPORT, "DELIVERED_TO_OPERATOR", "NO_ERROR"),
    ("every part delivered", lambda: lc.settle([PartState.DELIVERED] * 3, status_report=True),
     MessageState.DELIVERED, "DELIVERED_TO_HANDSET", "NO_ERROR"),
    ("permanent +CMS 1", lambda: lc.refused(permanent=True, error_id=1),
     MessageState.UNDELIVERABLE, "UNDELIVERABLE_REJECTED_OPERATOR", "EC_UNKNOWN_SUBSCRIBER"),
    ("max attempts, bare ERROR", lambda: lc.refused(permanent=False, error_id=lc.unknown_error().id),
     MessageState.UNDELIVERABLE, "UNDELIVERABLE_NOT_DELIVERED", "EC_UNKNOWN_ERROR"),
    ("validity over", lc.expired, MessageState.EXPIRED, "EXPIRED_EXPIRED", "EC_ValidityExpired"),
    ("too long", lambda: lc.rejected(RejectReason.MESSAGE_TOO_LONG),
     MessageState.REJECTED, "REJECTED_MESSAGE_TOO_LONG", "NO_ERROR"),
    ("duplicate id", lambda: lc.rejected(RejectReason.DUPLICATE_MESSAGE_ID),
     MessageState.REJECTED, "REJECTED_DUPLICATE_MESSAGE_ID", "NO_ERROR"),
]


@pytest.mark.parametrize("why, make, state, status, error", OUTCOMES, ids=[o[0] for o in OUTCOMES])
def test_outcome_table(why, make, state, status, error) -> None:
    outcome = make()
    assert (outcome.state, outcome.status.name, outcome.error.name) == (state, status, error)
    # what the store keeps reads back as the same Outcome
    assert lc.outcome_of(outcome.state, outcome.status_name, outcome.error_id) == outcome


def test_every_state_has_an_outcome_in_the_table_and_a_default_status() -> None:
    assert {o[2] for o in OUTCOMES} == set(MessageState)
    for state in MessageState:
        default = lc.outcome_of(state, None, 0)
        assert default.status is lc.STATE_STATUS[state]
        assert lc.outcome_of(state, default.status_name, 0) == default


def test_an_undelivered_ending_names_its_status_the_good_path_implies_it() -> None:
    assert lc.accepted().status_name is None and lc.delivered().status_name is None
    assert lc.report_overdue().status_name is None
    assert lc.expired().status_name == "EXPIRED_EXPIRED"
    assert lc.refused(permanent=False, error_id=36).status_name == "UNDELIVERABLE_NOT_DELIVERED"
    assert lc.refused(permanent=True, error_id=1).status_name == "UNDELIVERABLE_REJECTED_OPERATOR"
    assert Outcome(MessageState.SENT, STATUSES["PENDING_TIME_VIOLATION"]).status_name == "PENDING_TIME_VIOLATION"
    assert lc.rejected(RejectReason.MESSAGE_TOO_LONG).status_name == "REJECTED_MESSAGE_TOO_LONG"


def test_submit_answer_status() -> None:
    assert lc.submit_status(lc.accepted()).name == "MESSAGE_ACCEPTED"
    assert lc.submit_status(lc.rejected(RejectReason.MESSAGE_TOO_LONG)).name == "REJECTED_MESSAGE_TOO_LONG"
    assert lc.submit_status(lc.rejected(RejectReason.DUPLICATE_MESSAGE_ID)).name == "REJECTED_DUPLICATE_MESSAGE_ID"


@pytest.mark.parametrize("status", list(STATUSES.values()), ids=lambda s: s.name)
def test_an_outcome_outside_its_states_group_is_refused(status) -> None:
    for state in MessageState:
        allowed = lc.STATE_STATUS[state].group_name == status.group_name
        if allowed:
            assert Outcome(state, status).status is status
        else:
            with pytest.raises(ValueError):
                Outcome(state, status)


def test_an_outcome_from_outside_the_catalogue_is_refused() -> None:
    from dataclasses import replace

    forged = replace(STATUSES["DELIVERED_TO_HANDSET"], name="DELIVERED_MAYBE")
    with pytest.raises(ValueError):
        Outcome(MessageState.DELIVERED, forged)
    with pytest.raises(ValueError):
        Outcome(MessageState.DELIVERED, STATUSES["DELIVERED_TO_HANDSET"], replace(ERRORS_BY_ID[0], name="OK!"))


@pytest.mark.parametrize("code, info", sorted(cms_table().items()))
def test_every_permanent_cms_refusal_maps_to_its_catalogue_error(code, info) -> None:
    outcome = lc.refused(permanent=info.permanent, error_id=info.error_id)
    assert outcome.state is MessageState.UNDELIVERABLE
    assert outcome.status.name == ("UNDELIVERABLE_REJECTED_OPERATOR" if info.permanent else "UNDELIVERABLE_NOT_DELIVERED")
    assert outcome.error == error_by_id(info.error_id)


# ---- status reports: every TP-ST ----

def _expected_report(tp: int) -> tuple[PartState, MessageState | None, str | None]:
    if tp <= 0x1F:
        return PartState.DELIVERED, None, None
    if tp <= 0x3F:
        return PartState.SENT, None, None
    if tp == 0x46:
        return PartState.EXPIRED, MessageState.EXPIRED, "EXPIRED_EXPIRED"
    return PartState.FAILED, MessageState.UNDELIVERABLE, "UNDELIVERABLE_NOT_DELIVERED"


@pytest.mark.parametrize("tp", range(256), ids=lambda t: f"0x{t:02X}")
def test_report_table(tp: int) -> None:
    effect = lc.report(tp)
    part, state, status = _expected_report(tp)
    assert effect.part is part
    if state is None:
        assert effect.message is None
    else:
        assert effect.message is not None
        assert (effect.message.state, effect.message.status.name) == (state, status)
        assert effect.message.error.id != 0


@pytest.mark.parametrize(
    "tp, error",
    [(0x41, "EC_UNEXPECTED_DATA_VALUE"), (0x46, "EC_ValidityExpired"), (0x43, "EC_TELESERVICE_NOT_PROVISIONED"),
     (0x60, "EC_SM_DF_sc_Congestion"), (0x7F, "EC_UNKNOWN_ERROR")],
)
def test_report_errors(tp: int, error: str) -> None:
    assert lc.report(tp).message.error.name == error


# ---- settling and in doubt ----

@pytest.mark.parametrize(
    "parts, report, expected",
    [
        ([PartState.QUEUED], True, None),
        ([PartState.SENT, PartState.SENDING], True, None),
        ([PartState.SENT, PartState.DELIVERED], True, MessageState.SENT),
        ([PartState.DELIVERED, PartState.DELIVERED], True, MessageState.DELIVERED),
        ([PartState.DELIVERED, PartState.DELIVERED], False, MessageState.DELIVERED),
        ([PartState.SENT], False, MessageState.SENT_NO_REPORT),
    ],
)
def test_settle(parts, report, expected) -> None:
    outcome = lc.settle(parts, status_report=report)
    assert (outcome.state if outcome else None) is expected


def test_parts_of_an_ended_message() -> None:
    assert lc.part_state_for(lc.expired()) is PartState.EXPIRED
    assert lc.part_state_for(lc.refused(permanent=True, error_id=1)) is PartState.FAILED


def test_in_doubt_policy() -> None:
    assert lc.in_doubt(InDoubtPolicy.ASSUME_SENT) is PartState.SENT
    assert lc.in_doubt(InDoubtPolicy.RESEND) is PartState.QUEUED



def test_in_doubt_policy_is_parsed_at_the_config_edge() -> None:
    from gateway.config import load_config

    assert load_config(env={"SIMGATE_SENDING_IN_DOUBT": "resend"}).sending.in_doubt is InDoubtPolicy.RESEND
    assert load_config(env={}).sending.in_doubt is InDoubtPolicy.ASSUME_SENT
    with pytest.raises(ConfigError, match="(?i)in_doubt.*'maybe' is not one of 'assume_sent', 'resend'") as err:
        load_config(env={"SIMGATE_SENDING_IN_DOUBT": "maybe"})
    assert isinstance(err.value, GatewayError)


# ---- expiry ----

@pytest.mark.parametrize(
    "state, expires_in, expected",
    [
        (MessageState.ACCEPTED, 0.0, MessageState.EXPIRED),
        (MessageState.ACCEPTED, 1.0, None),
        (MessageState.SENDING, -5.0, MessageState.EXPIRED),
        (MessageState.SENT, -1.0, None),  # the report may still come
        (MessageState.SENT, -REPORT_GRACE, MessageState.SENT_NO_REPORT),
        (MessageState.DELIVERED, -1e9, None),
        (MessageState.REJECTED, -1e9, None),
    ],
)
def test_lapse(state, expires_in, expected) -> None:
    now = 1_000_000.0
    outcome = lc.lapse(state, now + expires_in, now)
    assert (outcome.state if outcome else None) is expected
    if outcome is not None:
        assert now + expires_in <= lc.expiry_cutoffs(now)[state]


# ---- report matching ----

NOW = 1_000_000.0


def _c(part_id: int, state: PartState = PartState.SENT, mr: int | None = 7, sent_ago: float | None = 10.0,
       expires_in: float = 86400.0) -> ReportCandidate:
    return ReportCandidate(part_id, state, mr, None if sent_ago is None else NOW - sent_ago, NOW + expires_in)


@pytest.mark.parametrize(
    "why, candidates, expected",
    [
        ("no candidate: held", [], None),
        ("by TP-MR", [_c(1)], 1),
        ("TP-MR wraps: newest wins", [_c(1, sent_ago=3600), _c(2)], 2),
        ("TP-MR beyond the 3-day window", [_c(1, sent_ago=REPORT_WINDOW + 1)], None),
        ("other TP-MR: not this report", [_c(1, mr=8)], None),
        ("in doubt: taken", [_c(1, mr=None)], 1),
        ("in doubt: newest", [_c(1, mr=None, sent_ago=100), _c(2, mr=None, sent_ago=50)], 2),
        ("TP-MR match beats in doubt", [_c(1, mr=None, sent_ago=1), _c(2)], 2),
        ("a part still sending holds the report from an in-doubt part",
         [_c(1, mr=None, sent_ago=3600), _c(2, PartState.SENDING, mr=None, sent_ago=None)], None),
        ("a part still sending does not hold a TP-MR match",
         [_c(1), _c(2, PartState.SENDING, mr=None, sent_ago=None)], 1),
        ("in doubt, past its own window (validity + grace)",
         [_c(1, mr=None, sent_ago=7200, expires_in=-REPORT_GRACE - 1)], None),
        ("in doubt, within its window", [_c(1, mr=None, sent_ago=7200, expires_in=-REPORT_GRACE + 1)], 1),
        ("sent after the report came (a stale held report)", [_c(1, sent_ago=-IN_DOUBT_WINDOW - 1)], None),
        ("recorded just after the report came (the report outran it)", [_c(1, mr=None, sent_ago=-5)], 1),
    ],
)
def test_match_report(why, candidates, expected) -> None:
    assert lc.match_report(7, NOW, candidates) == expected


def test_number_suffix() -> None:
    assert lc.number_suffix("+41793026727") == lc.number_suffix("0793026727") == "793026727"
    assert lc.number_suffix("InfoSMS") == "InfoSMS"


def test_pending_lapsed() -> None:
    assert lc.pending_lapsed(NOW - REPORT_WINDOW - 1, NOW)
    assert not lc.pending_lapsed(NOW - 60, NOW)


@pytest.mark.parametrize(
    "group, states",
    [
        ("ACCEPTED", set()),  # only the send answer shows it
        ("PENDING", {MessageState.ACCEPTED, MessageState.SENDING, MessageState.SENT}),
        ("DELIVERED", {MessageState.DELIVERED, MessageState.SENT_NO_REPORT}),
        ("UNDELIVERABLE", {MessageState.UNDELIVERABLE}),
        ("EXPIRED", {MessageState.EXPIRED}),
        ("REJECTED", {MessageState.REJECTED}),
    ],
)
def test_states_in_group(group: str, states: set[MessageState]) -> None:
    """The generalStatus filter of the logs: exact, since no Outcome leaves its state's group."""
    assert set(lc.states_in_group(group)) == states
