"""SMS text mode (AT+CMGF=1): typed sends, listing, reading and inline arrival formats."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from gateway.emulator import EmulatedModem
from gateway.emulator.text_mode import timestamp
from gateway.sms import StatusReport, decode_pdu

from .conftest import Term

RESULT = re.compile(rb"\r\n(OK|ERROR|\+CMS ERROR: \d+)\r\n")


@pytest.fixture
def text(sim800: Term) -> Term:
    assert sim800.at("AT+CMGF=1") == b"\r\nOK\r\n"
    return sim800


def test_typed_send(text: Term) -> None:
    assert text.at('AT+CMGS="+447700900999"') == b"\r\n> "
    text.write("Hello text mode\x1a")
    assert text.read_until(RESULT) == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    sent = text.modem.sent[0]
    assert (sent.destination, sent.text, sent.status_report_requested) == (
        "+447700900999", "Hello text mode", False)


def test_csmp_asks_for_a_report_and_ucs2(text: Term) -> None:
    text.at("AT+CSMP=49,167,0,8")
    text.at('AT+CSCS="UCS2"')
    number = "+447700900999".encode("utf-16-be").hex()
    assert text.at(f'AT+CMGS="{number}"') == b"\r\n> "
    text.write("041F04400438043204350442\x1a")
    assert text.read_until(RESULT).startswith(b"\r\n+CMGS:")
    sent = text.modem.sent[0]
    assert (sent.text, sent.status_report_requested) == ("Привет", True)


def test_too_long_for_one_sms_is_cms_305(text: Term) -> None:
    text.at('AT+CMGS="+447700900999"')
    text.write("x" * 200 + "\x1a")
    assert text.read_until(RESULT) == b"\r\n+CMS ERROR: 305\r\n"


def test_listing_reading_and_read_marking(text: Term) -> None:
    modem = text.modem
    modem.inject_sms("+447911000001", "first")
    text.read_until(b'+CMTI: "SM",1\r\n')
    when = timestamp(modem.received[0].time)
    assert text.at('AT+CMGL="REC UNREAD"') == (
        f'\r\n+CMGL: 1,"REC UNREAD","+447911000001",,"{when}"\r\nfirst\r\n\r\nOK\r\n'.encode())
    assert text.at('AT+CMGL="REC UNREAD"') == b"\r\nOK\r\n"
    assert text.at("AT+CMGR=1") == (
        f'\r\n+CMGR: "REC READ","+447911000001",,"{when}"\r\nfirst\r\n\r\nOK\r\n'.encode())
    assert text.at("AT+CMGL=?") == (b'\r\n+CMGL: ("REC UNREAD","REC READ","STO UNSENT",'
                                    b'"STO SENT","ALL")\r\n\r\nOK\r\n')
    assert text.at('AT+CMGL="NONSENSE"') == b"\r\nERROR\r\n"


def test_store_then_send_in_text_mode(text: Term) -> None:
    assert text.at('AT+CMGW="+447700900998"') == b"\r\n> "
    text.write("keep me\x1a")
    assert text.read_until(RESULT) == b"\r\n+CMGW: 1\r\n\r\nOK\r\n"
    assert text.at('AT+CMGL="STO UNSENT"') == (
        b'\r\n+CMGL: 1,"STO UNSENT","+447700900998",,\r\nkeep me\r\n\r\nOK\r\n')
    assert text.at("AT+CMSS=1") == b"\r\n+CMSS: 0\r\n\r\nOK\r\n"
    assert text.modem.sent[0].text == "keep me"


def test_inline_cmt_and_cds(text: Term) -> None:
    modem = text.modem
    text.at("AT+CNMI=2,2,0,1,0")
    modem.inject_sms("+447911000001", "inline")
    urc = text.read_until(b"inline\r\n")
    when = timestamp(modem.received[0].time)
    assert urc == f'\r\n+CMT: "+447911000001",,"{when}"\r\ninline\r\n'.encode()
    text.at("AT+CSMP=49,167,0,0")
    text.at('AT+CMGS="+15550100"')
    text.write("report me\x1a")
    text.read_until(RESULT)
    urc = text.read_until(re.compile(rb"\+CDS: [^\r]*\r\n")).decode()
    report = decode_pdu(modem.reports[0].pdu)
    assert isinstance(report, StatusReport)
    assert urc.endswith(f'+CDS: 6,0,"+15550100",145,"{timestamp(report.timestamp)}",'
                        f'"{timestamp(report.discharge_time)}",0\r\n')


@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2013, 1, 28, 14, 51, 42, tzinfo=timezone(timedelta(hours=2))), "13/01/28,14:51:42+08"),
    (datetime(2026, 11, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
     "26/11/02,03:04:05-22"),
    (datetime(2026, 1, 1, tzinfo=timezone.utc), "26/01/01,00:00:00+00"),
])
def test_timestamp(moment: datetime, expected: str) -> None:
    assert timestamp(moment) == expected


def test_pdu_mode_refuses_text_forms(make_modem: Callable[..., EmulatedModem],
                                     make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem())
    assert term.at('AT+CMGS="+447700900999"') == b"\r\nERROR\r\n"
