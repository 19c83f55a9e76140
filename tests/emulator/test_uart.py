"""The UART side: echo, V0/V1/Q1 framing, backspace, A/, latency, queued input, baud rate."""
from __future__ import annotations

import itertools
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, Timing, VirtualNetwork

from .conftest import Term


def test_echo_and_result_framing(make_modem: Callable[..., EmulatedModem],
                                 make_term: Callable[..., Term]) -> None:
    term = make_term(make_modem(), sync=False)
    assert term.at("AT") == b"AT\r\r\nOK\r\n"          # echo on by default (HARDWARE.md 3.1)
    assert term.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert term.at("AT") == b"\r\nOK\r\n"


def test_numeric_and_quiet_results(sim800: Term) -> None:
    sim800.write("ATV0\r")
    assert sim800.read_until(b"0\r") == b"0\r"
    sim800.write("AT+CSQ\r")
    assert sim800.read_until(b"\r\n0\r") == b"+CSQ: 20,0\r\n0\r"
    sim800.write("AT+NOPE\r")
    assert sim800.read_until(b"4\r") == b"4\r"
    sim800.write("ATV1Q1\r")
    assert sim800.quiet() == b""
    sim800.write("AT+CSQ\r")
    assert sim800.read_until(b"20,0\r\n") == b"\r\n+CSQ: 20,0\r\n"
    assert sim800.quiet() == b""


def test_backspace_lowercase_and_repeat(sim800: Term) -> None:
    assert sim800.at("at+csqx\x08") == b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n"
    sim800.write("A/")
    assert sim800.read_until(b"OK\r\n") == b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n"


def test_lines_without_at_prefix_are_ignored(sim800: Term) -> None:
    sim800.write("hello\r\r\n")
    assert sim800.quiet() == b""
    assert sim800.at("AT") == b"\r\nOK\r\n"


def test_command_latency(make_modem: Callable[..., EmulatedModem],
                         make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(clock=clock, timing=Timing.fast().replace(command_latency=0.5))
    term = make_term(modem, sync=False)
    term.write("AT\r")
    term.read_until(b"AT\r")
    clock.advance(0.4)
    assert term.quiet() == b""
    clock.advance(0.1)
    assert term.read_until(b"OK\r\n") == b"\r\nOK\r\n"


def test_input_during_a_command_is_queued(make_modem: Callable[..., EmulatedModem],
                                          make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(clock=clock, timing=Timing.fast().replace(command_latency=1.0))
    term = make_term(modem, sync=False)
    term.write("AT+CSQ\rAT+CREG?\r")
    term.read_until(b"AT+CSQ\r")
    clock.advance(1.0)
    term.read_until(b"OK\r\n")
    term.read_until(b"AT+CREG?\r")
    clock.advance(1.0)
    assert term.read_until(b"OK\r\n") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"


def test_baud_throttling_models_a_uart(make_modem: Callable[..., EmulatedModem],
                                       make_term: Callable[..., Term]) -> None:
    clock = ManualClock()
    modem = make_modem(clock=clock, timing=Timing.fast().replace(baud=9600))
    term = make_term(modem, sync=False)
    term.write("AT+CSQ\r")            # 7 echo bytes + 20 answer bytes at 960 bytes/s
    assert modem.wait_until(lambda: modem.lines_received == 1, 3)
    assert term.quiet(0.1) == b""
    clock.advance(7.5 / 960)
    assert term.read_until(b"AT+CSQ\r") == b"AT+CSQ\r"
    clock.advance(19 / 960)
    assert term.quiet(0.1) == b""
    clock.advance(1 / 960)
    assert term.read_until(b"OK\r\n") == b"\r\n+CSQ: 20,0\r\n\r\nOK\r\n"


_fuzz_names = itertools.count()


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=60) | st.text(alphabet="AaTt+CMGSLRENVZ&=?;,\"01249\r\n\x08\x1a\x1b ",
                                         max_size=60).map(str.encode))
def test_any_input_leaves_a_working_modem(noise: bytes) -> None:
    """Garbage, half commands, prompts and control bytes: the modem still answers afterwards.
    (The alphabet cannot spell a power-off or AT+CFUN, which would be answers, not failures.)"""
    network = VirtualNetwork()
    modem = EmulatedModem("sim800", "+447700900001", network, Timing.fast(),
                          name=f"fuzz{next(_fuzz_names)}")
    term = Term(modem)
    try:
        term.write(b"AT\r" + noise)
        term.write(b"\x1b\r\x1b\rAT&F\rAT&F\r")     # the first may run with echo off
        assert term.read_until(b"AT&F\r\r\nOK\r\n", timeout=5).endswith(b"OK\r\n")
    finally:
        term.close()
        modem.close()
        network.close()
