"""Fixtures: an emulated modem on a virtual network, our driver on top, a recording listener."""
from __future__ import annotations

import dataclasses
import itertools
import threading
from typing import Any, Callable

import pytest
import serial
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, PwrkeyPin, Timing, VirtualNetwork
from gateway.modem.driver import Modem, ModemSettings
from gateway.modem.health import EventKind, ModemEvent
from gateway.modem.power import GpioPowerKey
from gateway.modem.profiles import ModemProfile, profile_for_model

_names = itertools.count(1)

# Small time-outs so a fault costs a fraction of a second; the emulator answers at once.
FAST = ModemSettings(command_timeout_s=0.5, send_timeout_s=1.0, prompt_timeout_s=0.5,
                     probe_attempts=2, probe_timeout_s=0.2, registration_timeout_s=2.0,
                     registration_poll_s=0.05, sms_ready_poll_s=0.05, health_interval_s=0.1,
                     rescan_interval_s=600, under_voltage_backoff_s=0.1, retry_interval_s=0.2,
                     port_retry_interval_s=0.2, handover_retry_s=0.2)


class Recorder:
    """A ModemListener that remembers everything and lets tests wait for it."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.reports: list[str] = []
        self.events: list[ModemEvent] = []
        self.fail_deliver = False
        self.fail_reports = False
        self._cond = threading.Condition()

    def on_deliver(self, pdu: str) -> None:
        with self._cond:
            if self.fail_deliver:
                raise RuntimeError("database is locked")
            self.delivered.append(pdu)
            self._cond.notify_all()

    def on_status_report(self, pdu: str) -> None:
        with self._cond:
            if self.fail_reports:
                raise RuntimeError("database is locked")
            self.reports.append(pdu)
            self._cond.notify_all()

    def on_event(self, event: ModemEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait(self, predicate: Callable[["Recorder"], bool], timeout: float = 5.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self), timeout), \
                [f"{e.kind.value}: {e.detail}" for e in self.events]

    def details(self, kind: EventKind) -> list[str]:
        with self._cond:
            return [e.detail for e in self.events if e.kind is kind]


class FakePower:
    """A PowerSwitch that records its presses instead of driving a pin."""

    def __init__(self) -> None:
        self.pulses: list[float] = []

    def pulse(self, seconds: float) -> None:
        self.pulses.append(seconds)

    def close(self) -> None:
        pass


def drive(clock: ManualClock, predicate: Callable[[], bool], *, step: float = 0.1,
          limit: int = 5000) -> float:
    """Move ``clock`` on in ``step``s until ``predicate`` holds; the clock seconds it took.

    Between steps the driver's threads get a moment of real time to react (a wait on an event
    nobody sets); correctness rests on the predicate, never on that pause.
    """
    start = clock.monotonic()
    pause = threading.Event()
    for _ in range(limit):
        if predicate():
            return clock.monotonic() - start
        clock.advance(step)
        pause.wait(0.002)
    assert predicate(), f"not reached within {limit * step:g} clock seconds"
    return clock.monotonic() - start


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until it holds or the deadline passes (for state without a signal)."""
    tick = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        tick.wait(0.01)
    return predicate()


@dataclasses.dataclass
class Rig:
    emu: EmulatedModem
    net: VirtualNetwork
    modem: Modem
    listener: Recorder
    factory: MockFactory | None
    profile: ModemProfile

    def at_log(self, caplog: Any) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "gateway.modem.at"]


@pytest.fixture
def gpio():
    previous = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = previous


@pytest.fixture
def make_rig(gpio):
    if "gateway.emulator" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("gateway.emulator")
    made: list[Rig] = []

    def make(model: str = "sim800", *, settings: ModemSettings = FAST, pwrkey: bool = False,
             powered: bool = True, start: bool = True, emu_kwargs: dict | None = None,
             **profile_overrides: Any) -> Rig:
        net = VirtualNetwork()
        emu = EmulatedModem(profile=model, network=net, timing=Timing.fast(),
                            name=f"t{next(_names)}", powered=powered, **(emu_kwargs or {}))
        overrides = {"boot_timeout_s": 1.0, "pulse_on_s": 0.01, "pulse_off_s": 0.01,
                     "off_settle_s": 0.05, **profile_overrides}
        power = None
        factory = None
        if pwrkey:
            overrides["pwrkey_pin"] = 6
            factory = gpio
            factory.pin(6, pin_class=PwrkeyPin, modem=emu, active_high=True)
            power = GpioPowerKey(6, active_high=True, pin_factory=factory)
        profile = profile_for_model(model, **overrides)
        listener = Recorder()
        modem = Modem(emu.url, profile, listener, settings=settings, power=power)
        rig = Rig(emu, net, modem, listener, factory, profile)
        made.append(rig)
        if start:
            modem.start()
        return rig

    yield make
    for rig in made:
        rig.modem.stop()
        if rig.modem.power is not None:
            rig.modem.power.close()
        rig.emu.close()
        rig.net.close()
