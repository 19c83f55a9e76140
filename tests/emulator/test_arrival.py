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


# --- issue 9 item 2: status reports while no host reads the port -------------------------------

def _send_with_report(term: Term, to: str = "+15550100") -> int:
    from .test_network import send_parts, text_parts
    (mr,) = send_parts(term, text_parts(to, "report me", report=True))
    return mr


def test_report_as_cds_with_no_host_is_gone_without_csms1(
        make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(clock=clock, timing=Timing.fast().replace(report_delay=5.0))
    term = make_term(modem)
    term.at("AT+CNMI=2,1,0,1,0")
    _send_with_report(term)
    term.close()                                  # the gateway stops
    clock.advance(5.0)
    assert modem.wait_until(lambda: modem.reports, 3)
    assert [r.routed for r in modem.reports] == ["+CDS"]
    clock.advance(60.0)
    successor = make_term(modem)
    assert successor.quiet() == b""               # nothing comes back: the report is lost
    assert modem.network.pending_for(modem.msisdn) == 0


def test_unacknowledged_report_is_redelivered_once_routing_is_back(
        make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term]) -> None:
    """CSMS=1: +CDS to nobody, no AT+CNMA, CNMI mt/ds drop to 0; the SC keeps retrying (each
    retry unacknowledged while ds=0) until the returning host routes reports again and acks."""
    clock = ManualClock()
    modem = make_modem(clock=clock, timing=Timing.fast().replace(
        report_delay=5.0, cnma_timeout=2.0, redelivery_delay=3.0))
    term = make_term(modem)
    term.at("AT+CSMS=1")
    term.at("AT+CNMI=2,1,0,1,0")
    mr = _send_with_report(term)
    term.close()
    clock.advance(5.0)
    assert modem.wait_until(lambda: modem.reports, 3)
    clock.advance(2.0)                            # no AT+CNMA: routing off
    assert modem.wait_until(lambda: modem.s.cnmi == (2, 0, 0, 0, 0), 3)
    for n in (2, 3, 4):                           # retries while the host is away
        clock.advance(3.0)
        assert modem.wait_until(lambda: len(modem.reports) == n, 3)
    assert [r.routed for r in modem.reports] == ["+CDS"] + ["unacknowledged"] * 3
    successor = make_term(modem)
    successor.at("AT+CNMI=2,1,0,1,0")             # the restarted host's init
    clock.advance(3.0)
    cds = successor.read_until(re.compile(rb"\+CDS: \d+\r\n([0-9A-F]+)\r\n"))
    from gateway.sms import StatusReport, decode_pdu
    report = decode_pdu(re.search(rb"([0-9A-F]{20,})", cds).group(1).decode())  # type: ignore[union-attr]
    assert isinstance(report, StatusReport) and report.reference == mr
    assert successor.at("AT+CNMA") == b"\r\nOK\r\n"
    clock.advance(30.0)
    assert successor.quiet() == b""               # acknowledged: no more retries
    assert len(modem.reports) == 5


def test_stored_reports_wait_in_sr_for_the_returning_host(
        make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term]) -> None:
    """SIM7600 ds=2: reports arriving while the port is closed are stored in "SR", listed by
    AT+CMGL and read by AT+CMGR after a reconnect, and deleted by AT+CMGD."""
    clock = ManualClock()
    modem = make_modem("sim7600", clock=clock, timing=Timing.fast().replace(report_delay=5.0))
    term = make_term(modem)
    term.at("AT+CNMI=2,1,0,2,0")
    refs = [_send_with_report(term, f"+1555010{i}") for i in range(3)]
    term.close()
    clock.advance(5.0)
    assert modem.wait_until(lambda: len(modem.reports) == 3, 3)
    assert [r.routed for r in modem.reports] == ["SR:0", "SR:1", "SR:2"]
    successor = make_term(modem)
    assert successor.at('AT+CPMS="SR"').startswith(b"\r\n+CPMS: 3,50,")
    listing = successor.text("AT+CMGL=4")
    from gateway.sms import StatusReport, decode_pdu
    pdus = re.findall(r"\+CMGL: (\d),0,,\d+\r\n([0-9A-F]+)", listing)
    assert [int(i) for i, _ in pdus] == [0, 1, 2]
    reports = [decode_pdu(pdu) for _, pdu in pdus]
    assert all(isinstance(r, StatusReport) for r in reports)
    assert [r.reference for r in reports] == refs  # type: ignore[union-attr]
    assert successor.text("AT+CMGR=1").startswith("\r\n+CMGR: 1,,")
    assert successor.at("AT+CMGD=1") == b"\r\nOK\r\n"
    assert modem.storage["SR"].used == 2
