"""The fault plan: every kind, from tests and through FaultPlan.apply (the CLI path)."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, Timing
from gateway.sms import SubmitOptions, encode_text

from .conftest import Term

RESULT = re.compile(rb"\r\n(OK|ERROR|\+CMS ERROR: \d+)\r\n")


def start_send(term: Term, text: str = "x") -> None:
    (part,) = encode_text("+15550100", text, SubmitOptions(status_report=False))
    assert term.at(f"AT+CMGS={part.tpdu_length}") == b"\r\n> "
    term.write(part.pdu + "\x1a")


@pytest.mark.parametrize("code", [38, 42, 50, 96, 111, 304, 330, 331, 332, 500])
def test_cms_errors_on_the_next_sends(sim800: Term, code: int) -> None:
    sim800.modem.faults.cms_errors(code, count=2)
    for _ in range(2):
        start_send(sim800)
        assert sim800.read_until(RESULT) == f"\r\n+CMS ERROR: {code}\r\n".encode()
    start_send(sim800)
    assert sim800.read_until(RESULT) == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    assert len(sim800.modem.sent) == 1


def test_in_doubt_reaches_network_without_answer(sim800: Term) -> None:
    sim800.modem.faults.in_doubt()
    start_send(sim800, "maybe")
    assert sim800.modem.wait_until(lambda: sim800.modem.sent, 3)
    assert sim800.quiet() == b""
    assert sim800.at("AT") == b"\r\nOK\r\n"          # the modem itself is fine afterwards
    start_send(sim800)
    assert sim800.read_until(RESULT) == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"


def test_no_answer_for_a_while(make_modem: Callable[..., EmulatedModem],
                               make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    term = make_term(make_modem(clock=clock))
    term.modem.faults.no_answer(30.0)
    term.write("AT\r")
    assert term.quiet() == b""
    clock.advance(30.0)
    assert term.at("AT") == b"\r\nOK\r\n"


def test_garbage_bytes(sim800: Term) -> None:
    sim800.modem.faults.garbage(b"\xff\x00\xfe")
    assert sim800.read_until(b"\xfe") == b"\xff\x00\xfe"


def test_reset_repeats_banners_and_loses_settings(make_modem: Callable[..., EmulatedModem],
                                                  make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem("sim7600"))
    term.at("AT+CNMI=2,2,0,1,0")
    term.modem.faults.reset()
    assert term.read_until(b"PB DONE\r\n") == (b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n"
                                               b"\r\nPB DONE\r\n")
    assert term.at("AT+CNMI?") == b"AT+CNMI?\r\r\n+CNMI: 2,1,0,0,0\r\n\r\nOK\r\n"


def test_deregister_and_register(sim800: Term) -> None:
    sim800.at("AT+CREG=1")
    sim800.modem.faults.deregister()
    assert sim800.read_until(b"+CREG: 0\r\n") == b"\r\n+CREG: 0\r\n"
    assert sim800.at("AT+CSQ") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    start_send(sim800)
    assert sim800.read_until(RESULT) == b"\r\n+CMS ERROR: 331\r\n"
    sim800.modem.faults.register()
    assert sim800.read_until(b"+CREG: 1\r\n") == b"\r\n+CREG: 1\r\n"


def test_remove_and_insert_sim(sim800: Term) -> None:
    sim800.modem.faults.remove_sim()
    assert sim800.read_until(b"INSERTED\r\n") == b"\r\n+CPIN: NOT INSERTED\r\n"
    assert sim800.at("AT+CMGF=0") == b"\r\n+CMS ERROR: 310\r\n"
    assert sim800.at("AT+CCID") == b"\r\nERROR\r\n"
    sim800.modem.faults.insert_sim()
    assert sim800.read_until(b"SMS Ready\r\n") == (b"\r\n+CPIN: READY\r\n\r\nCall Ready\r\n"
                                                   b"\r\nSMS Ready\r\n")
    assert sim800.at("AT+CMGF=0") == b"\r\nOK\r\n"


def test_under_voltage_powers_down_until_pwrkey(sim800: Term) -> None:
    sim800.modem.faults.under_voltage()
    assert sim800.read_until(b"POWER DOWN\r\n") == (b"\r\nUNDER-VOLTAGE WARNNING\r\n"
                                                    b"\r\nUNDER-VOLTAGE POWER DOWN\r\n")
    assert sim800.modem.power_state == "off"
    sim800.write("AT\r")
    assert sim800.quiet() == b""
    sim800.modem.pwrkey(True)
    sim800.modem.pwrkey(False)
    assert sim800.at("AT") == b"AT\r\r\nOK\r\n"


def test_hang_until_power_cycle(sim800: Term) -> None:
    modem = sim800.modem
    modem.faults.hang()
    sim800.write("AT\r")
    assert sim800.quiet() == b""
    modem.pwrkey(True)
    modem.pwrkey(False)          # the press switches the hung modem off ...
    assert modem.power_state == "off"
    modem.pwrkey(True)
    modem.pwrkey(False)          # ... and the next one on again
    assert sim800.at("AT").endswith(b"AT\r\r\nOK\r\n")


def test_power_off_is_silent(sim800: Term) -> None:
    sim800.modem.faults.power_off()
    assert sim800.modem.power_state == "off"
    sim800.write("AT\r")
    assert sim800.quiet() == b""


def test_urc_mid_command_and_at_prompt(make_modem: Callable[..., EmulatedModem],
                                       make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(clock=clock, timing=Timing.fast().replace(command_latency=1.0))
    term = make_term(modem, sync=False)
    term.write("AT+CSQ\r")
    term.read_until(b"AT+CSQ\r")
    modem.faults.urc("RING")
    clock.advance(1.0)
    assert term.read_until(b"OK\r\n") == b"\r\nRING\r\n\r\n+CSQ: 20,0\r\n\r\nOK\r\n"
    (part,) = encode_text("+15550100", "x", SubmitOptions(status_report=False))
    term.write(f"AT+CMGS={part.tpdu_length}\r")
    term.read_until(f"AT+CMGS={part.tpdu_length}\r".encode())
    clock.advance(1.0)
    term.read_until(b"> ")
    modem.faults.urc('+CMTI: "SM",3')
    assert term.read_until(b'"SM",3\r\n') == b'\r\n+CMTI: "SM",3\r\n'


@pytest.mark.parametrize(("kind", "args", "check"), [
    ("cms_errors", ["42", "3"], lambda m: m.faults._cms == [42, 42, 42]),
    ("in_doubt", ["2"], lambda m: m.faults._in_doubt == 2),
    ("deregister", [], lambda m: not m.registered()),
    ("power_off", [], lambda m: m.power_state == "off"),
    ("hang", [], lambda m: m.hung),
    ("remove_sim", [], lambda m: not m.sim_present),
    ("no_answer", ["5"], lambda m: m.silent_until > 0),
    ("cms_error_rate", ["1", "42"], lambda m: m.faults.take_cms_error() == 42),
])
def test_apply_from_strings(make_modem: Callable[..., EmulatedModem], kind: str, args: list[str],
                            check: Callable[[EmulatedModem], bool]) -> None:
    modem = make_modem()
    modem.faults.apply(kind, args)
    assert check(modem)


@pytest.mark.parametrize(("kind", "args"), [("explode", []), ("urc", []), ("reset", ["1"]),
                                            ("cms_errors", ["x"]), ("cms_error_rate", []),
                                            ("cms_error_rate", ["2"])])
def test_apply_rejects_bad_requests(make_modem: Callable[..., EmulatedModem], kind: str,
                                    args: list[str]) -> None:
    with pytest.raises(ValueError):
        make_modem().faults.apply(kind, args)


def test_random_cms_error_rate_is_repeatable(make_modem: Callable[..., EmulatedModem],
                                             make_term: Callable[..., Term]) -> None:
    outcomes = []
    for _ in range(2):
        term = make_term(make_modem(msisdn="+447700900042"))
        term.modem.faults.cms_error_rate(0.5, (41, 47))
        answers = []
        for _ in range(20):
            start_send(term)
            answers.append(term.read_until(RESULT))
        outcomes.append(answers)
        term.modem.close()
    assert outcomes[0] == outcomes[1]                   # seeded by the number
    codes = {a for a in outcomes[0] if a.startswith(b"\r\n+CMS")}
    assert codes == {b"\r\n+CMS ERROR: 41\r\n", b"\r\n+CMS ERROR: 47\r\n"}
    assert 3 <= sum(a.startswith(b"\r\n+CMGS") for a in outcomes[0]) <= 17
    with pytest.raises(ValueError):
        term.modem.faults.cms_error_rate(1.5)


def test_cmgs_jitter_stays_within_bounds(make_modem: Callable[..., EmulatedModem],
                                         make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    term = make_term(make_modem(clock=clock,
                                timing=Timing.fast().replace(cmgs_latency=2.0, cmgs_jitter=6.0)))
    start_send(term)
    assert term.modem.wait_until(lambda: term.modem.busy, 3)
    clock.advance(1.99)
    assert term.quiet() == b""
    clock.advance(6.02)
    assert term.read_until(RESULT) == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"


# --- issue 9 item 1: a brown-out inside the prompt, or right after Ctrl-Z ----------------------

SIM800_BANNERS = (b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n"
                  b"\r\nSMS Ready\r\n")
SIM7600_BANNERS = b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"


@pytest.mark.parametrize(("profile", "banners"), [("sim800", SIM800_BANNERS),
                                                  ("sim7600", SIM7600_BANNERS)])
def test_reset_in_prompt_echoes_the_pdu_before_the_banners(
        make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term], profile: str,
        banners: bytes) -> None:
    """The field capture: factory ATE1 echoes the PDU and Ctrl-Z, then RDY..., then ERROR."""
    term = make_term(make_modem(profile, ipr=115200))
    term.modem.faults.reset_in_prompt("after")
    (part,) = encode_text("+15550100", "lost?", SubmitOptions(status_report=False))
    assert term.at(f"AT+CMGS={part.tpdu_length}") == b"\r\n> "
    assert term.quiet() == b""                      # nothing before the host writes
    term.write(part.pdu + "\x1a")
    assert term.read_until(b"ERROR\r\n") == (part.pdu.encode() + b"\x1a" + banners
                                              + b"\r\nERROR\r\n")
    assert term.modem.sent == []
    assert term.at("AT") == b"AT\r\r\nOK\r\n"      # factory settings: echo is on again


def test_reset_in_prompt_banners_before_the_pdu(make_modem: Callable[..., EmulatedModem],
                                                make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem("sim800", ipr=115200))
    term.modem.faults.apply("reset_in_prompt", ["before"])
    (part,) = encode_text("+15550100", "lost?", SubmitOptions(status_report=False))
    assert term.at(f"AT+CMGS={part.tpdu_length}") == b"\r\n> "
    assert term.read_until(b"SMS Ready\r\n") == SIM800_BANNERS
    term.write(part.pdu + "\x1a")
    assert term.read_until(b"ERROR\r\n") == part.pdu.encode() + b"\x1a\r\nERROR\r\n"
    assert term.modem.sent == []


def test_reset_in_prompt_with_autobaud_says_nothing(sim800: Term) -> None:
    """SIM800 at IPR=0: after the reset nothing is understood or sent until a new "AT"."""
    sim800.modem.faults.reset_in_prompt()
    (part,) = encode_text("+15550100", "lost?", SubmitOptions(status_report=False))
    assert sim800.at(f"AT+CMGS={part.tpdu_length}") == b"\r\n> "
    sim800.write(part.pdu + "\x1a")
    assert sim800.quiet() == b""
    assert sim800.modem.sent == []
    sim800.write("AT")                               # trains the rate again (echoed)
    assert sim800.at("") == b"AT\r\r\nOK\r\n"


def test_reset_in_prompt_holds_the_banners_at_most_the_boot_time(
        make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    term = make_term(make_modem("sim7600", clock=clock))
    term.modem.faults.reset_in_prompt()
    assert term.at("AT+CMGS=20") == b"\r\n> "
    assert term.modem.power_state == "booting"
    clock.advance(20.0)                             # the SIM7600's boot time; no host line
    assert term.read_until(b"PB DONE\r\n") == SIM7600_BANNERS
    assert term.modem.wait_until(lambda: term.modem.power_state == "ready", 3)


def test_reset_after_send_really_sends(make_modem: Callable[..., EmulatedModem],
                                       make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem("sim800", ipr=115200))
    term.modem.faults.apply("reset_after_send", [])
    start_send(term, "went out")
    assert term.read_until(b"SMS Ready\r\n") == SIM800_BANNERS   # no +CMGS before them
    assert [s.text for s in term.modem.sent] == ["went out"]
    assert term.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    start_send(term)                                 # the fault was used up
    assert term.read_until(RESULT).endswith(b"\r\n+CMGS: 1\r\n\r\nOK\r\n")


def test_ctrl_z_in_command_mode_ends_a_command_line(sim800: Term) -> None:
    sim800.write("AT+CSQ\x1a")
    assert sim800.read_until(RESULT) == b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n"


# --- issue 9 item 3: left in the prompt by a crashed host ---------------------------------------

def test_prompt_survives_the_host_closing_the_port(make_modem: Callable[..., EmulatedModem],
                                                   make_term: Callable[..., Term]) -> None:
    modem = make_modem("sim800")
    crashed = make_term(modem)
    assert crashed.at("AT+CMGS=20") == b"\r\n> "
    crashed.close()                                  # kill -9 between AT+CMGS and Ctrl-Z
    successor = make_term(modem, sync=False)
    successor.write("AT\r")
    assert successor.quiet() == b""                 # swallowed as PDU body (echo is off)
    successor.write("\x1b")                          # ESC leaves the prompt
    assert successor.read_until(RESULT) == b"\r\nOK\r\n"
    assert successor.at("AT") == b"\r\nOK\r\n"
    assert modem.sent == []


def test_stuck_in_prompt_fault_and_pwrkey_presses_recorded(
        make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term]) -> None:
    modem = make_modem("sim800")
    term = make_term(modem)
    modem.faults.apply("stuck_in_prompt", ["20"])
    term.write("AT\r")
    assert term.quiet() == b""
    term.write("\x1a")                               # "AT" is no PDU of length 20
    assert term.read_until(RESULT) == b"\r\n+CMS ERROR: 304\r\n"
    assert modem.pwrkey_presses == []
    modem.pwrkey(True)
    modem.pwrkey(False)
    assert len(modem.pwrkey_presses) == 1 and modem.power_state == "off"


# --- issue 9 item 6: a port that comes and goes, a modem swapped under the host -----------------

def test_unplug_fails_the_host_and_opening_until_plugged(make_modem: Callable[..., EmulatedModem],
                                                         make_term: Callable[..., Term]) -> None:
    import serial
    modem = make_modem("sim800")
    term = make_term(modem)
    modem.faults.apply("unplug", [])
    with pytest.raises(serial.SerialException):
        term.port.read(1)
    with pytest.raises(serial.SerialException):
        term.port.write(b"AT\r")
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(modem.url, timeout=0.05)
    modem.faults.apply("plug", [])
    assert make_term(modem).at("AT") == b"\r\nOK\r\n"   # the modem kept its state meanwhile


def test_unplug_for_a_while_then_the_port_appears(make_modem: Callable[..., EmulatedModem]) -> None:
    import serial
    clock = ManualClock()
    modem = make_modem("sim800", clock=clock)
    modem.faults.unplug(5.0)
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(modem.url, timeout=0.05)
    clock.advance(5.0)
    assert modem.wait_until(lambda: modem.port_present, 3)
    serial.serial_for_url(modem.url, timeout=0.05).close()


def test_swap_is_another_modem_on_the_port(make_modem: Callable[..., EmulatedModem],
                                           make_term: Callable[..., Term]) -> None:
    modem = make_modem("sim7600")
    term = make_term(modem)
    before = dict(modem.identity)
    modem.inject_sms("+447911000001", "on the old SIM")
    term.read_until(b'"SM",0\r\n')
    modem.faults.apply("swap", [])
    assert term.read_until(b"PB DONE\r\n").endswith(SIM7600_BANNERS)
    assert all(modem.identity[k] != before[k] for k in ("imei", "imsi", "iccid"))
    assert term.at("AT+CGSN") == f"AT+CGSN\r\r\n{modem.identity['imei']}\r\n\r\nOK\r\n".encode()
    assert modem.storage["SM"].used == 0
    digits = [int(d) for d in modem.identity["imei"]]
    assert sum(d * 2 - 9 * (d > 4) if i % 2 else d for i, d in enumerate(digits)) % 10 == 0


# --- issue 9 item 4: a status report racing its own send ----------------------------------------

CMGS_RESULT = re.compile(rb"\r\n\+CMGS: (\d+)\r\n\r\nOK\r\n")


def send_with_report(term: Term, text: str = "fast SC") -> None:
    (part,) = encode_text("+15550100", text, SubmitOptions(status_report=True))
    assert term.at(f"AT+CMGS={part.tpdu_length}") == b"\r\n> "
    term.write(part.pdu + "\x1a")


@pytest.mark.parametrize("via_apply", [False, True])
def test_report_before_result_precedes_its_own_cmgs(make_modem: Callable[..., EmulatedModem],
                                                     make_term: Callable[..., Term],
                                                     via_apply: bool) -> None:
    from gateway.sms import StatusReport, decode_pdu
    clock = ManualClock()                            # report_delay never passes: only the fault
    term = make_term(make_modem("sim800", clock=clock, timing=Timing.fast().replace(report_delay=60.0)))
    assert term.at("AT+CNMI=2,1,0,1,0") == b"\r\nOK\r\n"
    if via_apply:
        term.modem.faults.apply("report_before_result", ["1"])
    else:
        term.modem.faults.report_before_result()
    send_with_report(term)
    got = term.read_until(CMGS_RESULT)
    match = re.fullmatch(rb"\r\n\+CDS: (\d+)\r\n([0-9A-F]+)\r\n\r\n\+CMGS: (\d+)\r\n\r\nOK\r\n", got)
    assert match is not None, got                   # the report first, then the send's own result
    report = decode_pdu(match.group(2).decode())
    assert isinstance(report, StatusReport)
    assert report.reference == int(match.group(3)) == term.modem.sent[0].mr == 0
    assert [r.routed for r in term.modem.reports] == ["+CDS"]
    send_with_report(term, "normal again")           # used up: +CMGS first, report after the delay
    assert term.read_until(RESULT) == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
    assert term.quiet() == b"" and len(term.modem.reports) == 1
    clock.advance(60.0)
    assert term.read_until(re.compile(rb"\+CDS: \d+\r\n[0-9A-F]+\r\n")).startswith(b"\r\n+CDS: ")


def test_report_before_result_stored_as_cdsi_on_sim7600(make_modem: Callable[..., EmulatedModem],
                                                        make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem("sim7600", timing=Timing.fast().replace(report_delay=3600.0)))
    assert term.at("AT+CNMI=2,1,0,2,0") == b"\r\nOK\r\n"
    term.modem.faults.report_before_result()
    send_with_report(term)
    assert term.read_until(CMGS_RESULT) == b'\r\n+CDSI: "SR",0\r\n\r\n+CMGS: 0\r\n\r\nOK\r\n'
    assert [(r.reference, r.routed) for r in term.modem.reports] == [(0, "SR:0")]


def test_report_before_result_rejects_bad_arguments(make_modem: Callable[..., EmulatedModem]) -> None:
    modem = make_modem()
    with pytest.raises(ValueError):
        modem.faults.apply("report_before_result", ["1", "2"])
    modem.faults.apply("report_before_result", ["2"])
    assert modem.faults.take_report_before_result() and modem.faults.take_report_before_result()
    assert not modem.faults.take_report_before_result()
