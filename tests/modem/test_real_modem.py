"""Opt-in checks against a real modem: SIMGATE_REAL_MODEM=/dev/ttyUSB2 (or /dev/serial0).

SIMGATE_REAL_PROFILE picks the profile (default waveshare-sim800), SIMGATE_REAL_PIN the SIM PIN,
SIMGATE_REAL_USSD a balance code to try.  PWRKEY is never touched here: switch the modem on first.
Nothing is sent by SMS (that would cost money); the test brings the modem up and reads health.
"""
from __future__ import annotations

import os
import threading

import pytest

from gateway.modem.driver import Modem, ModemSettings
from gateway.modem.health import ModemState
from gateway.modem.profiles import load_profile

PORT = os.environ.get("SIMGATE_REAL_MODEM")
pytestmark = pytest.mark.skipif(not PORT,
                                reason="set SIMGATE_REAL_MODEM=<port> to test a real modem")


class _Listener:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[str] = []

    def on_deliver(self, pdu: str) -> None:
        raise RuntimeError("keep stored SMS on the SIM during the hardware test")

    def on_status_report(self, pdu: str) -> None:
        raise RuntimeError("keep stored reports on the SIM during the hardware test")

    def on_event(self, event) -> None:
        with self.lock:
            self.events.append(f"{event.kind.value}: {event.detail}")


def test_real_modem_comes_up_and_reports_health():
    profile = load_profile(os.environ.get("SIMGATE_REAL_PROFILE", "waveshare-sim800"))
    listener = _Listener()
    modem = Modem(PORT or "", profile, listener,
                  settings=ModemSettings(pin=os.environ.get("SIMGATE_REAL_PIN") or None))
    modem.start()
    try:
        ready = modem.wait_ready(profile.boot_timeout_s + 130)
        health = modem.health()
        print(health, *listener.events, sep="\n")
        assert ready, listener.events
        assert health.state is ModemState.READY and health.imei
        code = os.environ.get("SIMGATE_REAL_USSD")
        if code:
            print("USSD:", modem.ussd(code))
    finally:
        modem.stop()
