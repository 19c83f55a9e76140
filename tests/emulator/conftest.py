"""Fixtures for the emulator tests: modems on a private network and a terminal to type AT into."""
from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import serial

from gateway.emulator import EmulatedModem, Timing, VirtualNetwork

_names = itertools.count(1)
FINAL = re.compile(rb"(\r\n(OK|ERROR|NO CARRIER|\+CM[ES] ERROR: [^\r]*)\r\n|\r\n> )")


@pytest.fixture(autouse=True, scope="session")
def _emu_handler() -> Iterator[None]:
    added = "gateway.emulator" not in serial.protocol_handler_packages
    if added:
        serial.protocol_handler_packages.append("gateway.emulator")
    yield
    if added:
        serial.protocol_handler_packages.remove("gateway.emulator")


class Term:
    """A host on the modem's UART: writes commands, reads with deadlines, never sleeps."""

    def __init__(self, modem: EmulatedModem) -> None:
        self.modem = modem
        self.port = serial.serial_for_url(modem.url, timeout=0.05)
        self._pending = b""

    def write(self, data: str | bytes) -> None:
        self.port.write(data.encode("latin-1") if isinstance(data, str) else data)

    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float = 3.0) -> bytes:
        """Bytes up to and including the first match of ``pattern``; AssertionError on timeout."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))
        deadline = time.monotonic() + timeout
        buf, self._pending = self._pending, b""
        while True:
            if match := regex.search(buf):
                self._pending = buf[match.end():]   # kept for the next read
                return buf[:match.end()]
            if time.monotonic() > deadline:
                break
            buf += self.port.read(1)
            buf += self.port.read(self.port.in_waiting)
        raise AssertionError(f"timed out waiting for {regex.pattern!r}; got {buf!r}")

    def at(self, line: str, timeout: float = 3.0) -> bytes:
        """Send ``line`` + CR and return everything up to its final result code or prompt."""
        self.write(line + "\r")
        return self.read_until(FINAL, timeout)

    def text(self, line: str) -> str:
        return self.at(line).decode("latin-1")

    def quiet(self, timeout: float = 0.15) -> bytes:
        """What arrives within ``timeout`` (to assert that nothing does)."""
        deadline = time.monotonic() + timeout
        buf, self._pending = self._pending, b""
        while time.monotonic() < deadline:
            buf += self.port.read(1)
        return buf

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def net() -> Iterator[VirtualNetwork]:
    network = VirtualNetwork()
    yield network
    network.close()


@pytest.fixture
def make_modem(net: VirtualNetwork) -> Iterator[Callable[..., EmulatedModem]]:
    made: list[EmulatedModem] = []
    networks: dict[int, VirtualNetwork] = {}

    def make(profile: str = "sim800", msisdn: str | None = None, **kwargs: Any) -> EmulatedModem:
        n = next(_names)
        kwargs.setdefault("timing", Timing.fast())
        clock = kwargs.get("clock")
        if clock is not None and "network" not in kwargs:   # one network per manual clock
            kwargs["network"] = networks.setdefault(id(clock), VirtualNetwork(clock=clock))
        kwargs.setdefault("network", net)
        modem = EmulatedModem(profile, msisdn or f"+4477009{n:05d}", name=f"t{n}", **kwargs)
        made.append(modem)
        return modem
    yield make
    for modem in made:
        modem.close()
    for network in networks.values():
        network.close()


@pytest.fixture
def make_term() -> Iterator[Callable[[EmulatedModem], Term]]:
    terms: list[Term] = []

    def make(modem: EmulatedModem, *, sync: bool = True, echo: bool = False) -> Term:
        term = Term(modem)
        terms.append(term)
        if sync:
            term.at("AT")
            if not echo:
                term.at("ATE0")
        return term
    yield make
    for term in terms:
        term.close()


@pytest.fixture
def sim800(make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term]) -> Term:
    return make_term(make_modem("sim800"))


@pytest.fixture
def sim7600(make_modem: Callable[..., EmulatedModem], make_term: Callable[..., Term]) -> Term:
    return make_term(make_modem("sim7600"))
