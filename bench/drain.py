"""(b) messages/s drained through the emulated modem with zero latency.

Everything real but the radio: the store, the service, the dispatcher, the AT driver talking
PDU mode to the emulator (in-process `emu://` transport, fast timing). The number is our own
overhead per SMS: the radio (~8-15 SMS/min on 2G) is far slower, so this says how little of a
Pi's CPU the gateway spends per message.
"""
from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import serial

from gateway.config import Config, SendingConfig
from gateway.dispatch import Dispatcher
from gateway.emulator import EmulatedModem, Timing, VirtualNetwork
from gateway.events import StoreListener
from gateway.inbound import InboundHandler
from gateway.modem.driver import Modem
from gateway.modem.profiles import load_profile
from gateway.reports import ReportMatcher
from gateway.service import Destination, Gateway, SubmitRequest
from gateway.store import Store


def run(count: int = 2000, status_reports: bool = True) -> dict[str, float]:
    if "gateway.emulator" not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append("gateway.emulator")
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(state_dir=tmp, sending=replace(SendingConfig(), status_report=status_reports))
        store = Store(Path(tmp) / "bench.db")
        net = VirtualNetwork()
        emu = EmulatedModem(profile="sim800", msisdn="+447700900001", network=net, timing=Timing.fast(), name="bench-drain")
        listener = StoreListener(store, InboundHandler(store, config.inbound), ReportMatcher(store))
        modem = Modem(emu.url, load_profile("waveshare-sim800"), listener)
        modem.start()
        if not modem.wait_ready(30):
            raise RuntimeError("emulated modem did not become ready")
        gateway = Gateway(store, config)
        account, _ = gateway.create_account("bench", "bench-password")
        for i in range(0, count, 100):
            gateway.submit(account, SubmitRequest(destinations=tuple(Destination(f"4179{j:07d}") for j in range(i, min(count, i + 100))), text="Bench SMS."))
        dispatcher = Dispatcher(store, modem, config.sending)
        done = threading.Event()
        t0 = time.perf_counter()
        dispatcher.start()
        try:
            while store.queued_parts() and time.perf_counter() - t0 < 300:
                done.wait(0.05)
            elapsed = time.perf_counter() - t0
            sent = dispatcher.stats.sent
        finally:
            dispatcher.stop()
            modem.stop()
            emu.close()
            store.close()
    return {"drain_sent": float(sent), "drain_per_s": sent / elapsed}
