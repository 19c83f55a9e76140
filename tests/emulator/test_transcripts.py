"""Transcripts: manual examples (HARDWARE.md) and recorded dialogs (shared/data) replayed byte-exact.

Each manual step is (bytes the host writes, bytes the modem must answer). Recorded dialogs from
python-gsmmodem and Gammu dumps are replayed against stored copies of their PDUs; their
line framing is normalised only where the recording itself is not byte-exact (python-gsmmodem's
fake modem sends "> \\r\\n" where real modems send "\\r\\n> ").
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.emulator import EmulatedModem
from gateway.emulator.storage import Stat, StoredMessage
from gateway.sms import SubmitOptions, encode_text

from .conftest import Term

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
(PART,) = encode_text("+447700900999", "transcript", SubmitOptions(status_report=True))

# (profile, [(host, modem)]) -- echo is on, as after power-up (HARDWARE.md 3.1 / [S47]).
MANUAL = {
    "sim800 echo on (S47)": ("sim800", [("AT\r", "AT\r\r\nOK\r\n")]),
    "sim800 CNMI test and ds=2 refused (S24)": ("sim800", [
        ("ATE0\r", "ATE0\r\r\nOK\r\n"),
        ("AT+CNMI=?\r", "\r\n+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)\r\n\r\nOK\r\n"),
        ("AT+CNMI=2,1,0,2\r", "\r\nERROR\r\n"),
        ("AT+CNMI=2,1,0,1,0\r", "\r\nOK\r\n")]),
    "sim800 recommended init (HARDWARE.md 3.1)": ("sim800", [
        ("ATE0\r", "ATE0\r\r\nOK\r\n"),
        ("AT+CMEE=1\r", "\r\nOK\r\n"),
        ("AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        ("AT+CMGF=0\r", "\r\nOK\r\n"),
        ("AT+CSCA?\r", '\r\n+CSCA: "+447700900000",145\r\n\r\nOK\r\n'),
        ('AT+CPMS="SM","SM","SM"\r', "\r\n+CPMS: 0,30,0,30,0,30\r\n\r\nOK\r\n"),
        ("AT+CNMI=2,1,0,1,0\r", "\r\nOK\r\n"),
        ("AT+CMMS=2\r", "\r\nOK\r\n")]),
    "sim800 CMGS dialog (HARDWARE.md 3.3)": ("sim800", [
        ("ATE0\r", "ATE0\r\r\nOK\r\n"),
        (f"AT+CMGS={PART.tpdu_length}\r", "\r\n> "),
        (PART.pdu + "\x1a", "\r\n+CMGS: 0\r\n\r\nOK\r\n")]),
    "sim800 CSQ and CREG formats (HARDWARE.md 4.2)": ("sim800", [
        ("ATE0\r", "ATE0\r\r\nOK\r\n"),
        ("AT+CSQ\r", "\r\n+CSQ: 17,99\r\n\r\nOK\r\n"),
        ("AT+CREG=2\r", "\r\nOK\r\n"),
        ("AT+CREG?\r", '\r\n+CREG: 2,1,"1A2B","01C3"\r\n\r\nOK\r\n'),
        ("AT+COPS=3,0\r", "\r\nOK\r\n"),
        ("AT+COPS?\r", '\r\n+COPS: 0,0,"SIMGATE"\r\n\r\nOK\r\n')]),
    "sim800 power down (HARDWARE.md 1.2)": ("sim800", [
        ("AT+CPOWD=1\r", "AT+CPOWD=1\r\r\nNORMAL POWER DOWN\r\n"),
        ("AT\r", "")]),
    "sim7600 registration and CPSI (HARDWARE.md 3.5, 4.2)": ("sim7600", [
        ("ATE0\r", "ATE0\r\r\nOK\r\n"),
        ("AT+CREG?\r", "\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CEREG?\r", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n"),
        ("AT+CPSI?\r", "\r\n+CPSI: LTE,Online,001-01,0x1A2B,451,451,EUTRAN-BAND3,1300,5,5,-95,"
                       "-930,-630,15\r\n\r\nOK\r\n"),
        ("AT+COPS?\r", '\r\n+COPS: 0,0,"SIMGATE",7\r\n\r\nOK\r\n')]),
    "sim7600 CMEE default 2, no SIM (HARDWARE.md 4.1)": ("sim7600", [
        ("ATE0\r", "ATE0\r\r\nOK\r\n"),
        ("AT+CMEE?\r", "\r\n+CMEE: 2\r\n\r\nOK\r\n")]),
    "sim7600 IPR fixed 115200 (S17)": ("sim7600", [
        ("AT+IPR?\r", "AT+IPR?\r\r\n+IPR: 115200\r\n\r\nOK\r\n")]),
    "sim7600 power off": ("sim7600", [("AT+CPOF\r", "AT+CPOF\r\r\nOK\r\n"), ("AT\r", "")]),
}


@pytest.mark.parametrize("name", list(MANUAL))
def test_manual_transcript(make_modem: Callable[..., EmulatedModem],
                           make_term: Callable[..., Term], name: str) -> None:
    profile, steps = MANUAL[name]
    modem = make_modem(profile, ipr=115200)
    modem.signal = (17, 99)
    term = make_term(modem, sync=False)
    for host, expected in steps:
        term.write(host)
        if expected:
            assert term.read_until(expected[-4:].encode("latin-1")) == expected.encode("latin-1")
        else:
            assert term.quiet() == b""


# --- python-gsmmodem dialogs ------------------------------------------------------------------

def _dialogs() -> dict[str, dict]:  # type: ignore[type-arg]
    path = DATA / "modem_dialogs" / "python_gsmmodem_sms_dialogs.json"
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    return {s["name"]: s for s in json.loads(path.read_text())["scenarios"]}


def _framed(lines: list[str]) -> re.Pattern[bytes]:
    """The recorded lines as real modems frame them, placeholders as number patterns."""
    body = b"".join(b"\r\n" + re.escape(line.removesuffix("\r\n").encode()) + b"\r\n"
                    for line in lines)
    return re.compile(re.sub(rb"<\w+>", rb"\\d{1,3}", body))


def test_gsmmodem_list_stored_pdu(make_modem: Callable[..., EmulatedModem],
                                  make_term: Callable[..., Term]) -> None:
    scenario = _dialogs()["list_stored_pdu"]
    host, answer = scenario["steps"]
    listed = [line.removesuffix("\r\n") for line in answer["modem"][:-1]]
    modem = make_modem("sim7600")                  # indices from 0, as in the recording
    for header, pdu in zip(listed[::2], listed[1::2]):
        stat = int(header.split(",")[1])
        modem.storage["SM"].store(StoredMessage(Stat(stat), pdu))
    term = make_term(modem)
    expected = "\r\n" + "\r\n".join(listed) + "\r\n\r\nOK\r\n"
    assert term.at(host["host"].removesuffix("\r")) == expected.encode()


def test_gsmmodem_text_mode_listing_of_the_same_messages(make_modem: Callable[..., EmulatedModem],
                                                          make_term: Callable[..., Term]) -> None:
    """The recording lists the same three SMS in PDU and in text mode: store the PDUs, list
    them in text mode, and the answer is the recorded text-mode one, byte for byte."""
    dialogs = _dialogs()
    pdu_lines = [line.removesuffix("\r\n") for line in
                 dialogs["list_stored_pdu"]["steps"][1]["modem"][:-1]]
    host, answer = dialogs["list_stored_text_mode"]["steps"]
    modem = make_modem("sim7600")
    for header, pdu in zip(pdu_lines[::2], pdu_lines[1::2]):
        modem.storage["SM"].store(StoredMessage(Stat(int(header.split(",")[1])), pdu))
    term = make_term(modem)
    term.at("AT+CMGF=1")
    listed = [line.removesuffix("\r\n") for line in answer["modem"][:-1]]
    expected = "\r\n" + "\r\n".join(listed) + "\r\n\r\nOK\r\n"
    assert term.at(host["host"].removesuffix("\r")) == expected.encode()


def test_gsmmodem_status_report_read(make_modem: Callable[..., EmulatedModem],
                                     make_term: Callable[..., Term]) -> None:
    steps = _dialogs()["send_then_status_report_via_cdsi"]["steps"]
    cmgr_host, cmgr_answer = steps[6], steps[7]
    header, pdu, _ok = (line.removesuffix("\r\n") for line in cmgr_answer["modem"])
    modem = make_modem("sim7600")
    for _ in range(4):                             # the recording reads index 3
        modem.storage["SM"].store(StoredMessage(Stat.REC_UNREAD, pdu))
    term = make_term(modem)
    assert term.at(cmgr_host["host"].removesuffix("\r")) == (
        f"\r\n{header}\r\n{pdu}\r\n\r\nOK\r\n".encode())
    assert term.at(steps[8]["host"].removesuffix("\r")) == b"\r\nOK\r\n"   # AT+CMGD=3,0
    assert modem.storage["SM"].get(3) is None


def test_gsmmodem_send_and_receive_shapes(make_modem: Callable[..., EmulatedModem],
                                          make_term: Callable[..., Term]) -> None:
    dialogs = _dialogs()
    send = dialogs["send_pdu_sms_basic"]["steps"]
    term = make_term(make_modem("sim800"))
    command = send[0]["host"].replace("<tpdu_length>", str(PART.tpdu_length))
    assert term.at(command.removesuffix("\r")) == b"\r\n> "
    term.write(send[2]["host"].replace("<PDU_HEX>", PART.pdu))
    assert _framed(send[3]["modem"]).fullmatch(term.read_until(b"OK\r\n"))
    receive = dialogs["receive_pdu_via_cmti"]["steps"]
    term.modem.inject_sms("+447911123456", "cmti")
    assert _framed(receive[0]["modem"]).fullmatch(term.read_until(re.compile(rb",\d+\r\n")))


# --- Gammu dumps ------------------------------------------------------------------------------

def test_gammu_smsc_dump(make_modem: Callable[..., EmulatedModem],
                         make_term: Callable[..., Term]) -> None:
    path = DATA / "gammu" / "at-smsc" / "02.dump"
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    command, answer, ok = path.read_text().splitlines()[:3]
    modem = make_modem("sim800")
    modem.csca = re.search(r'"(.*)"', answer).group(1)  # type: ignore[union-attr]
    term = make_term(modem)
    assert term.at(command) == f"\r\n{answer}\r\n\r\n{ok}\r\n".encode()


def test_gammu_cpms_dump_lists_the_sim800_memories() -> None:
    path = DATA / "gammu" / "at-cpms" / "alcatel-s320.dump"
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    recorded = re.findall(r'"(\w+)"', path.read_text())
    from gateway.emulator.profiles import SIM800
    assert re.findall(r'"(\w+)"', SIM800.cpms_test) == recorded   # same SIMCom-style list
