"""V.250 basics, identification, settings and power commands, per profile."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.emulator import EmulatedModem

from .conftest import Term

OK = b"\r\nOK\r\n"


def answer(*lines: str) -> bytes:
    return b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines) + OK


SIM800_CASES = [
    ("ATI", answer("SIM800 R14.18")),
    ("AT+CGMI", answer("SIMCOM_Ltd")),
    ("AT+GMI", answer("SIMCOM_Ltd")),
    ("AT+CGMM", answer("SIMCOM_SIM800")),
    ("AT+GMM", answer("SIMCOM_SIM800")),
    ("AT+CGMR", answer("Revision:1418B04SIM800M32")),
    ("AT+GMR", answer("Revision:1418B04SIM800M32")),
    ("AT+CGSN", answer("861234509000017")),
    ("AT+GSN", answer("861234509000017")),
    ("AT+CIMI", answer("001017700900001")),
    ("AT+CCID", answer("89001010077009000017")),
    ("AT+CICCID", b"\r\nERROR\r\n"),
    ("AT+GCAP", answer("+GCAP: +CGSM")),
    ("AT+CGMM=?", OK),
    ("AT+CPIN?", answer("+CPIN: READY")),
    ("AT+CFUN?", answer("+CFUN: 1")),
    ("AT+CFUN=?", answer("+CFUN: (0,1,4),(0,1)")),
    ("AT+CSQ", answer("+CSQ: 20,0")),
    ("AT+CSQ=?", answer("+CSQ: (0-31,99),(0-7,99)")),
    ("AT+CREG?", answer("+CREG: 0,1")),
    ("AT+CREG=?", answer("+CREG: (0-2)")),
    ("AT+CEREG?", b"\r\nERROR\r\n"),
    ("AT+CPSI?", b"\r\nERROR\r\n"),
    ("AT+COPS?", answer('+COPS: 0,0,"SIMGATE"')),
    ("AT+CMEE?", answer("+CMEE: 0")),
    ("AT+CMEE=?", answer("+CMEE: (0-2)")),
    ("AT+CSCS?", answer('+CSCS: "IRA"')),
    ("AT+IPR?", answer("+IPR: 0")),
    ("AT+IPR=115200", OK),
    ("AT+IPR=1234", b"\r\nERROR\r\n"),
    ("AT+CPOF", b"\r\nERROR\r\n"),
    ("AT+CNUM", answer('+CNUM: "","+447700900001",145')),
    ("AT+CBC", answer("+CBC: 0,85,4080")),
    ("ATS3?", answer("013")),
    ("ATS0=1", OK),
    ("AT+CUSD?", answer("+CUSD: 0")),
    ("AT+CUSD=?", answer("+CUSD: (0-2)")),
    ("AT+CHUP", OK),
    ("AT+NOPE", b"\r\nERROR\r\n"),
    ("AT+CMGF=0;+NOPE;+CSQ", b"\r\nERROR\r\n"),
    ("AT+CSQ;+CREG?", answer("+CSQ: 20,0", "+CREG: 0,1")),
    ("ATX4&C1&D2", OK),
    ('AT+CUSD=1,"unterminated', b"\r\nERROR\r\n"),
    ("ATI9", b"\r\nERROR\r\n"),
    ("ATD+447700900002;", b"\r\nNO CARRIER\r\n"),
]

SIM7600_CASES = [
    ("ATI", answer("Manufacturer: SIMCOM INCORPORATED\r\nModel: SIMCOM_SIM7600E-H\r\n"
                   "Revision: SIM7600M22_V2.0\r\nIMEI: 861234509000017\r\n+GCAP: +CGSM")),
    ("AT+CGMI", answer("SIMCOM INCORPORATED")),
    ("AT+CGMM", answer("SIMCOM_SIM7600E-H")),
    ("AT+CGMR", answer("+CGMR: LE20B04SIM7600M22")),
    ("AT+CICCID", answer("+ICCID: 89001010077009000017")),
    ("AT+CCID", answer("+ICCID: 89001010077009000017")),
    ("AT+CFUN=?", answer("+CFUN: (0,1,4-7),(0,1)")),
    ("AT+CEREG?", answer("+CEREG: 0,1")),
    ("AT+CPSI?", answer("+CPSI: LTE,Online,001-01,0x1A2B,451,451,EUTRAN-BAND3,1300,5,5,-95,"
                        "-900,-600,15")),
    ("AT+COPS?", answer('+COPS: 0,0,"SIMGATE",7')),
    ("AT+CMEE?", answer("+CMEE: 2")),
    ("AT+IPR?", answer("+IPR: 115200")),
    ("AT+IPR=0", b"\r\nERROR\r\n"),
    ("AT+CPOWD=1", b"\r\nERROR\r\n"),
    ("AT+CSCS=?", answer('+CSCS: ("IRA","GSM","UCS2")')),
    ("AT+CBC", answer("+CBC: 4.080V")),
]


@pytest.mark.parametrize(("line", "expected"), SIM800_CASES)
def test_sim800(make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term],
                line: str, expected: bytes) -> None:
    term = make_term(make_modem("sim800", msisdn="+447700900001"))
    assert term.at(line) == expected


@pytest.mark.parametrize(("line", "expected"), SIM7600_CASES)
def test_sim7600(make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term],
                 line: str, expected: bytes) -> None:
    term = make_term(make_modem("sim7600", msisdn="+447700900001"))
    assert term.at(line) == expected


def test_identity_differs_between_modems(make_modem: Callable[..., EmulatedModem]) -> None:
    a, b = make_modem(), make_modem()
    assert a.identity != b.identity
    for modem in (a, b):
        digits = [int(d) for d in modem.identity["imei"]]
        checksum = sum(d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d)
                       for i, d in enumerate(digits))
        assert len(digits) == 15 and checksum % 10 == 0   # a valid Luhn IMEI


@pytest.mark.parametrize(("cmee", "expected"), [
    (0, b"\r\nERROR\r\n"), (1, b"\r\n+CME ERROR: 10\r\n"),
    (2, b"\r\n+CME ERROR: SIM not inserted\r\n")])
def test_cmee_forms(make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term],
                    cmee: int, expected: bytes) -> None:
    modem = make_modem()
    term = make_term(modem)
    modem.faults.remove_sim()
    term.read_until(b"+CPIN: NOT INSERTED\r\n")
    term.at(f"AT+CMEE={cmee}")
    assert term.at("AT+CPIN?") == expected


def test_at_w_z_and_f(sim800: Term) -> None:
    sim800.at("AT+CMEE=1")
    sim800.at("AT&W")                      # saved with echo off, CMEE 1
    sim800.at("AT+CMEE=2;E1")
    assert sim800.at("ATZ") == b"ATZ\r\r\nOK\r\n"
    assert sim800.at("AT+CMEE?") == answer("+CMEE: 1")
    assert sim800.at("AT&F") == OK
    assert sim800.at("AT+CMEE?") == b"AT+CMEE?\r\r\n+CMEE: 0\r\n\r\nOK\r\n"
    assert sim800.at("AT&V").startswith(b"AT&V\r\r\nE: 1\r\nQ: 0\r\nV: 1\r\n")
