"""PWRKEY: the modem's power button, pressed through a GPIO pin.

PWRKEY is a *toggle*: the same pulse switches an off modem on and an on modem off.  This module
only knows how to press it for a while; deciding *whether* to press (probe with AT first) is the
driver's job.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from gateway.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


class PowerSwitch(Protocol):
    def pulse(self, seconds: float) -> None:
        """Hold the key pressed for ``seconds``, then release it."""

    def close(self) -> None:
        """Release the pin (leaving the key released)."""


class GpioPowerKey:
    """PWRKEY behind a gpiozero ``OutputDevice``.

    On Waveshare HATs a transistor inverts the signal, so GPIO high means "pressed"
    (``active_high=True``); the idle level is always "released".
    """

    def __init__(self, pin: int, active_high: bool = True, pin_factory: Any = None,
                 clock: Clock | None = None) -> None:
        from gpiozero import OutputDevice  # imported here: importing this module touches no GPIO

        self._device = OutputDevice(pin, active_high=active_high, initial_value=False,
                                    pin_factory=pin_factory)
        self._clock = clock or SYSTEM_CLOCK
        self._pin = pin
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def pulse(self, seconds: float) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            log.info("pressing PWRKEY (BCM%d) for %.1f s", self._pin, seconds)
            self._device.on()
            try:
                # Waiting on the close event lets close() cut a pulse short at shutdown.
                self._clock.wait(self._closed, seconds)
            finally:
                self._device.off()

    def close(self) -> None:
        self._closed.set()
        with self._lock:  # a pulse in progress ends (key released) before the pin goes away
            self._device.close()
