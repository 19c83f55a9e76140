"""AtChannel against a scripted serial double: framing, URC routing, prompt, time-outs."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import (AtCommandError, AtTimeoutError, CmeError, CmsError,
                            ModemUnavailableError, SendInDoubtError)
from gateway.modem.at import AtChannel, Urc, UrcKind
from gateway.clock import ManualClock
from gateway.modem.errors import ModemRebootedError, NotSentReason, SendNotSentError
from tests.modem.conftest import drive
from tests.modem.scripted_serial import ScriptedSerial, table_responder

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PDU = "0011000B914477009000F10000AA05E8329BFD06"


class Recorder:
    """Collects URCs and the names of the threads that delivered them."""

    def __init__(self) -> None:
        self.urcs: list[Urc] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, urc: Urc) -> None:
        with self._cond:
            self.urcs.append(urc)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 2.0) -> list[Urc]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.urcs) >= count, timeout), self.urcs
            return list(self.urcs)


@pytest.fixture
def rig():
    made: list[AtChannel] = []

    def make(responder=None):
        port = ScriptedSerial(responder)
        urcs = Recorder()
        channel = AtChannel(port, urcs, name="t")
        channel.start()
        made.append(channel)
        return channel, port, urcs

    yield make
    for channel in made:
        channel.close()


def test_plain_command_and_expected_lines(rig):
    channel, _, _ = rig(table_responder({"AT+CSQ\r": "\r\n+CSQ: 17,99\r\n\r\nOK\r\n"}))
    response = channel.command("AT+CSQ", expect=["+CSQ"])
    assert response.first("+CSQ") == "17,99"
    assert response.final == "OK"


def test_echo_on_is_ignored(rig):
    channel, _, _ = rig(table_responder({"AT+CSQ\r": "AT+CSQ\r\r\n+CSQ: 5,0\r\n\r\nOK\r\n"}))
    assert channel.command("AT+CSQ", expect=["+CSQ"]).lines == ("+CSQ: 5,0",)


def test_urc_in_the_middle_of_a_response_goes_to_the_urc_thread(rig):
    reply = '\r\n+CSQ: 17,99\r\n+CMTI: "SM",3\r\nRING\r\n\r\nOK\r\n'
    channel, _, urcs = rig(table_responder({"AT+CSQ\r": reply}))
    response = channel.command("AT+CSQ", expect=["+CSQ"])
    assert response.lines == ("+CSQ: 17,99",)
    got = urcs.wait_for(2)
    assert [(u.kind, u.value) for u in got] == [(UrcKind.NEW_SMS, '"SM",3'), (UrcKind.RING, "RING")]
    assert urcs.threads == {"t-urc"}


def test_two_line_cds_inside_a_cmgl_listing_keeps_both_bodies_apart(rig):
    reply = ("\r\n+CMGL: 1,1,,23\r\n0791AA\r\n+CDS: 25\r\n07914477\r\n"
             "+CMGL: 2,0,,23\r\n0791BB\r\nOK\r\n")
    channel, _, urcs = rig(table_responder({"AT+CMGL=4\r": reply}))
    response = channel.command("AT+CMGL=4", expect=["+CMGL"])
    assert response.pairs("+CMGL") == [("1,1,,23", "0791AA"), ("2,0,,23", "0791BB")]
    (urc,) = urcs.wait_for(1)
    assert (urc.kind, urc.value, urc.body) == (UrcKind.STATUS_REPORT, "25", "07914477")


def test_unsolicited_cmt_without_a_command(rig):
    channel, port, urcs = rig()
    port.inject('\r\n+CMT: "",24\r\n0791447758100650040C914477\r\n')
    (urc,) = urcs.wait_for(1)
    assert urc.kind is UrcKind.SMS and urc.body == "0791447758100650040C914477"


def test_a_plus_line_the_command_does_not_expect_is_a_urc(rig):
    reply = "\r\n+CREG: 1\r\n+CPIN: READY\r\nOK\r\n"
    channel, _, urcs = rig(table_responder({"AT+CPIN?\r": reply}))
    assert channel.command("AT+CPIN?", expect=["+CPIN"]).values("+CPIN") == ["READY"]
    (urc,) = urcs.wait_for(1)
    assert urc.kind is UrcKind.REGISTRATION


def send_responder(mr: int = 42, before_prompt: str = "", after_ctrl_z: str = ""):
    def respond(chunk: str):
        if chunk.startswith("AT+CMGS="):
            return before_prompt + "\r\n> "
        if chunk.endswith("\x1a"):
            return after_ctrl_z + f"\r\n+CMGS: {mr}\r\n\r\nOK\r\n"
        return "\r\nOK\r\n"
    return respond


def test_send_pdu_dialog(rig):
    channel, port, _ = rig(send_responder(mr=7))
    response = channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=1)
    assert response.first("+CMGS") == "7"
    assert port.written == ["AT+CMGS=18\r", PDU + "\x1a"]


def test_urc_while_waiting_for_the_prompt_and_for_the_result(rig):
    channel, _, urcs = rig(send_responder(mr=9, before_prompt='\r\n+CMTI: "SM",1\r\n',
                                          after_ctrl_z="\r\n+CDS: 6\r\n0006\r\n"))
    response = channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=1)
    assert response.lines == ("+CMGS: 9",)
    kinds = [u.kind for u in urcs.wait_for(2)]
    assert kinds == [UrcKind.NEW_SMS, UrcKind.STATUS_REPORT]


def test_echo_of_command_and_pdu_during_send(rig):
    def respond(chunk: str):
        if chunk.startswith("AT+CMGS="):
            return chunk + "\r\n> "
        return chunk + "\r\n+CMGS: 3\r\n\r\nOK\r\n"
    channel, _, _ = rig(respond)
    assert channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1,
                            result_timeout=1).lines == ("+CMGS: 3",)


def test_cms_error_before_the_prompt_is_raised_as_such(rig):
    channel, port, _ = rig(table_responder({}, default="\r\n+CMS ERROR: 302\r\n"))
    with pytest.raises(CmsError) as info:
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=1)
    assert info.value.code == 302
    assert port.written == ["AT+CMGS=18\r"]


def test_cms_error_after_ctrl_z(rig):
    def respond(chunk):
        return "\r\n> " if chunk.startswith("AT+CMGS") else "\r\n+CMS ERROR: 38\r\n"
    channel, _, _ = rig(respond)
    with pytest.raises(CmsError) as info:
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=1)
    assert info.value.code == 38


def test_prompt_timeout_writes_esc_and_is_not_in_doubt(rig):
    channel, port, _ = rig(lambda chunk: "\r\nOK\r\n" if chunk == "\x1b" else None)
    with pytest.raises(AtTimeoutError):
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=0.2, result_timeout=1)
    assert port.written == ["AT+CMGS=18\r", "\x1b"]


def test_no_result_after_ctrl_z_is_in_doubt(rig):
    channel, _, _ = rig(lambda chunk: "\r\n> " if chunk.startswith("AT+CMGS") else None)
    with pytest.raises(SendInDoubtError):
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=0.2)


def test_reboot_after_ctrl_z_is_in_doubt_at_once(rig):
    channel, _, urcs = rig(lambda c: "\r\n> " if c.startswith("AT+CMGS") else "\r\nRDY\r\n")
    with pytest.raises(SendInDoubtError):
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=30)
    assert urcs.wait_for(1)[0].kind is UrcKind.BOOT


BANNERS = "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n"


def test_reboot_between_prompt_and_ctrl_z_is_not_sent_and_the_pdu_is_not_written(rig):
    channel, port, urcs = rig(lambda c: "\r\n> " + BANNERS if c.startswith("AT+CMGS") else None)
    with pytest.raises(SendNotSentError) as info:
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=30)
    assert info.value.reason is NotSentReason.REBOOTED_AT_PROMPT and info.value.line == "RDY"
    assert isinstance(info.value, ModemUnavailableError)   # requeued, no attempt counted
    assert port.written == ["AT+CMGS=18\r"]
    assert [u.kind for u in urcs.wait_for(5)][:2] == [UrcKind.BOOT, UrcKind.BOOT]


@pytest.mark.parametrize("order", ["echo-then-banners", "banners-then-echo"])
def test_own_pdu_echoed_in_command_mode_after_a_reboot_is_not_sent(rig, order):
    """A freshly booted modem (ATE1) takes PDU + Ctrl-Z as command-line input and echoes it."""
    def respond(chunk: str):
        if chunk.startswith("AT+CMGS"):
            return "\r\n> "
        if chunk.endswith("\x1a"):   # the echo has no line end: command mode got no CR
            return chunk + BANNERS if order == "echo-then-banners" else BANNERS + chunk
        return None
    channel, _, _ = rig(respond)
    with pytest.raises(SendNotSentError) as info:
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=30)
    assert info.value.reason is NotSentReason.PDU_ECHOED


def send_on_manual_clock(respond) -> tuple[BaseException | None, float]:
    """One AT+CMGS dialog (120 s result time-out) on a ManualClock moved on in 50 ms steps:
    what it raised and how many clock seconds it took."""
    clock = ManualClock()
    channel = AtChannel(ScriptedSerial(respond), Recorder(), name="t", clock=clock)
    channel.start()
    done = threading.Event()
    outcome: list[BaseException | None] = [None]

    def send() -> None:
        try:
            channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=120)
        except BaseException as exc:  # noqa: BLE001 - inspected by the test
            outcome[0] = exc
        done.set()
    threading.Thread(target=send, daemon=True).start()
    try:
        took = drive(clock, done.is_set, step=0.05)
        return outcome[0], took
    finally:
        channel.close()


def test_own_pdu_echoed_without_any_banner_ends_the_dialog_at_once():
    raised, took = send_on_manual_clock(lambda c: "\r\n> " if c.startswith("AT+CMGS") else c)
    assert isinstance(raised, SendNotSentError)
    assert took < 0.5                           # not after the 120 s result time-out


def test_pdu_echo_with_echo_on_is_no_proof_and_a_reboot_stays_in_doubt(rig):
    def respond(chunk: str):
        if chunk.startswith("AT+CMGS="):
            return chunk + "\r\n> "
        return chunk + "\r\nRDY\r\n"      # echo on all along: no proof either way
    channel, _, _ = rig(respond)
    with pytest.raises(SendInDoubtError):
        channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=30,
                         echo_grace=0.05)


@pytest.mark.parametrize("banner", ["+CFUN: 1", "SMS Ready", "+CPIN: READY"])
def test_any_boot_banner_after_ctrl_z_ends_the_wait_in_doubt(banner):
    raised, took = send_on_manual_clock(lambda c: "\r\n> " if c.startswith("AT+CMGS")
                                        else f"\r\n{banner}\r\n")
    assert isinstance(raised, SendInDoubtError)
    assert took < 1.0                           # the echo grace, not the 120 s wait


def test_reboot_during_a_command_aborts_it(rig):
    channel, _, _ = rig(table_responder({}, default="\r\nRDY\r\n"))
    with pytest.raises(ModemRebootedError):
        channel.command("AT+CSQ", expect=["+CSQ"], timeout=30)


def test_command_timeout(rig):
    channel, _, _ = rig(lambda chunk: None)
    with pytest.raises(AtTimeoutError) as info:
        channel.command("AT", timeout=0.1)
    assert info.value.command == "AT"


@pytest.mark.parametrize("final, error, code, text", [
    ("ERROR", AtCommandError, None, ""),
    ("+CMS ERROR: 500", CmsError, 500, ""),
    ("+CME ERROR: 10", CmeError, 10, ""),
    ("+CME ERROR: SIM not inserted", CmeError, 10, "SIM not inserted"),
    ("+CME ERROR: incorrect password", CmeError, 16, "incorrect password"),
    ("+CMS ERROR: Invalid memory index", CmsError, 321, "Invalid memory index"),
    ("+CME ERROR: something new", CmeError, None, "something new"),
    ("COMMAND NOT SUPPORT", AtCommandError, None, "COMMAND NOT SUPPORT"),
])
def test_error_finals_numeric_and_verbose(rig, final, error, code, text):
    channel, _, _ = rig(table_responder({}, default=f"\r\n{final}\r\n"))
    with pytest.raises(error) as info:
        channel.command("AT+CPIN?", expect=["+CPIN"])
    assert type(info.value) is error
    assert (info.value.code, info.value.text) == (code, text)


def test_garbage_bytes_are_dropped(rig):
    channel, port, _ = rig(table_responder({"AT\r": "\r\nOK\r\n"}))
    port.inject(b"\xff\xfe\x00\x80garbage\xc3\r\n\x00\x00\r\n")
    assert channel.command("AT").final == "OK"


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=64))
def test_any_garbage_then_a_fresh_line_still_frames_the_next_answer(rig, garbage):
    channel, port, _ = rig(table_responder({"AT+CSQ\r": "\r\n+CSQ: 9,99\r\n\r\nOK\r\n"}))
    port.inject(garbage.replace(b">", b"") + b"\r\n")
    response = channel.command("AT+CSQ", expect=["+CSQ"])
    assert response.first("+CSQ") == "9,99"


def test_raw_information_lines_join_the_answer_and_banners_do_not(rig):
    reply = "\r\n866123456789012\r\nCall Ready\r\nOK\r\n"
    channel, _, urcs = rig(table_responder({"AT+CGSN\r": reply}))
    assert channel.command("AT+CGSN").text == "866123456789012"
    assert urcs.wait_for(1)[0].kind is UrcKind.BOOT


def test_broken_port_makes_commands_unavailable(rig):
    channel, port, _ = rig(lambda chunk: None)
    port.fail_reads = OSError("device disconnected")
    with pytest.raises(ModemUnavailableError):
        channel.command("AT", timeout=2)
    assert channel.broken is not None
    with pytest.raises(ModemUnavailableError):
        channel.command("AT", timeout=2)


SPURIOUS = "device reports readiness to read but returned no data (device disconnected or multiple access on port?)"


def test_a_spurious_empty_read_on_a_pty_is_not_a_broken_port(rig):
    """Under load a pty can wake pyserial before its data is readable; a real modem is fine."""
    import serial

    channel, port, _ = rig(table_responder({"AT\r": "\r\nOK\r\n"}))
    port.fail_reads, port.fail_reads_times = serial.SerialException(SPURIOUS), 3
    assert channel.command("AT", timeout=2).final == "OK"
    assert channel.broken is None


def test_a_port_that_keeps_reporting_no_data_is_gone(rig):
    import serial

    channel, port, _ = rig(lambda chunk: None)
    port.fail_reads = serial.SerialException(SPURIOUS)
    with pytest.raises(ModemUnavailableError):
        channel.command("AT", timeout=2)
    assert channel.broken is not None


def test_raw_traffic_is_logged_at_debug_under_gateway_modem_at(rig, caplog):
    channel, _, _ = rig(table_responder({"AT\r": "\r\nOK\r\n"}))
    with caplog.at_level(logging.DEBUG, logger="gateway.modem.at"):
        channel.command("AT")
    assert any(r.name == "gateway.modem.at" and ">>" in r.getMessage() for r in caplog.records)
    assert any(r.name == "gateway.modem.at" and "<<" in r.getMessage() for r in caplog.records)


def _dialogs():
    path = DATA / "modem_dialogs" / "python_gsmmodem_sms_dialogs.json"
    if not path.is_file():
        pytest.skip(f"shared test data missing: {path}")
    return {s["name"]: s for s in json.loads(path.read_text())["scenarios"]}


def test_recorded_zte_dialog_with_interleaved_urcs():
    """python-gsmmodem's ZTE send dialog, replayed byte for byte (placeholders filled)."""
    steps = _dialogs()["send_pdu_sms_zte_interleaved_urcs"]["steps"]
    replies = [("".join(s["modem"])).replace("<mr>", "77") for s in steps if "modem" in s]
    queue = list(replies)
    port = ScriptedSerial(lambda chunk: queue.pop(0) if queue else None)
    urcs = Recorder()
    channel = AtChannel(port, urcs, name="zte")
    channel.start()
    try:
        response = channel.send_pdu("AT+CMGS=18", PDU, prompt_timeout=1, result_timeout=1)
        assert response.first("+CMGS") == "77"
        assert len(urcs.wait_for(6)) == 6
    finally:
        channel.close()


