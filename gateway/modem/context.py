"""What every part of the modem is handed instead of a back-reference to the ``Modem``.

``ModemContext`` is the configuration of one modem (frozen: nobody writes it after start);
``HealthSink`` is where state changes go (the health value, the listener's events, the waiters
of ``wait_ready``).  The supervisor gets both; the facade keeps the same two.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from gateway.clock import Clock
from gateway.modem.health import (EventKind, HealthTracker, ModemEvent, ModemHealth,
                                  ModemState)
from gateway.modem.power import PowerSwitch
from gateway.modem.profiles import ModemProfile

if TYPE_CHECKING:
    from gateway.modem.driver import ModemListener, ModemSettings

log = logging.getLogger(__name__)

SerialFactory = Callable[..., Any]


@dataclass(frozen=True)
class ModemContext:
    port_url: str
    profile: ModemProfile
    settings: ModemSettings
    power: PowerSwitch | None
    clock: Clock
    serial_factory: SerialFactory


class HealthSink:
    """The one writer of a modem's ``ModemHealth``; every change worth it becomes an event.

    Contract: ``emit`` never raises (a failing event sink is logged); ``set_state`` wakes
    ``wait_ready``; ``update`` and ``count`` are atomic; the listener's calls never overlap
    (``listener_lock`` is shared with the hand-over of PDUs).
    """

    def __init__(self, name: str, listener: ModemListener, clock: Clock) -> None:
        self._name = name
        self._listener = listener
        self._clock = clock
        self._tracker = HealthTracker()
        self._ready = threading.Condition()
        self.listener_lock = threading.Lock()

    def get(self) -> ModemHealth:
        return self._tracker.get()

    def set_state(self, state: ModemState, **changes: Any) -> None:
        for kind, detail in self._tracker.update(state=state, **changes):
            self.emit(kind, detail)
        with self._ready:
            self._ready.notify_all()

    def update(self, **changes: Any) -> None:
        for kind, detail in self._tracker.update(**changes):
            self.emit(kind, detail)

    def count(self, **increments: int) -> None:
        self._tracker.count(**increments)

    def emit(self, kind: EventKind, detail: str) -> None:
        log.info("modem %s: %s %s", self._name, kind.value, detail)
        event = ModemEvent(kind, detail, self._clock.now())
        with self.listener_lock:
            try:
                self._listener.on_event(event)
            except Exception:  # noqa: BLE001 - an event sink failing must not stop the modem
                log.exception("listener.on_event failed for %s", event)

    def wait_ready(self, timeout: float) -> bool:
        with self._ready:
            return self._ready.wait_for(
                lambda: self._tracker.get().state is ModemState.READY, timeout)
