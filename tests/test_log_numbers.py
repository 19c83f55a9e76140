"""``log.numbers`` (issue 10 item 13): phone numbers in log lines are masked unless it is on."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from gateway.clock import ManualClock
from gateway.config import Config, InboundConfig, LogConfig, load_config
from gateway.inbound import InboundHandler
from gateway.logsafe import NumberPolicy, masked_number
from gateway.service import Destination, Gateway, SubmitRequest
from gateway.sms import encode_deliver_text
from gateway.store import Store
from tests.hashing import CHEAP_HASHER

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("number", "masked"), [
    ("+447912345612", "+4479****12"), ("41793026727", "4179****27"), ("+4179302", "+****02"),
    ("1234", "****"), ("InfoSMS", "****MS"), ("", "****"),
])
def test_masked_number_keeps_only_the_ends(number: str, masked: str) -> None:
    assert masked_number(number) == masked


def test_numbers_are_masked_by_default() -> None:
    assert load_config(env={}).log.numbers is False
    assert str(NumberPolicy()("41793026727")) == '"4179****27"'
    assert str(NumberPolicy(show=True)("41793026727")) == '"41793026727"'
    assert load_config(env={"SIMGATE_LOG_NUMBERS": "true"}).log.numbers is True


def accepted_log(store: Store, caplog: pytest.LogCaptureFixture, *, show: bool) -> str:
    gw = Gateway(store, Config(log=LogConfig(numbers=show)), clock=ManualClock(T0), hasher=CHEAP_HASHER)
    account, _ = gw.create_account("alice", "alice-password")
    with caplog.at_level(logging.INFO, logger="gateway.service"):
        gw.submit(account, SubmitRequest(destinations=(Destination("+41793026727"),), text="hi"))
    [line] = [r.getMessage() for r in caplog.records if "accepted for" in r.getMessage()]
    return line


def test_the_destination_of_an_accepted_message_is_masked(store: Store,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    line = accepted_log(store, caplog, show=False)
    assert "41793026727" not in line and '"4179****27"' in line


def test_the_destination_is_shown_with_log_numbers_on(store: Store,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    assert "41793026727" in accepted_log(store, caplog, show=True)


@pytest.mark.parametrize("show", [False, True])
def test_the_sender_of_an_inbound_message_follows_log_numbers(
        store: Store, caplog: pytest.LogCaptureFixture, show: bool) -> None:
    handler = InboundHandler(store, InboundConfig(), receiver="+447700900001",
                             clock=ManualClock(T0), numbers=NumberPolicy(show))
    [pdu] = encode_deliver_text("+41791234567", "hello", timestamp=T0)
    with caplog.at_level(logging.INFO, logger="gateway.inbound"):
        handler.handle_pdu(pdu)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "stored" in text
    assert ("41791234567" in text) is show
