"""PWRKEY through gpiozero: the gateway's OutputDevice on a MockFactory pin toggles the modem."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from gpiozero import OutputDevice
from gpiozero.pins.mock import MockFactory

from gateway.clock import ManualClock
from gateway.emulator import EmulatedModem, PwrkeyPin, Timing


@pytest.mark.parametrize("active_high", [True, False])
def test_output_device_pulse_toggles_power(make_modem: Callable[..., EmulatedModem],
                                           active_high: bool) -> None:
    clock = ManualClock()
    modem = make_modem(powered=False, clock=clock, timing=Timing.fast().replace(pwrkey_min=1.0))
    factory = MockFactory()
    try:
        factory.pin(6, pin_class=PwrkeyPin, modem=modem, active_high=active_high)
        key = OutputDevice(6, active_high=active_high, initial_value=False, pin_factory=factory)
        key.on()
        clock.advance(0.2)
        key.off()
        assert modem.power_state == "off"          # too short to count
        key.on()
        clock.advance(2.0)
        key.off()
        assert modem.power_state == "ready"
        key.on()
        clock.advance(3.0)
        key.off()
        assert modem.power_state == "off"
        key.close()
    finally:
        factory.close()
