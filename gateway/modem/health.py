"""The modem's state as values: what ``Modem.health()`` returns and what events say.

Polled values (signal, registration, operator, SIM) live here in memory only; an event is
raised when one of them *changes*, so the database sees a handful of rows, not every poll.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any


class ModemState(Enum):
    STOPPED = "stopped"
    STARTING = "starting"            # probing, pulsing PWRKEY, waiting for boot banners
    INITIALISING = "initialising"    # echo, PIN, PDU mode, CNMI, storage...
    REGISTERING = "registering"      # waiting for the network
    READY = "ready"
    NO_SIM = "no-sim"                # SIM absent / failed / needs PUK or a PIN we lack
    NO_NETWORK = "no-network"        # lost registration after being ready
    RECOVERING = "recovering"        # running the recovery ladder
    POWERED_DOWN = "powered-down"    # under-voltage power-down: backing off
    FAILED = "failed"                # the ladder ran out (no PWRKEY): needs a human


class SimState(Enum):
    UNKNOWN = "unknown"
    READY = "ready"
    PIN_REQUIRED = "pin"
    PUK_REQUIRED = "puk"
    NOT_READY = "not-ready"
    ABSENT = "absent"


class Registration(Enum):
    UNKNOWN = "unknown"
    NOT_REGISTERED = "not-registered"
    HOME = "home"
    ROAMING = "roaming"
    SEARCHING = "searching"
    DENIED = "denied"

    @property
    def registered(self) -> bool:
        return self in (Registration.HOME, Registration.ROAMING)


class EventKind(Enum):
    BOOTED = "booted"                    # init finished, modem ready (first time or again)
    STATE = "state"                      # ModemState changed
    REBOOTED = "rebooted"                # a boot banner arrived mid-session
    POWERED_ON = "powered-on"            # we pulsed PWRKEY to switch it on
    POWERED_OFF = "powered-off"
    SIM = "sim"                          # SIM state changed (removed, inserted, PIN...)
    REGISTRATION = "registration"        # registration changed
    SIGNAL = "signal"                    # signal moved by >= 5 rssi steps or was lost/regained
    OPERATOR = "operator"
    UNDER_VOLTAGE = "under-voltage"      # warning or power-down URC
    RECOVERY = "recovery"                # a ladder step was taken
    IN_DOUBT = "in-doubt"                # a send may or may not have gone out
    NOT_SENT = "not-sent"                # a restart inside AT+CMGS proved the SMS was not sent
    ERROR = "error"                      # listener failed, storage full, port failed...


@dataclass(frozen=True)
class ModemEvent:
    kind: EventKind
    detail: str
    time: datetime


@dataclass(frozen=True)
class Counters:
    sent: int = 0
    send_errors: int = 0
    in_doubt: int = 0
    not_sent: int = 0     # AT+CMGS dialogs a restart ended before the modem took Ctrl-Z
    received: int = 0
    status_reports: int = 0
    timeouts: int = 0
    reboots: int = 0
    recoveries: int = 0


@dataclass(frozen=True)
class ModemHealth:
    state: ModemState = ModemState.STOPPED
    model: str = ""
    revision: str = ""
    imei: str = ""
    imsi: str = ""
    iccid: str = ""
    rssi: int | None = None
    dbm: int | None = None
    ber: int | None = None
    registration: Registration = Registration.UNKNOWN
    operator: str | None = None
    network_mode: str | None = None  # SIM7600 AT+CPSI?: "LTE", "GSM", "NO SERVICE"...
    sim: SimState = SimState.UNKNOWN
    last_error: str | None = None
    last_seen: datetime | None = None
    counters: Counters = field(default_factory=Counters)

    @property
    def ok(self) -> bool:
        """Green: ready to send."""
        return self.state is ModemState.READY


class HealthTracker:
    """Thread-safe holder of the current ``ModemHealth``; ``update`` says what changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health = ModemHealth()

    def get(self) -> ModemHealth:
        with self._lock:
            return self._health

    def update(self, **changes: Any) -> list[tuple[EventKind, str]]:
        """Apply ``changes``; return the (kind, detail) of every change worth an event."""
        with self._lock:
            old = self._health
            new = replace(old, **changes)
            self._health = new
        return _changes(old, new)

    def count(self, **increments: int) -> None:
        with self._lock:
            counters = self._health.counters
            bumped = {name: getattr(counters, name) + n for name, n in increments.items()}
            self._health = replace(self._health, counters=replace(counters, **bumped))


def _changes(old: ModemHealth, new: ModemHealth) -> list[tuple[EventKind, str]]:
    out: list[tuple[EventKind, str]] = []
    if old.state is not new.state:
        out.append((EventKind.STATE, f"{old.state.value} -> {new.state.value}"))
    if old.sim is not new.sim:
        out.append((EventKind.SIM, f"SIM {old.sim.value} -> {new.sim.value}"))
    if old.registration is not new.registration:
        out.append((EventKind.REGISTRATION,
                    f"registration {old.registration.value} -> {new.registration.value}"))
    if old.operator != new.operator and new.operator is not None:
        out.append((EventKind.OPERATOR, f"operator {new.operator}"))
    if (old.rssi is None) != (new.rssi is None) or (
            old.rssi is not None and new.rssi is not None and abs(old.rssi - new.rssi) >= 5):
        out.append((EventKind.SIGNAL, f"signal rssi {new.rssi} ({new.dbm} dBm)"))
    return out
