"""SIM PIN/PUK, AT+CFUN, registration URCs, AT+COPS and USSD."""
from __future__ import annotations

from collections.abc import Callable

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, Timing

from .conftest import Term
from .test_commands_basic import OK, answer


def test_pin_then_puk(make_modem: Callable[..., EmulatedModem],
                      make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem(pin="1234", puk="87654321"))
    term.at("AT+CMEE=1")
    assert term.at("AT+CPIN?") == answer("+CPIN: SIM PIN")
    assert term.at("AT+CIMI") == b"\r\n+CME ERROR: 11\r\n"
    assert term.at("AT+CREG?") == answer("+CREG: 0,0")
    for _ in range(3):
        assert term.at('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
    assert term.at("AT+CPIN?") == answer("+CPIN: SIM PUK")
    assert term.at("AT+CIMI") == b"\r\n+CME ERROR: 12\r\n"
    assert term.at('AT+CPIN="1234"') == b"\r\n+CME ERROR: 12\r\n"
    assert term.at('AT+CPIN="11111111","4321"') == b"\r\n+CME ERROR: 16\r\n"
    term.write('AT+CPIN="87654321","4321"\r')
    assert term.read_until(b"SMS Ready\r\n") == (b"\r\nOK\r\n\r\n+CPIN: READY\r\n"
                                                 b"\r\nCall Ready\r\n\r\nSMS Ready\r\n")
    assert term.at("AT+CREG?") == answer("+CREG: 0,1")
    assert term.at("AT+CMGF=0") == OK
    assert term.modem.pin == "4321"


def test_correct_pin_and_pin_when_not_needed(make_modem: Callable[..., EmulatedModem],
                                             make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem("sim7600", pin="1234"))
    term.write('AT+CPIN="1234"\r')
    assert term.read_until(b"PB DONE\r\n") == (b"\r\nOK\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n"
                                               b"\r\nPB DONE\r\n")
    assert term.at('AT+CPIN="1234"') == b"\r\n+CME ERROR: operation not allowed\r\n"


def test_puk_exhaustion_blocks_the_sim(make_modem: Callable[..., EmulatedModem],
                                       make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem(pin="1234"))
    term.at("AT+CMEE=1")
    for _ in range(3):
        term.at('AT+CPIN="0000"')
    for _ in range(10):
        term.at('AT+CPIN="00000000","1111"')
    assert term.at("AT+CPIN?") == b"\r\n+CME ERROR: 13\r\n"


def test_creg_urcs_and_cfun(sim7600: Term) -> None:
    sim7600.at("AT+CREG=2")
    sim7600.at("AT+CEREG=1")
    assert sim7600.at("AT+CREG?") == answer('+CREG: 2,1,"1A2B","01C3"')
    sim7600.write("AT+CFUN=0\r")
    assert sim7600.read_until(b"+CEREG: 0\r\n") == b"\r\n+CREG: 0\r\n\r\n+CEREG: 0\r\n"
    assert sim7600.read_until(b"OK\r\n") == OK
    assert sim7600.at("AT+CSQ") == answer("+CSQ: 99,99")
    assert sim7600.at("AT+CPSI?") == answer("+CPSI: NO SERVICE,Online")
    assert sim7600.at("AT+COPS?") == answer("+COPS: 0")
    sim7600.write("AT+CFUN=1\r")
    assert sim7600.read_until(b"+CEREG: 1\r\n") == (b'\r\n+CREG: 1,"1A2B","01C3"\r\n'
                                                    b"\r\n+CEREG: 1\r\n")


def test_cops_formats_and_manual_deregistration(sim800: Term) -> None:
    assert sim800.at("AT+COPS=3,2") == OK
    assert sim800.at("AT+COPS?") == answer('+COPS: 0,2,"00101"')
    assert sim800.at("AT+COPS=?") == answer('+COPS: (2,"SIMGATE","SIMGATE","00101"),,(0-4),(0-2)')
    assert sim800.at('AT+COPS=1,2,"99999"') == b"\r\nERROR\r\n"
    assert sim800.at("AT+COPS=2") == OK
    assert sim800.at("AT+CREG?") == answer("+CREG: 0,0")
    assert sim800.at("AT+COPS=0") == OK
    assert sim800.at("AT+CREG?") == answer("+CREG: 0,1")


def test_cfun_reset_reboots(sim800: Term) -> None:
    sim800.modem.ipr = 115200
    sim800.write("AT+CFUN=1,1\r")
    assert sim800.read_until(b"SMS Ready\r\n") == (
        b"\r\nOK\r\n\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n"
        b"\r\nSMS Ready\r\n")
    assert sim800.at("AT") == b"AT\r\r\nOK\r\n"     # echo is back on: settings were lost


def test_ussd_answers(net: object, make_modem: Callable[..., EmulatedModem],
                      make_term: Callable[..., Term]) -> None:
    modem = make_modem(msisdn="+447700900001")
    modem.network.set_ussd("*101#", "Data left: 1 GB")
    term = make_term(modem)
    term.write('AT+CUSD=1,"*100#",15\r')
    assert term.read_until(b",15\r\n") == OK + b'\r\n+CUSD: 0,"Your balance is 12.34 GBP.",15\r\n'
    term.write('AT+CUSD=1,"*#100#",15\r')
    assert term.read_until(b",15\r\n").endswith(b'"Your number is +447700900001.",15\r\n')
    term.write('AT+CUSD=1,"*999#",15\r')
    assert term.read_until(b"+CUSD: 4\r\n").endswith(b"\r\n+CUSD: 4\r\n")
    term.at('AT+CSCS="UCS2"')
    term.write('AT+CUSD=1,"002A0031003000310023",15\r')
    expected = "Data left: 1 GB".encode("utf-16-be").hex().upper()
    assert term.read_until(b",72\r\n").endswith(f'+CUSD: 0,"{expected}",72\r\n'.encode())
    assert term.at("AT+CUSD?") == answer("+CUSD: 1")


def test_ussd_waits_for_its_delay(make_modem: Callable[..., EmulatedModem],
                                  make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    term = make_term(make_modem(timing=Timing.fast().replace(ussd_delay=2.0), clock=clock))
    assert term.at('AT+CUSD=1,"*100#",15') == OK
    assert term.quiet() == b""
    clock.advance(2.0)
    term.read_until(b",15\r\n")


def test_ussd_without_network_is_cme_30(sim800: Term) -> None:
    sim800.modem.faults.deregister()
    sim800.at("AT+CMEE=1")
    assert sim800.at('AT+CUSD=1,"*100#",15') == b"\r\n+CME ERROR: 30\r\n"
