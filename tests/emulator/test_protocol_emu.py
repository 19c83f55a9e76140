"""The emu:// pyserial handler behaves like a serial port: timeouts, one handle, errors."""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import serial

from gateway.emulator import EmulatedModem


def test_round_trip_and_in_waiting(make_modem: Callable[..., EmulatedModem]) -> None:
    modem = make_modem()
    port = serial.serial_for_url(modem.url, timeout=2)
    try:
        assert port.write(b"AT\r") == 3
        assert port.read(9) == b"AT\r\r\nOK\r\n"
        assert port.in_waiting == 0 and port.out_waiting == 0
        port.write(b"AT\r")
        assert modem.wait_until(lambda: port.in_waiting == 9, 3)
        port.reset_input_buffer()
        assert port.in_waiting == 0
        assert port.cts and port.dsr and not port.ri and not port.cd
    finally:
        port.close()


def test_read_times_out_with_what_it_has(make_modem: Callable[..., EmulatedModem]) -> None:
    port = serial.serial_for_url(make_modem().url, timeout=0.2)
    try:
        started = time.monotonic()
        assert port.read(10) == b""
        assert time.monotonic() - started >= 0.2
        port.timeout = 0
        assert port.read(1) == b""
    finally:
        port.close()


def test_one_open_handle(make_modem: Callable[..., EmulatedModem]) -> None:
    modem = make_modem()
    first = serial.serial_for_url(modem.url)
    with pytest.raises(serial.SerialException, match="already open"):
        serial.serial_for_url(modem.url)
    first.close()
    second = serial.serial_for_url(modem.url)   # free again after close
    second.close()


@pytest.mark.parametrize("url", ["emu://nobody-has-this-name", "emu://"])
def test_unknown_modem(url: str) -> None:
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url)


def test_closed_port_refuses_io(make_modem: Callable[..., EmulatedModem]) -> None:
    port = serial.serial_for_url(make_modem().url)
    port.close()
    with pytest.raises(serial.SerialException):
        port.write(b"AT\r")
    with pytest.raises(serial.SerialException):
        port.read(1)


def test_closed_modem_cannot_be_opened(make_modem: Callable[..., EmulatedModem]) -> None:
    modem = make_modem()
    url = modem.url
    modem.close()
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url)
