"""The scheduler runs work in time order on the injected clock, FIFO on ties."""
from __future__ import annotations

import threading

from gateway.clock import ManualClock, SystemClock
from gateway.emulator.scheduler import Scheduler


def test_order_and_manual_time() -> None:
    clock = ManualClock()
    scheduler = Scheduler(clock, "test-sched")
    ran: list[str] = []
    done = threading.Event()
    try:
        scheduler.call_later(2.0, lambda: ran.append("late"))
        scheduler.call_later(1.0, lambda: ran.append("early"))
        for name in ("a", "b", "c"):
            scheduler.call_soon(lambda n=name: ran.append(n))
        scheduler.call_soon(done.set)
        assert done.wait(3)
        assert ran == ["a", "b", "c"]
        done.clear()
        clock.advance(1.0)
        scheduler.call_soon(done.set)
        assert done.wait(3) and ran == ["a", "b", "c", "early"]
        done.clear()
        clock.advance(1.0)
        scheduler.call_later(0.0, done.set)
        assert done.wait(3) and ran[-1] == "late"
    finally:
        scheduler.stop()


def test_a_failing_task_does_not_stop_the_thread() -> None:
    scheduler = Scheduler(SystemClock(), "test-sched")
    done = threading.Event()
    try:
        scheduler.call_soon(lambda: 1 / 0)
        scheduler.call_soon(done.set)
        assert done.wait(3)
    finally:
        scheduler.stop()


def test_stop_without_start_and_twice() -> None:
    scheduler = Scheduler(SystemClock(), "test-sched")
    scheduler.stop()
    scheduler.stop()
    scheduler.call_soon(lambda: None)   # after stop: ignored, no thread started
