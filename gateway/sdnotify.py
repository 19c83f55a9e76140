"""systemd's notify protocol in pure Python: READY, STATUS, STOPPING and a guarded watchdog.

Why our own (a dozen lines of socket code) rather than a package: the protocol is one datagram on
``$NOTIFY_SOCKET`` (HARDWARE.md section 7), and the part that matters is *when* we pet the
watchdog: only while every thread that must be alive (the dispatcher, the modem's reader) says so,
so a hung serial read gets the service restarted instead of petted forever.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op, so `simgate run` from a shell and
the tests behave the same.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Callable, Mapping

from gateway.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

# A liveness check: (ok, reason). The reason says which thread stopped, for STATUS= and the log.
Liveness = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class Notifier:
    """Sends state lines to systemd. ``address`` None: not started by systemd, nothing is sent."""

    address: str | None = None
    watchdog_s: float | None = None  # WatchdogSec= of the unit, from WATCHDOG_USEC

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        watchdog: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child must not pet it.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 1e6
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """One datagram with ``lines``; False when not under systemd or the socket is gone."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        payload = "\n".join(lines).encode("utf-8", "replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(target)
                sock.sendall(payload)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *((f"STATUS={status}",) if status else ()))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text[:200]}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")


class WatchdogFeeder:
    """Pets the watchdog at half its period, but only while ``liveness`` says every thread is alive.

    When a check fails the feeder stops petting (systemd then aborts and restarts the unit after
    ``WatchdogSec``) and says why in STATUS= and the log, once per change.
    """

    def __init__(self, notifier: Notifier, liveness: Liveness, *,
                 status: Callable[[], str] = lambda: "", clock: Clock = SYSTEM_CLOCK) -> None:
        self._notifier = notifier
        self._liveness = liveness
        self._status = status
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reason = ""
        self._last_status = ""
        self.pets = 0

    def start(self) -> None:
        if not self._notifier.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def interval(self) -> float:
        """Half the watchdog period (systemd's advice); a STATUS refresh every 5 s without one."""
        period = self._notifier.watchdog_s
        return max(0.05, period / 2) if period else 5.0

    def tick(self) -> bool:
        """One round: refresh STATUS= when it changed, pet when alive. True when petted."""
        ok, reason = self._liveness()
        status = self._status() if ok else f"unhealthy: {reason}"
        if status and status != self._last_status:
            self._notifier.status(status)
            self._last_status = status
        if not ok:
            if reason != self._last_reason:
                log.error("watchdog not fed: %s (systemd restarts simgate)", reason)
                self._last_reason = reason
            return False
        self._last_reason = ""
        if self._notifier.watchdog_s is None:
            return False
        self.pets += 1
        return self._notifier.watchdog()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a failing check must not kill the feeder silently
                log.exception("watchdog liveness check failed")
            self._clock.wait(self._stop, self.interval)
