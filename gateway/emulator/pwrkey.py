"""The PWRKEY input of an emulated modem as a gpiozero mock pin.

The gateway drives PWRKEY with ``gpiozero.OutputDevice``; in tests that device sits on a
``MockFactory`` pin of this class, so the real power code toggles the emulated modem exactly as
the HAT's transistor would (HIGH = pressed on Waveshare HATs, HARDWARE.md 1.1).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpiozero.pins.mock import MockPin

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem


class PwrkeyPin(MockPin):
    def __init__(self, factory: Any, info: Any, modem: "EmulatedModem",
                 active_high: bool = True) -> None:
        super().__init__(factory, info)
        self._modem = modem
        self._active_high = active_high

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed:
            self._modem.pwrkey(bool(value) == self._active_high)
        return changed
