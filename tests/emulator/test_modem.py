"""The UART side and the power FSM: echo, framing, autobaud, boot banners, PWRKEY, latency."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, Timing

from .conftest import Term


def test_sim800_autobaud_needs_at_first(make_modem: Callable[..., EmulatedModem],
                                        make_term: Callable[..., Term]) -> None:
    modem = make_modem("sim800")        # IPR=0: autobaud, boot URCs are lost, no RDY
    term = make_term(modem, sync=False)
    term.write("xyz\r+CSQ\r")
    assert term.quiet() == b""
    assert term.at("AT") == b"AT\r\r\nOK\r\n"


@pytest.mark.parametrize(("profile", "ipr", "banners"), [
    ("sim800", 115200, b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n"
                       b"\r\nSMS Ready\r\n"),
    ("sim800c", 115200, b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n"
                        b"\r\nSMS Ready\r\n"),
    ("sim7600", None, b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"),
])
def test_boot_banners(make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term],
                      profile: str, ipr: int | None, banners: bytes) -> None:
    clock = ManualClock()
    modem = make_modem(profile, timing=Timing.fast().replace(boot_time=10.0), clock=clock,
                       ipr=ipr)
    term = make_term(modem, sync=False)
    assert modem.power_state == "booting"
    clock.advance(10.0)
    assert term.read_until(banners[-12:]) == banners
    assert modem.wait_until(lambda: modem.power_state == "ready", 3)


def test_boot_with_pin_stops_at_sim_pin(make_modem: Callable[..., EmulatedModem],
                                        make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem("sim800", pin="1234", ipr=115200, clock=clock,
                       timing=Timing.fast().replace(boot_time=1.0))
    term = make_term(modem, sync=False)
    clock.advance(1.0)
    assert term.read_until(b"SIM PIN\r\n") == b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: SIM PIN\r\n"
    assert term.quiet() == b""


def test_silent_until_uart_is_up(make_modem: Callable[..., EmulatedModem],
                                 make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem("sim7600", clock=clock, timing=Timing.fast().replace(boot_time=20.0))
    term = make_term(modem, sync=False)
    term.write("AT\r")
    assert term.quiet() == b""
    clock.advance(10.0)                   # RDY at half the boot time
    term.read_until(b"RDY\r\n")
    assert term.at("AT") == b"AT\r\r\nOK\r\n"


def test_sim800_cpowd(sim800: Term) -> None:
    sim800.write("AT+CPOWD=1\r")
    assert sim800.read_until(b"DOWN\r\n") == b"\r\nNORMAL POWER DOWN\r\n"
    assert sim800.modem.wait_until(lambda: sim800.modem.power_state == "off", 3)
    sim800.write("AT\r")
    assert sim800.quiet() == b""


def test_sim800c_power_off_wording(make_modem: Callable[..., EmulatedModem],
                                   make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem("sim800c"))
    term.write("AT+CPOWD=1\r")
    assert term.read_until(b"OFF\r\n") == b"\r\nNORMAL POWER OFF\r\n"


def test_sim7600_cpof(sim7600: Term) -> None:
    assert sim7600.at("AT+CPOF") == b"\r\nOK\r\n"
    assert sim7600.modem.wait_until(lambda: sim7600.modem.power_state == "off", 3)
    sim7600.write("AT\r")
    assert sim7600.quiet() == b""


def test_pwrkey_pulse_lengths(make_modem: Callable[..., EmulatedModem],
                              make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem("sim800", clock=clock, powered=False, ipr=115200,
                       timing=Timing.fast().replace(pwrkey_min=1.0))
    term = make_term(modem, sync=False)
    assert modem.power_state == "off"
    modem.pwrkey(True)
    clock.advance(0.5)
    modem.pwrkey(False)
    assert modem.power_state == "off"            # too short
    modem.pwrkey(True)
    clock.advance(1.0)
    modem.pwrkey(False)
    assert modem.power_state == "ready"
    term.read_until(b"SMS Ready\r\n")
    modem.pwrkey(True)
    clock.advance(1.5)
    modem.pwrkey(False)
    assert modem.power_state == "off"
    assert term.read_until(b"DOWN\r\n") == b"\r\nNORMAL POWER DOWN\r\n"
    modem.pwrkey(True)
    clock.advance(1.0)
    modem.pwrkey(False)
    term.read_until(b"SMS Ready\r\n")
    modem.pwrkey(True)                           # held past 33 s: off and on again
    clock.advance(34.0)
    modem.pwrkey(False)
    assert modem.power_state == "ready"
    assert term.read_until(b"SMS Ready\r\n").startswith(b"\r\nRDY\r\n")


def test_settings_lost_but_storage_kept_across_power_cycle(sim800: Term) -> None:
    modem = sim800.modem
    sim800.at("AT+CMEE=2")
    modem.inject_sms("+447911000001", "kept")
    sim800.read_until(b'"SM",1\r\n')
    modem.pwrkey(True)
    modem.pwrkey(False)
    sim800.read_until(b"NORMAL POWER DOWN\r\n")
    modem.pwrkey(True)
    modem.pwrkey(False)
    assert sim800.at("AT") == b"AT\r\r\nOK\r\n"
    assert sim800.at("AT+CMEE?").endswith(b"+CMEE: 0\r\n\r\nOK\r\n")
    assert modem.storage["SM"].used == 1


def test_one_handle_at_a_time_and_url(make_modem: Callable[..., EmulatedModem],
                                      make_term: Callable[..., Term]) -> None:
    modem = make_modem()
    assert modem.url == f"emu://{modem.name}"
    make_term(modem, sync=False)
    with pytest.raises(OSError):
        modem.attach(lambda data: None)


def test_pwrkey_ignored_right_after_power_off(make_modem: Callable[..., EmulatedModem]) -> None:
    clock = ManualClock()
    modem = make_modem(clock=clock, timing=Timing.fast().replace(pwrkey_min=1.0,
                                                                 pwrkey_restart_gap=0.8))
    modem.faults.power_off()
    clock.advance(0.5)
    modem.pwrkey(True)              # pressed 0.5 s after STATUS went low: not seen
    clock.advance(1.0)
    modem.pwrkey(False)
    assert modem.power_state == "off"
    modem.pwrkey(True)
    clock.advance(1.0)
    modem.pwrkey(False)
    assert modem.power_state == "ready"
