"""(b) messages/s drained through the emulated modem with zero latency.

Everything real but the radio: the store, the service, the dispatcher, the AT driver talking
PDU mode to the emulator (in-process `emu://` transport, fast timing). The number is our own
overhead per SMS: the radio (~8-15 SMS/min on 2G) is far slower, so this says how little of a
Pi's CPU the gateway spends per message.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import replace

from gateway.config import Config, ModemConfig, SendingConfig
from gateway.emulator import EmulatedModem, Timing, VirtualNetwork
from gateway.modem.profiles import load_profile
from gateway.runtime import assemble, emulator_pins
from gateway.service import Destination, SubmitRequest


def run(count: int = 2000, status_reports: bool = True) -> dict[str, float]:
    """The runtime ``simgate run`` assembles, on an in-process emulator with its PWRKEY wired."""
    with tempfile.TemporaryDirectory() as tmp:
        net = VirtualNetwork()
        emu = EmulatedModem(profile="sim800", msisdn="+447700900001", network=net, timing=Timing.fast(), name="bench-drain")
        config = Config(state_dir=tmp, modem=ModemConfig(port=emu.url),
                        sending=replace(SendingConfig(), status_report=status_reports))
        runtime = assemble(config, pin_factory=emulator_pins(emu, load_profile(config.modem.profile)))
        try:
            gateway = runtime.gateway
            account, _ = gateway.create_account("bench", "bench-password")
            for i in range(0, count, 100):
                gateway.submit(account, SubmitRequest(destinations=tuple(Destination(f"4179{j:07d}") for j in range(i, min(count, i + 100))), text="Bench SMS."))
            runtime.modem.start()  # the modem first: the drain is timed from a ready modem
            if not runtime.modem.wait_ready(30):
                raise RuntimeError("emulated modem did not become ready")
            t0 = time.perf_counter()
            runtime.start()  # modem already running: starts the dispatcher and housekeeping
            while runtime.store.queued_parts() and time.perf_counter() - t0 < 300:
                time.sleep(0.05)  # a benchmark's polling interval, not test synchronisation
            elapsed = time.perf_counter() - t0
            sent = runtime.dispatcher.stats.sent
        finally:
            runtime.stop()
            emu.close()
    return {"drain_sent": float(sent), "drain_per_s": sent / elapsed}
