"""One named thread per emulated modem (and one for the network) that runs timed work in order.

Every delay of the emulator (latencies, boot banners, status reports) is a task on a scheduler
reading the injected clock, so tests with ``ManualClock`` move time instead of sleeping, and
zero-delay work keeps the order in which it was scheduled.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable

from gateway.clock import Clock

log = logging.getLogger(__name__)

_IDLE_WAIT = 3600.0


class Scheduler:
    def __init__(self, clock: Clock, name: str) -> None:
        self._clock = clock
        self._name = name
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the scheduler thread ``delay`` clock seconds from now (FIFO on ties)."""
        due = self._clock.monotonic() + max(0.0, delay)
        with self._lock:
            heapq.heappush(self._heap, (due, next(self._seq), fn))
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._wake.set()

    def call_soon(self, fn: Callable[[], None]) -> None:
        self.call_later(0.0, fn)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            now = self._clock.monotonic()
            with self._lock:
                due = self._heap[0][0] if self._heap else None
                task = heapq.heappop(self._heap)[2] if due is not None and due <= now else None
            if task is not None:
                try:
                    task()
                except Exception:  # a broken task must not kill the modem's only thread
                    log.exception("%s: task failed", self._name)
                continue
            self._clock.wait(self._wake, _IDLE_WAIT if due is None else due - now)