def test_recorded_cdsi_dialog_reads_the_report():
    steps = _dialogs()["send_then_status_report_via_cdsi"]["steps"]
    reply = "".join(next(s["modem"] for s in steps if "+CMGR" in "".join(s.get("modem", []))))
    port = ScriptedSerial(table_responder({"AT+CMGR=3\r": reply}))
    channel = AtChannel(port, Recorder(), name="cdsi")
    channel.start()
    try:
        (header, body), = channel.command("AT+CMGR=3", expect=["+CMGR"]).pairs("+CMGR")
        assert header == "0,,24" and body.startswith("07917248014000F5")
    finally:
        channel.close()


def _gammu_dumps(folder: str) -> list[Path]:
    base = DATA / "gammu" / folder
    if not base.is_dir():
        pytest.skip(f"shared test data missing: {base}")
    return sorted(base.glob("*.dump"))


def test_gammu_cmgr_dumps_frame_into_header_and_hex_body():
    current = {"reply": ""}
    port = ScriptedSerial(lambda chunk: current["reply"])
    channel = AtChannel(port, Recorder(), name="gammu")
    channel.start()
    checked = 0
    try:
        for dump in _gammu_dumps("at-sms") + _gammu_dumps("at-sms-failing"):
            lines = dump.read_text(encoding="latin-1").replace("\r", "").split("\n")
            command = lines[0].strip()
            if not command.startswith("AT+CMGR"):
                continue
            current["reply"] = "\r\n".join(lines[1:]) + "\r\n"
            response = channel.command(command, expect=["+CMGR"], timeout=1)
            pairs = response.pairs("+CMGR")
            assert len(pairs) == 1, dump
            body = next(line for line in lines[2:] if line.strip())
            # The body (hex, or broken text in at-sms-failing) stays the body, never the result.
            assert pairs[0][1].upper() == body.strip().upper(), dump
            assert response.final == "OK"
            checked += 1
    finally:
        channel.close()
    assert checked >= 40
