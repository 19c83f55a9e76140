"""The virtual network: modem-to-modem delivery, concatenation, status reports and outcomes."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, Timing, VirtualNetwork
from gateway.sms import Deliver, StatusReport, SubmitOptions, decode_pdu, encode_binary, encode_text

from .conftest import Term

CDS = re.compile(rb"\+CDS: (\d+)\r\n([0-9A-F]+)\r\n")


def send_parts(term: Term, pdus: list[tuple[int, str]]) -> list[int]:
    refs = []
    for length, pdu in pdus:
        assert term.at(f"AT+CMGS={length}") == b"\r\n> "
        term.write(pdu + "\x1a")
        answer = term.read_until(b"OK\r\n").decode()
        refs.append(int(re.search(r"\+CMGS: (\d+)", answer).group(1)))  # type: ignore[union-attr]
    return refs


def text_parts(to: str, text: str, report: bool = False, ref: int = 0) -> list[tuple[int, str]]:
    parts = encode_text(to, text, SubmitOptions(status_report=report), concat_ref=ref)
    return [(p.tpdu_length, p.pdu) for p in parts]


def read_stored(term: Term, index: int) -> Deliver:
    answer = term.text(f"AT+CMGR={index}")
    pdu = answer.strip("\r\n").split("\r\n")[1]
    decoded = decode_pdu(pdu)
    assert isinstance(decoded, Deliver)
    return decoded


@pytest.fixture
def pair(make_modem: Callable[..., EmulatedModem],
         make_term: Callable[..., Term]) -> tuple[Term, Term]:
    a = make_term(make_modem("sim800", msisdn="+447700900001"))
    b = make_term(make_modem("sim7600", msisdn="+447700900002"))
    return a, b


def test_single_sms_reaches_the_other_modem(pair: tuple[Term, Term]) -> None:
    a, b = pair
    send_parts(a, text_parts("+447700900002", "Hi B"))
    b.read_until(b'+CMTI: "SM",0\r\n')
    deliver = read_stored(b, 0)
    assert (deliver.sender.formatted, deliver.text) == ("+447700900001", "Hi B")
    assert deliver.smsc is not None and deliver.smsc.formatted == "+447700900000"
    assert [(r.sender, r.text, r.memory, r.index) for r in b.modem.received] == [
        ("+447700900001", "Hi B", "SM", 0)]
    assert [(r.destination, r.text, r.parts) for r in a.modem.sent] == [
        ("+447700900002", "Hi B", None)]


@pytest.mark.parametrize("number", ["07700900002", "447700900002", "00447700900002"])
def test_number_forms_reach_the_modem(pair: tuple[Term, Term], number: str) -> None:
    a, b = pair
    (length, pdu), = text_parts(number, "x")
    send_parts(a, [(length, pdu)])
    b.read_until(b'+CMTI: "SM",0\r\n')


def test_concatenated_ucs2_message_arrives_in_parts(pair: tuple[Term, Term]) -> None:
    a, b = pair
    text = "Привет мир, " * 20
    parts = text_parts("+447700900002", text, ref=77)
    assert len(parts) == 4
    send_parts(a, parts)
    b.read_until(b'+CMTI: "SM",3\r\n')
    delivered = [read_stored(b, i) for i in range(4)]
    assert "".join(d.text or "" for d in delivered) == text
    assert [(d.concat.ref, d.concat.total, d.concat.seq) for d in delivered  # type: ignore[union-attr]
            ] == [(77, 4, 1), (77, 4, 2), (77, 4, 3), (77, 4, 4)]
    assert [r.parts for r in b.modem.received] == [(77, 4, n) for n in range(1, 5)]


def test_binary_sms_is_forwarded_verbatim(pair: tuple[Term, Term]) -> None:
    a, b = pair
    (part,) = encode_binary("+447700900002", bytes(range(40)), SubmitOptions(status_report=False))
    send_parts(a, [(part.tpdu_length, part.pdu)])
    b.read_until(b'+CMTI: "SM",0\r\n')
    assert read_stored(b, 0).data == bytes(range(40))


def test_message_to_an_outside_number_is_only_recorded(pair: tuple[Term, Term]) -> None:
    a, b = pair
    send_parts(a, text_parts("+15550100", "far away"))
    assert a.modem.sent[0].destination == "+15550100"
    assert b.quiet() == b""


def test_status_report_outcomes(make_modem: Callable[..., EmulatedModem],
                                make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    net = VirtualNetwork(clock=clock)
    net.set_outcome("+4479*", "permanent", delay=5.0)
    net.set_outcome("+447912*", "delivered")         # shadowed: the first match wins
    net.set_outcome("+33*", "temporary")
    net.set_outcome("+49*", "none")
    net.set_outcome("+31*", "delivered", status=0x46)
    term = make_term(make_modem(network=net, clock=clock,
                                timing=Timing.fast().replace(report_delay=2.0)))
    term.at("AT+CNMI=2,1,0,1,0")
    cases = [("+447912345678", 5.0, 0x41), ("+33612345678", 2.0, 0x22),
             ("+15550100", 2.0, 0x00), ("+31612345678", 2.0, 0x46)]
    for number, delay, status in cases:
        (mr,) = send_parts(term, text_parts(number, "report?", report=True))
        clock.advance(delay - 0.5)
        assert term.quiet() == b""
        clock.advance(0.5)
        match = CDS.search(term.read_until(CDS))
        assert match is not None
        report = decode_pdu(match.group(2).decode())
        assert isinstance(report, StatusReport)
        assert (report.reference, report.recipient.formatted, report.status) == (mr, number, status)
        assert int(match.group(1)) == len(match.group(2)) // 2 - 8
    send_parts(term, text_parts("+4915112345678", "no report", report=True))
    send_parts(term, text_parts("+15550100", "not requested", report=False))
    clock.advance(10.0)
    assert term.quiet() == b""
    assert [r.outcome for r in term.modem.reports] == [
        "permanent", "temporary", "delivered", "delivered"]
    net.close()


def test_unknown_outcome_is_refused(net: VirtualNetwork) -> None:
    with pytest.raises(ValueError):
        net.set_outcome("*", "lost")  # type: ignore[arg-type]


def test_status_report_stored_as_cdsi_on_sim7600(sim7600: Term) -> None:
    sim7600.at("AT+CNMI=2,1,0,2,0")
    (mr,) = send_parts(sim7600, text_parts("+15550100", "report", report=True))
    sim7600.read_until(b'+CDSI: "SR",0\r\n')
    sim7600.at('AT+CPMS="SR"')
    answer = sim7600.text("AT+CMGR=0")
    header, pdu = answer.strip("\r\n").split("\r\n")[:2]
    report = decode_pdu(pdu)
    assert isinstance(report, StatusReport) and report.reference == mr
    assert header == f"+CMGR: 0,,{len(pdu) // 2 - 8}"
    assert sim7600.modem.reports[0].routed == "SR:0"


def test_status_report_dropped_with_ds0(sim800: Term) -> None:
    send_parts(sim800, text_parts("+15550100", "report", report=True))
    assert sim800.modem.wait_until(lambda: sim800.modem.reports, 3)
    assert sim800.modem.reports[0].routed == "dropped"
    assert sim800.quiet() == b""


def test_network_holds_sms_for_a_modem_that_is_off(make_modem: Callable[..., EmulatedModem],
                                                   make_term: Callable[..., Term]) -> None:
    a = make_term(make_modem(msisdn="+447700900001"))
    b_modem = make_modem(msisdn="+447700900002", powered=False)
    send_parts(a, text_parts("+447700900002", "while you were off"))
    assert b_modem.wait_until(lambda: b_modem.network.pending_for("+447700900002") == 1, 3)
    b_modem.pwrkey(True)
    b_modem.pwrkey(False)
    assert b_modem.wait_until(lambda: b_modem.received, 3)
    assert b_modem.received[0].text == "while you were off"
    assert b_modem.storage["SM"].used == 1


def test_inject_long_ucs2_binary_and_flash(sim800: Term) -> None:
    modem = sim800.modem
    modem.inject_sms("+447911000001", "é" * 200, ucs2=True)
    sim800.read_until(b'+CMTI: "SM",3\r\n')
    assert [r.parts[1:] for r in modem.received] == [(3, 1), (3, 2), (3, 3)]  # type: ignore[index]
    assert "".join(r.text or "" for r in modem.received) == "é" * 200
    modem.inject_sms("+447911000001", data=b"\x00\x01\xfe\xff")
    sim800.read_until(b'+CMTI: "SM",4\r\n')
    assert read_stored(sim800, 4).data == b"\x00\x01\xfe\xff"
    modem.inject_sms("+447911000001", "flash!", flash=True)
    sim800.read_until(b'+CMTI: "SM",5\r\n')
    assert read_stored(sim800, 5).message_class == 0


def test_inject_errors(net: VirtualNetwork, make_modem: Callable[..., EmulatedModem]) -> None:
    modem = make_modem()
    with pytest.raises(LookupError):
        net.inject("+15550100", "+447911000001", "nobody")
    with pytest.raises(ValueError):
        modem.inject_sms("+447911000001")
    with pytest.raises(ValueError):
        modem.inject_sms("+447911000001", "both", data=b"x")


@pytest.mark.parametrize(("number", "key"), [
    ("+447700900001", "447700900001"), ("07700900001", "447700900001"),
    ("0044 7700 900001", "447700900001"), ("447700900001", "447700900001")])
def test_normalize(net: VirtualNetwork, number: str, key: str) -> None:
    assert net.normalize(number) == key


# --- issue 9 item 5: the SC delivers an SMS (or one part) again --------------------------------

def test_redeliver_sends_a_part_again_byte_for_byte(sim800: Term) -> None:
    modem = sim800.modem
    modem.inject_sms("+447911000001", "long " * 60)
    sim800.read_until(b'"SM",2\r\n')
    modem.faults.apply("redeliver", ["1"])
    sim800.read_until(b'"SM",3\r\n')
    stored = modem.storage["SM"].slots
    assert stored[3].pdu == stored[1].pdu != stored[2].pdu
    assert [r.parts[2] for r in modem.received if r.parts] == [1, 2, 1]


def test_redeliver_a_single_sms_twice(sim800: Term) -> None:
    modem = sim800.modem
    modem.inject_sms("+447911000001", "once")
    sim800.read_until(b'"SM",1\r\n')
    modem.faults.redeliver()
    modem.faults.redeliver()
    sim800.read_until(b'"SM",3\r\n')
    assert len({m.pdu for m in modem.storage["SM"].slots.values()}) == 1
    assert [read_stored(sim800, i).text for i in (1, 2, 3)] == ["once"] * 3


def test_redeliver_errors(make_modem: Callable[..., EmulatedModem]) -> None:
    modem = make_modem()
    with pytest.raises(LookupError):
        modem.faults.redeliver()
    modem.inject_sms("+447911000001", "one part")
    with pytest.raises(ValueError):
        modem.faults.apply("redeliver", ["2"])
