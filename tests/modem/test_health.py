"""HealthTracker: values in memory, an event only when something worth recording changed."""
from __future__ import annotations

import threading

from gateway.modem.health import (EventKind, HealthTracker, ModemState, Registration, SimState)


def kinds(changes):
    return [kind for kind, _ in changes]


def test_changes_become_events_and_repeats_do_not():
    tracker = HealthTracker()
    assert kinds(tracker.update(state=ModemState.READY, sim=SimState.READY,
                                registration=Registration.HOME, operator="X", rssi=20)) == [
        EventKind.STATE, EventKind.SIM, EventKind.REGISTRATION, EventKind.OPERATOR,
        EventKind.SIGNAL]
    assert tracker.update(state=ModemState.READY, sim=SimState.READY,
                          registration=Registration.HOME, operator="X", rssi=20) == []


def test_signal_events_only_on_large_moves_or_loss():
    tracker = HealthTracker()
    tracker.update(rssi=20, dbm=-73)
    assert tracker.update(rssi=22, dbm=-69) == []           # polled every 30 s: no row each time
    assert kinds(tracker.update(rssi=12, dbm=-89)) == [EventKind.SIGNAL]
    assert kinds(tracker.update(rssi=None, dbm=None)) == [EventKind.SIGNAL]
    assert kinds(tracker.update(rssi=10, dbm=-93)) == [EventKind.SIGNAL]


def test_registration_properties_and_ok():
    assert Registration.HOME.registered and Registration.ROAMING.registered
    assert not Registration.SEARCHING.registered and not Registration.DENIED.registered
    tracker = HealthTracker()
    assert not tracker.get().ok
    tracker.update(state=ModemState.READY)
    assert tracker.get().ok


def test_counters_are_thread_safe():
    tracker = HealthTracker()

    def bump():
        for _ in range(500):
            tracker.count(sent=1, received=2)

    workers = [threading.Thread(target=bump) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    counters = tracker.get().counters
    assert (counters.sent, counters.received) == (2000, 4000)
