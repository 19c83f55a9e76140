"""SMS arrival routed by AT+CNMI: +CMTI / +CMT, buffering modes, AT+CSMS=1 with AT+CNMA."""
from __future__ import annotations

import re
from collections.abc import Callable

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, Timing

from .conftest import Term


def test_mt1_stores_and_indicates(sim800: Term) -> None:
    sim800.modem.inject_sms("+447911000001", "hi")
    assert sim800.read_until(b"\r\n") + sim800.read_until(b"\r\n") == b'\r\n+CMTI: "SM",1\r\n'


def test_mt0_stores_silently(sim800: Term) -> None:
    sim800.at("AT+CNMI=2,0,0,0,0")
    sim800.modem.inject_sms("+447911000001", "hi")
    assert sim800.modem.wait_until(lambda: sim800.modem.received, 3)
    assert sim800.quiet() == b""
    assert sim800.modem.storage["SM"].used == 1


def test_mt2_routes_cmt_without_storing(sim800: Term) -> None:
    sim800.at("AT+CNMI=2,2,0,0,0")
    sim800.modem.inject_sms("+447911000001", "direct")
    urc = sim800.read_until(re.compile(rb"\+CMT: ,\d+\r\n[0-9A-F]+\r\n")).decode()
    length, pdu = re.search(r"\+CMT: ,(\d+)\r\n([0-9A-F]+)", urc).groups()  # type: ignore[union-attr]
    assert pdu == sim800.modem.received[0].pdu and int(length) == len(pdu) // 2 - 8
    assert sim800.modem.storage["SM"].used == 0


def test_mt3_stores_class_other_than_3(sim800: Term) -> None:
    sim800.at("AT+CNMI=2,3,0,0,0")
    sim800.modem.inject_sms("+447911000001", "flash", flash=True)
    sim800.read_until(b'+CMTI: "SM",1\r\n')


def test_mode0_buffers_until_mode_changes(sim800: Term) -> None:
    sim800.at("AT+CNMI=0,1,0,0,0")
    sim800.modem.inject_sms("+447911000001", "buffered")
    assert sim800.modem.wait_until(lambda: sim800.modem.received, 3)
    assert sim800.quiet() == b""
    sim800.write("AT+CNMI=2,1,0,0,0\r")
    assert sim800.read_until(b'"SM",1\r\n') == b'\r\nOK\r\n\r\n+CMTI: "SM",1\r\n'


def test_mode0_bfr1_discards_buffer(sim800: Term) -> None:
    sim800.at("AT+CNMI=0,1,0,0,0")
    sim800.modem.inject_sms("+447911000001", "buffered")
    assert sim800.modem.wait_until(lambda: sim800.modem.received, 3)
    assert sim800.at("AT+CNMI=2,1,0,0,1") == b"\r\nOK\r\n"
    assert sim800.quiet() == b""


def test_mode2_holds_urc_while_command_runs(make_modem: Callable[..., EmulatedModem],
                                            make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(timing=Timing.fast().replace(command_latency=1.0), clock=clock)
    term = make_term(modem, sync=False)
    term.write("AT\r")
    term.read_until(b"AT\r")   # the echo: the command is being processed
    clock.advance(1.0)
    term.read_until(b"OK\r\n")
    term.write("AT+CSQ\r")     # in progress for 1 s
    term.read_until(b"AT+CSQ\r")
    modem.inject_sms("+447911000001", "during")
    assert modem.wait_until(lambda: modem.received, 3)
    clock.advance(1.0)
    assert term.read_until(b'"SM",1\r\n') == b'\r\n+CSQ: 20,0\r\n\r\nOK\r\n\r\n+CMTI: "SM",1\r\n'


def test_csms1_cmt_needs_cnma_else_cnmi_resets(make_modem: Callable[..., EmulatedModem],
                                               make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(timing=Timing.fast().replace(cnma_timeout=15.0, redelivery_delay=5.0),
                       clock=clock)
    term = make_term(modem)
    term.at("AT+CSMS=1")
    term.at("AT+CNMI=2,2,0,1,0")
    modem.inject_sms("+447911000001", "ack me")
    term.read_until(re.compile(rb"\+CMT: ,\d+\r\n[0-9A-F]+\r\n"))
    assert term.at("AT+CNMA") == b"\r\nOK\r\n"
    assert term.at("AT+CNMA") == b"\r\n+CMS ERROR: 340\r\n"
    modem.inject_sms("+447911000001", "never acked")
    term.read_until(re.compile(rb"\+CMT: ,\d+\r\n[0-9A-F]+\r\n"))
    clock.advance(15.0)
    assert modem.wait_until(lambda: modem.s.cnmi == (2, 0, 0, 0, 0), 3)
    assert term.at("AT+CNMI?") == b"\r\n+CNMI: 2,0,0,0,0\r\n\r\nOK\r\n"
    clock.advance(5.0)     # the SC retries; with mt=0 the SMS is stored without indication
    assert modem.wait_until(lambda: modem.storage["SM"].used == 1, 3)
    assert [r.text for r in modem.received] == ["ack me", "never acked", "never acked"]


def test_mode1_forwards_even_mid_command(make_modem: Callable[..., EmulatedModem],
                                         make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(timing=Timing.fast().replace(command_latency=1.0), clock=clock)
    term = make_term(modem, sync=False)
    term.write("AT+CNMI=1,1,0,0,0\r")
    term.read_until(b"AT+CNMI=1,1,0,0,0\r")
    clock.advance(1.0)
    term.read_until(b"OK\r\n")
    term.write("AT+CSQ\r")
    term.read_until(b"AT+CSQ\r")
    modem.inject_sms("+447911000001", "during")
    assert term.read_until(b'"SM",1\r\n') == b'\r\n+CMTI: "SM",1\r\n'
    clock.advance(1.0)
    assert term.read_until(b"OK\r\n") == b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n"
