"""Emulated SIM800 / SIM7600 modems on a virtual network, for tests, the demo and benchmarks.

See docs/emulator.md. Importing this package starts nothing and registers nothing global.
"""
from gateway.emulator.host import EmulatorHost
from gateway.emulator.modem import EmulatedModem
from gateway.emulator.network import ReceivedRecord, ReportRecord, SentRecord, VirtualNetwork
from gateway.emulator.pwrkey import PwrkeyPin
from gateway.emulator.timing import Timing

__all__ = ["EmulatedModem", "EmulatorHost", "PwrkeyPin", "ReceivedRecord", "ReportRecord",
           "SentRecord", "Timing", "VirtualNetwork"]
