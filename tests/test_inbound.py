from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from gateway.clock import ManualClock
from gateway.config import InboundConfig
from gateway.inbound import InboundHandler, split_keyword
from gateway.sms import encode_deliver, encode_deliver_binary, encode_deliver_text

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def handler(store, clock) -> InboundHandler:
    return InboundHandler(store, InboundConfig(), receiver="+447700900001", clock=clock)


def test_single_message_with_keyword(handler, store) -> None:
    [pdu] = encode_deliver_text("+41791234567", "info please call me", timestamp=T0)
    rec = handler.handle_pdu(pdu)
    assert (rec.sender, rec.receiver, rec.keyword, rec.clean_text) == ("41791234567", "447700900001", "INFO", "please call me")
    assert rec.complete and rec.sms_count == 1


def test_alphanumeric_sender_and_ucs2(handler) -> None:
    [pdu] = encode_deliver_text("InfoSMS", "Привет 😀", timestamp=T0)
    rec = handler.handle_pdu(pdu)
    assert (rec.sender, rec.text) == ("InfoSMS", "Привет 😀")


def test_parts_out_of_order_and_duplicated(handler, store) -> None:
    text = "Ж" * 150  # UCS-2: 3 parts
    pdus = encode_deliver_text("+41791234567", text, timestamp=T0, concat_ref=300)
    assert len(pdus) == 3
    assert handler.handle_pdu(pdus[2]) is None
    assert handler.handle_pdu(pdus[0]) is None
    assert handler.handle_pdu(pdus[0]) is None  # duplicate part
    rec = handler.handle_pdu(pdus[1])
    assert rec.text == text and rec.sms_count == 3 and rec.complete
    assert len(store.inbound_logs()) == 1


def test_emoji_split_across_parts_by_a_sloppy_sender_comes_out_whole(handler) -> None:
    """Some phones cut UCS-2 between the two halves of a surrogate pair; decoding each part
    alone would give U+FFFD twice."""
    raw = "ab😀cd".encode("utf-16-be")  # 😀 = D83D DE00, bytes 4..7
    halves = [raw[:6], raw[6:]]  # the cut falls inside the surrogate pair
    pdus = [
        encode_deliver("+41791234567", timestamp=T0, dcs=0x08, udhi=True,
                       user_data=bytes([5, 0, 3, 0x42, 2, seq]) + half, udl=6 + len(half))
        for seq, half in enumerate(halves, start=1)
    ]
    handler.handle_pdu(pdus[1])
    rec = handler.handle_pdu(pdus[0])
    assert rec.text == "ab😀cd"


def test_missing_part_delivered_incomplete_after_timeout(store, clock) -> None:
    h = InboundHandler(store, replace(InboundConfig(), reassembly_timeout=60), clock=clock)
    pdus = encode_deliver_text("+41791234567", "x" * 400, timestamp=T0, concat_ref=5)
    h.handle_pdu(pdus[0])
    h.handle_pdu(pdus[2])
    assert h.flush_stale() == []
    clock.advance(61)
    [rec] = h.flush_stale()
    assert not rec.complete and rec.sms_count == 3
    assert rec.text.startswith("x" * 153) and "\u2026" in rec.text
    assert h.flush_stale() == []


def test_binary_message_kept_as_bytes(handler) -> None:
    data = bytes(range(200))
    pdus = encode_deliver_binary("+41791234567", data, timestamp=T0, concat_ref=9)
    rec = None
    for pdu in pdus:
        rec = handler.handle_pdu(pdu) or rec
    assert rec.data == data and rec.text is None


def test_undecodable_pdu_is_kept_raw(handler) -> None:
    rec = handler.handle_pdu("07FF")
    assert rec is not None and not rec.complete


@pytest.mark.parametrize(
    "text, keywords, expected",
    [
        ("stop now", (), ("STOP", "now")),
        ("hello", (), ("HELLO", "")),
        ("  ", (), (None, "  ")),
        ("Hi there", ("STOP",), (None, "Hi there")),
        ("stop there", ("STOP",), ("STOP", "there")),
    ],
)
def test_split_keyword(text, keywords, expected) -> None:
    assert split_keyword(text, keywords) == expected


def test_an_identical_single_sms_delivered_twice_is_stored_once(handler, store, clock) -> None:
    """Issue 9 item 5: same originator, SCTS and text (a redelivery, or a crash between the
    store and AT+CMGD) is one message."""
    [pdu] = encode_deliver_text("+41791234567", "your PIN is 1234", timestamp=T0)
    assert handler.handle_pdu(pdu) is not None
    clock.advance(60)
    assert handler.handle_pdu(pdu) is None
    assert [r.text for r in store.inbound_logs()] == ["your PIN is 1234"]
    [again] = encode_deliver_text("+41791234567", "your PIN is 1234", timestamp=T0 + timedelta(seconds=1))
    assert handler.handle_pdu(again) is not None  # sent again by the person: a new SCTS, a new SMS


def test_a_part_delivered_again_after_assembly_is_dropped(handler, store, clock) -> None:
    """Issue 9 item 5: it used to start a new group and surface after the reassembly time-out as
    an extra, wrongly decoded "incomplete" message."""
    text = "Ж" * 150  # UCS-2: 3 parts
    pdus = encode_deliver_text("+41791234567", text, timestamp=T0, concat_ref=301)
    for p in pdus[:2]:
        assert handler.handle_pdu(p) is None
    assert handler.handle_pdu(pdus[2]).text == text
    clock.advance(30)
    assert handler.handle_pdu(pdus[1]) is None  # redelivered part
    assert handler.handle_pdu(pdus[2]) is None  # and the last one: no second assembly
    clock.advance(InboundConfig().reassembly_timeout + 1)
    assert handler.flush_stale() == []
    assert [r.text for r in store.inbound_logs()] == [text]


def test_different_texts_in_the_same_second_are_both_kept(handler, store) -> None:
    [a] = encode_deliver_text("+41791234567", "first", timestamp=T0)
    [b] = encode_deliver_text("+41791234567", "second", timestamp=T0)
    assert handler.handle_pdu(a) is not None and handler.handle_pdu(b) is not None
    assert sorted(r.text for r in store.inbound_logs()) == ["first", "second"]
