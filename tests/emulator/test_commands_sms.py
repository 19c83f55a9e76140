"""The PDU-mode SMS command set: settings, prompt dialogs, storage, CNMI routing, CNMA."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, Timing
from gateway.sms import SubmitOptions, encode_text

from .conftest import Term

PEER = "+447700900999"


def submit_pdu(text: str = "hello", to: str = PEER, report: bool = False) -> tuple[int, str]:
    (part,) = encode_text(to, text, SubmitOptions(status_report=report))
    return part.tpdu_length, part.pdu


def send(term: Term, text: str = "hello", to: str = PEER, report: bool = False) -> bytes:
    length, pdu = submit_pdu(text, to, report)
    assert term.at(f"AT+CMGS={length}") == b"\r\n> "
    term.write(pdu + "\x1a")
    return term.read_until(re.compile(rb"\r\n(OK|ERROR|\+CMS ERROR: \d+)\r\n"))


# --- settings ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "answer"), [
    ("AT+CMGF=?", b"\r\n+CMGF: (0,1)\r\n\r\nOK\r\n"),
    ("AT+CMGF?", b"\r\n+CMGF: 0\r\n\r\nOK\r\n"),
    ("AT+CMGF=1", b"\r\nOK\r\n"),
    ("AT+CMGF=2", b"\r\nERROR\r\n"),
    ("AT+CSCA?", b'\r\n+CSCA: "+447700900000",145\r\n\r\nOK\r\n'),
    ("AT+CSMS=?", b"\r\n+CSMS: (0,1)\r\n\r\nOK\r\n"),
    ("AT+CSMS?", b"\r\n+CSMS: 0,1,1,1\r\n\r\nOK\r\n"),
    ("AT+CSMS=1", b"\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n"),
    ("AT+CSMP?", b"\r\n+CSMP: 17,167,0,0\r\n\r\nOK\r\n"),
    ("AT+CSMP=49,167,0,0", b"\r\nOK\r\n"),
    ("AT+CMMS=?", b"\r\n+CMMS: (0-2)\r\n\r\nOK\r\n"),
    ("AT+CMMS=2", b"\r\nOK\r\n"),
    ("AT+CMMS=3", b"\r\nERROR\r\n"),
    ("AT+CNMI?", b"\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n"),
    ("AT+CNMI=2,1,0,1,0", b"\r\nOK\r\n"),
    ("AT+CNMI=2,1,0,2", b"\r\nERROR\r\n"),          # SIM800 has no ds=2 (HARDWARE.md 3.2)
    ("AT+CNMI=3,3,2,1,1", b"\r\nOK\r\n"),
    ("AT+CNMA", b"\r\n+CMS ERROR: 340\r\n"),        # nothing to acknowledge
    ("AT+CPMS?", b'\r\n+CPMS: "SM",0,30,"SM",0,30,"SM",0,30\r\n\r\nOK\r\n'),
    ('AT+CPMS="ME","ME","ME"', b"\r\n+CPMS: 0,50,0,50,0,50\r\n\r\nOK\r\n"),
    ('AT+CPMS="XX"', b"\r\n+CMS ERROR: 302\r\n"),
    ("AT+CMGL=?", b"\r\n+CMGL: (0-4)\r\n\r\nOK\r\n"),
    ("AT+CMGL=4", b"\r\nOK\r\n"),
    ('AT+CMGL="ALL"', b"\r\n+CMS ERROR: 304\r\n"),
    ("AT+CMGR=1", b"\r\n+CMS ERROR: 321\r\n"),
    ("AT+CMGD=0", b"\r\n+CMS ERROR: 321\r\n"),      # SIM800 indices start at 1
    ("AT+CMGD=1", b"\r\nOK\r\n"),
    ("AT+CMGD=1,5", b"\r\nERROR\r\n"),
    ("AT+CMGS", b"\r\nERROR\r\n"),
])
def test_sim800_sms_settings(sim800: Term, line: str, answer: bytes) -> None:
    assert sim800.at(line) == answer


@pytest.mark.parametrize(("line", "answer"), [
    ("AT+CNMI=?", b"\r\n+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)\r\n\r\nOK\r\n"),
    ("AT+CNMI=2,1,0,2,0", b"\r\nOK\r\n"),
    ("AT+CNMI=3,1,0,1,0", b"\r\nERROR\r\n"),
    ("AT+CPMS=?", b'\r\n+CPMS: ("ME","MT","SM","SR"),("ME","MT","SM","SR"),("ME","MT","SM","SR")'
                  b"\r\n\r\nOK\r\n"),
    ("AT+CMGD=0", b"\r\nOK\r\n"),                   # SIM7600 indices start at 0
    ("AT+CMGD=30", b"\r\n+CMS ERROR: 321\r\n"),
])
def test_sim7600_sms_settings(sim7600: Term, line: str, answer: bytes) -> None:
    assert sim7600.at(line) == answer


def test_csca_set_and_ucs2_form(sim800: Term) -> None:
    assert sim800.at('AT+CSCA="+441234567890",145') == b"\r\nOK\r\n"
    assert sim800.at("AT+CSCA?") == b'\r\n+CSCA: "+441234567890",145\r\n\r\nOK\r\n'
    sim800.at('AT+CSCS="UCS2"')
    assert sim800.at("AT+CSCA?") == (b'\r\n+CSCA: "002B00340034003100320033003400350036003700380039'
                                     b'0030",145\r\n\r\nOK\r\n')


def test_sms_commands_wait_for_sms_ready(make_modem: Callable[..., EmulatedModem],
                                         make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    timing = Timing.fast().replace(boot_time=10.0)
    sim800 = make_term(make_modem("sim800", timing=timing, clock=clock, ipr=115200), sync=False)
    sim7600 = make_term(make_modem("sim7600", timing=timing, clock=clock), sync=False)
    clock.advance(8.5)    # both UARTs are up, neither has reached SMS Ready / SMS DONE
    sim800.read_until(b"Call Ready\r\n")
    sim7600.read_until(b"+CPIN: READY\r\n")
    assert sim800.at("AT+CMGF=0").endswith(b"\r\nERROR\r\n")
    assert sim7600.at("AT+CMGF=0").endswith(b"\r\n+CMS ERROR: 302\r\n")
    clock.advance(1.5)
    sim800.read_until(b"SMS Ready\r\n")
    sim7600.read_until(b"PB DONE\r\n")
    assert sim800.at("AT+CMGF=0").endswith(b"\r\nOK\r\n")
    assert sim7600.at("AT+CMGF=0").endswith(b"\r\nOK\r\n")


# --- AT+CMGS ----------------------------------------------------------------------------------

def test_cmgs_dialog_and_rolling_message_reference(sim800: Term) -> None:
    for expected in range(3):
        assert send(sim800) == f"\r\n+CMGS: {expected}\r\n\r\nOK\r\n".encode()
    sim800.modem.next_mr = 255
    assert send(sim800) == b"\r\n+CMGS: 255\r\n\r\nOK\r\n"
    assert send(sim800) == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    assert [r.mr for r in sim800.modem.sent] == [0, 1, 2, 255, 0]
    assert sim800.modem.sent[0].destination == PEER and sim800.modem.sent[0].text == "hello"


def test_cmgs_echoes_pdu_when_echo_on(make_modem: Callable[..., EmulatedModem],
                                      make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem(), echo=True)
    length, pdu = submit_pdu()
    assert term.at(f"AT+CMGS={length}") == f"AT+CMGS={length}\r\r\n> ".encode()
    term.write(pdu + "\x1a")
    assert term.read_until(b"OK\r\n") == pdu.encode() + b"\r\n+CMGS: 0\r\n\r\nOK\r\n"


@pytest.mark.parametrize("delta", [-1, 1])
def test_cmgs_length_mismatch_is_cms_304(sim800: Term, delta: int) -> None:
    length, pdu = submit_pdu()
    sim800.at(f"AT+CMGS={length + delta}")
    sim800.write(pdu + "\x1a")
    assert sim800.read_until(b"\r\n+CMS ERROR: 304\r\n") == b"\r\n+CMS ERROR: 304\r\n"
    assert sim800.modem.sent == []


@pytest.mark.parametrize("body", ["0011ZZ", "001", "00020000"])
def test_cmgs_garbage_pdu_is_cms_304(sim800: Term, body: str) -> None:
    sim800.at("AT+CMGS=3")
    sim800.write(body + "\x1a")
    assert sim800.read_until(b"\r\n+CMS ERROR: 304\r\n").endswith(b"304\r\n")


def test_cmgs_escape_cancels(sim800: Term) -> None:
    length, pdu = submit_pdu()
    sim800.at(f"AT+CMGS={length}")
    sim800.write(pdu[:10] + "\x1b")
    assert sim800.read_until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    assert sim800.modem.sent == []
    assert sim800.at("AT") == b"\r\nOK\r\n"


def test_cmgs_without_smsc_is_cms_330(sim800: Term) -> None:
    sim800.at('AT+CSCA=""')
    assert send(sim800) == b"\r\n+CMS ERROR: 330\r\n"


def test_cmgs_latency_and_cmms_speed_up(make_modem: Callable[..., EmulatedModem],
                                        make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    timing = Timing.fast().replace(cmgs_latency=4.0, cmms_factor=0.5)
    term = make_term(make_modem(timing=timing, clock=clock))
    term.at("AT+CMMS=2")
    for latency in (4.0, 2.0):
        length, pdu = submit_pdu()
        term.at(f"AT+CMGS={length}")
        term.write(pdu + "\x1a")
        assert term.modem.wait_until(lambda: term.modem.busy, 3)
        clock.advance(latency - 0.1)
        assert term.quiet() == b""
        clock.advance(0.1)
        assert term.read_until(b"OK\r\n").startswith(b"\r\n+CMGS:")


# --- storage: CMGW / CMSS / CMGL / CMGR / CMGD -------------------------------------------------

def write_stored(term: Term, stat: int | None = None, text: str = "stored") -> int:
    length, pdu = submit_pdu(text)
    suffix = "" if stat is None else f",{stat}"
    assert term.at(f"AT+CMGW={length}{suffix}") == b"\r\n> "
    term.write(pdu + "\x1a")
    answer = term.read_until(b"OK\r\n").decode()
    return int(re.search(r"\+CMGW: (\d+)", answer).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize(("profile", "base"), [("sim800", 1), ("sim7600", 0)])
def test_index_base_per_profile(make_modem: Callable[..., EmulatedModem],
                                make_term: Callable[..., Term], profile: str, base: int) -> None:
    term = make_term(make_modem(profile))
    assert [write_stored(term) for _ in range(3)] == [base, base + 1, base + 2]


def test_cmgw_then_cmss_sends_and_marks_sent(sim800: Term) -> None:
    index = write_stored(sim800)
    assert sim800.at("AT+CMGL=2").startswith(f"\r\n+CMGL: {index},2,,".encode())
    assert sim800.at(f"AT+CMSS={index}") == b"\r\n+CMSS: 0\r\n\r\nOK\r\n"
    assert sim800.modem.sent[0].text == "stored"
    assert sim800.at("AT+CMGL=3").startswith(f"\r\n+CMGL: {index},3,,".encode())
    assert sim800.at("AT+CMSS=9") == b"\r\n+CMS ERROR: 321\r\n"
    assert sim800.at(f'AT+CMSS={index},"+447700900777",145') == b"\r\n+CMSS: 1\r\n\r\nOK\r\n"
    assert [(r.destination, r.text) for r in sim800.modem.sent] == [
        (PEER, "stored"), ("+447700900777", "stored")]


def test_cmgl_stat_filter_read_marking_and_cmgd_delflags(sim800: Term) -> None:
    modem = sim800.modem
    for _ in range(2):
        modem.inject_sms("+447911000001", "inbound")
    sim800.read_until(b'+CMTI: "SM",2\r\n')
    write_stored(sim800, stat=2)
    write_stored(sim800, stat=3)
    unread = sim800.text("AT+CMGL=0")
    assert re.findall(r"\+CMGL: (\d+),(\d)", unread) == [("1", "0"), ("2", "0")]
    assert sim800.at("AT+CMGL=0") == b"\r\nOK\r\n"          # listing marked them read
    assert re.findall(r"\+CMGL: (\d+),(\d)", sim800.text("AT+CMGL=4")) == [
        ("1", "1"), ("2", "1"), ("3", "2"), ("4", "3")]
    assert sim800.at("AT+CMGD=1,1") == b"\r\nOK\r\n"         # all read
    assert re.findall(r"\+CMGL: (\d+)", sim800.text("AT+CMGL=4")) == ["3", "4"]
    assert sim800.at("AT+CMGD=1,2") == b"\r\nOK\r\n"         # read + sent
    assert re.findall(r"\+CMGL: (\d+)", sim800.text("AT+CMGL=4")) == ["3"]
    assert sim800.at("AT+CMGD=1,3") == b"\r\nOK\r\n"         # read + sent + unsent
    assert sim800.at("AT+CMGL=4") == b"\r\nOK\r\n"
    write_stored(sim800)
    assert sim800.at("AT+CMGD=1,4") == b"\r\nOK\r\n"
    assert modem.storage["SM"].used == 0


def test_cmgr_marks_read_unless_mode_1(sim800: Term) -> None:
    modem = sim800.modem
    modem.inject_sms("+447911000001", "read me")
    sim800.read_until(b'+CMTI: "SM",1\r\n')
    first = sim800.text("AT+CMGR=1,1")
    assert first.startswith("\r\n+CMGR: 0,,") and modem.storage["SM"].get(1).stat == 0
    answer = sim800.text("AT+CMGR=1")
    header, pdu, _blank, ok, _ = answer.strip("\r\n").split("\r\n") + [""]
    assert header == f"+CMGR: 0,,{len(pdu) // 2 - 8}" and ok == "OK"
    assert pdu == modem.received[0].pdu
    assert sim800.text("AT+CMGR=1").startswith("\r\n+CMGR: 1,,")


def test_storage_full_is_cms_322_and_network_holds_inbound(make_modem: Callable[..., EmulatedModem],
                                                           make_term: Callable[..., Term]) -> None:
    modem = make_modem(capacity={"SM": 2})
    term = make_term(modem)
    write_stored(term)
    write_stored(term)
    length, pdu = submit_pdu()
    term.at(f"AT+CMGW={length}")
    term.write(pdu + "\x1a")
    assert term.read_until(b"\r\n+CMS ERROR: 322\r\n").endswith(b"322\r\n")
    modem.inject_sms("+447911000001", "waiting")
    assert modem.wait_until(lambda: modem.network.pending_for(modem.msisdn) == 1, 3)
    term.at("AT+CMGD=1")
    term.read_until(b'+CMTI: "SM",1\r\n')
    assert modem.received[0].text == "waiting"


# --- CNMI routing, CSMS / CNMA ----------------------------------------------------------------


def test_sms_commands_with_pin_locked_sim(make_modem: Callable[..., EmulatedModem],
                                          make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem(pin="1234"))
    assert term.at("AT+CMGF=0") == b"\r\n+CMS ERROR: 311\r\n"
