"""GpioPowerKey on gpiozero's MockFactory: polarity, pulse length, release on close."""
from __future__ import annotations

import threading

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from gateway.clock import ManualClock
from gateway.modem.power import GpioPowerKey


@pytest.fixture
def factory():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        Device.pin_factory.reset()
        Device.pin_factory = previous


@pytest.mark.parametrize("active_high, idle, pressed", [(True, False, True), (False, True, False)])
def test_pulse_drives_the_pin_with_the_profile_polarity(factory, active_high, idle, pressed):
    key = GpioPowerKey(6, active_high=active_high, pin_factory=factory)
    pin = factory.pin(6)
    assert pin.state is idle
    key.pulse(0.01)
    states = [s.state for s in pin.states]
    assert states[-2:] == [pressed, idle]
    assert pin.state is idle
    key.close()


def test_pulse_length_follows_the_clock(factory):
    clock = ManualClock()
    key = GpioPowerKey(4, pin_factory=factory, clock=clock)
    pin = factory.pin(4)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (key.pulse(2.0), done.set()))
    worker.start()
    assert not done.wait(0.05)
    assert pin.state is True
    clock.advance(1.0)
    assert not done.wait(0.05)
    clock.advance(1.0)
    assert done.wait(2.0)
    assert pin.state is False
    worker.join(2)
    key.close()


def test_close_cuts_a_pulse_short_and_releases(factory):
    key = GpioPowerKey(4, pin_factory=factory, clock=ManualClock())
    pin = factory.pin(4)
    worker = threading.Thread(target=key.pulse, args=(60.0,))
    worker.start()
    assert _wait_until(lambda: pin.state is True)
    key.close()
    worker.join(2)
    assert not worker.is_alive()
    assert [s.state for s in pin.states][-1] is False
    key.pulse(1.0)  # after close: a no-op, never raises


def _wait_until(predicate, timeout: float = 2.0) -> bool:
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        event.wait(0.01)
    return False
