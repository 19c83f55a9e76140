"""How fast the emulated modem answers: one value per modelled delay.

Tests want zero latency (``Timing.fast()``), the demo wants "a status report within about a
second" (``Timing.demo()``), and benchmarks against other gateways want figures close to a real
SIM800 on 2G (``Timing.real()``, HARDWARE.md section 5). Keeping every delay in one frozen value
means a test states exactly the timing it depends on.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    command_latency: float = 0.0
    """Seconds between the CR of a command line and its answer."""
    prompt_delay: float = 0.0
    """Seconds between ``AT+CMGS=<n>`` / ``AT+CMGW=<n>`` and the ``> `` prompt."""
    cmgs_latency: float = 0.0
    """Seconds between Ctrl-Z and ``+CMGS: <mr>`` (the radio round trip to the SMSC)."""
    cmgs_jitter: float = 0.0
    """Up to this many seconds more, drawn uniformly per send (seeded per modem: repeatable)."""
    cmms_factor: float = 1.0
    """Multiplier on ``cmgs_latency`` for a send within 5 s of the previous one while AT+CMMS>0."""
    network_delay: float = 0.0
    """Seconds from an accepted submit to the SMS-DELIVER arriving at another emulated modem."""
    report_delay: float = 0.0
    """Default seconds from an accepted submit to its status report (see VirtualNetwork.set_outcome)."""
    ussd_delay: float = 0.0
    """Seconds from ``AT+CUSD=1,...`` to the ``+CUSD:`` answer."""
    boot_time: float | None = 0.0
    """Seconds from power-on to the last boot banner; None = the profile's real figure."""
    power_off_delay: float = 0.0
    """Seconds between a power-down command and silence."""
    cnma_timeout: float = 15.0
    """Seconds a +CMT/+CDS waits for AT+CNMA when AT+CSMS=1 before CNMI mt/ds drop to 0."""
    redelivery_delay: float = 1.0
    """Seconds before the network retries an SMS the modem could not take (full, off, not acked)."""
    pwrkey_min: float = 1.0
    """Shortest PWRKEY press that toggles the power state."""
    pwrkey_repower: float = 33.0
    """A SIM800 press longer than this switches the module off and on again."""
    pwrkey_restart_gap: float = 0.0
    """After switching off, a press starting sooner than this is ignored (SIM800: 800 ms)."""
    baud: int | None = None
    """Model a UART at this rate (10 bits per byte) on modem output; None = no throttling."""

    @classmethod
    def fast(cls) -> "Timing":
        """Everything immediate: unit tests. PWRKEY still toggles on any press."""
        return cls(pwrkey_min=0.0)

    @classmethod
    def demo(cls) -> "Timing":
        """Small but visible delays: `make run` shows a status report within about one second."""
        return cls(command_latency=0.0, prompt_delay=0.02, cmgs_latency=0.3, network_delay=0.2,
                   report_delay=0.6, ussd_delay=0.3, boot_time=0.5, power_off_delay=0.1,
                   pwrkey_min=0.1)

    @classmethod
    def real(cls) -> "Timing":
        """Close to the hardware: SIM800 on 2G, 115200 baud UART (HARDWARE.md sections 1 and 5)."""
        return cls(command_latency=0.02, prompt_delay=0.1, cmgs_latency=2.0, cmgs_jitter=6.0,
                   cmms_factor=0.6,
                   network_delay=5.0, report_delay=10.0, ussd_delay=2.5, boot_time=None,
                   power_off_delay=1.5, cnma_timeout=17.0, redelivery_delay=30.0,
                   pwrkey_restart_gap=0.8, baud=115200)

    def replace(self, **changes: Any) -> "Timing":
        return dataclasses.replace(self, **changes)

    @classmethod
    def named(cls, name: str) -> "Timing":
        """``fast`` | ``demo`` | ``real``: the CLI's ``--timing`` choice."""
        factories = {"fast": cls.fast, "demo": cls.demo, "real": cls.real}
        try:
            return factories[name]()
        except KeyError:
            raise ValueError(f"unknown timing {name!r}; choose from {', '.join(factories)}") from None
