"""What the supervisor is asked to do, and what it decides next, as values.

Work arrives from the URC thread and from ``send`` (a queue of ``Work``); serving ends with a
``Trouble`` that names the next step of the main loop.  Enums, not strings: a typo is an
``AttributeError`` at import, not an item silently ignored at 3 a.m.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class WorkKind(Enum):
    READ = "read"                  # +CMTI / +CDSI: (memory, index) to read and hand over
    BOOT = "boot"                  # a boot banner (the Urc)
    POWER_DOWN = "power-down"      # NORMAL / UNDER-VOLTAGE POWER DOWN (the line)
    TIMEOUT = "timeout"            # a send timed out (what happened)
    SIM = "sim"                    # +CPIN: a SimState
    REGISTRATION = "registration"  # +CREG / +CEREG: a Registration
    POLL = "poll"                  # check the modem now (echo back, CNMA failed, CMS hold...)
    PORT = "port"                  # the AT channel's reader died (the error text)
    RESCAN_SOON = "rescan-soon"    # the listener refused a stored PDU: read storage again soon


@dataclass(frozen=True)
class Work:
    kind: WorkKind
    payload: Any
    posted: float                  # clock.monotonic() when posted


class Step(Enum):
    """What the supervisor's main loop does next."""

    BRING_UP = "bring-up"          # probe, switch on if silent, initialise
    POWERED_DOWN = "powered-down"  # back off, then bring up
    RECOVER = "recover"            # the recovery ladder
    RETRY = "retry"                # wait retry_interval_s, then the ladder


@dataclass(frozen=True)
class Trouble:
    step: Step
    why: str


BRING_UP = Trouble(Step.BRING_UP, "start")
