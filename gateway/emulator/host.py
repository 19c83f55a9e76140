"""The standalone emulator bundle: modem(s) on a pseudo-terminal plus the control socket.

``simgate emulator`` and the demo (``make run``) use this: the main modem's UART is a pty that
any program can open (the gateway, Gammu, smstools), a few peer modems share its virtual network
so there is someone to text, and ``<state_dir>/emulator.sock`` takes inject/status/fault
requests. One bridge thread copies pty input to the modem; modem output is written straight to
the pty (non-blocking: with nobody reading, a full pty drops bytes like an unread UART).
"""
from __future__ import annotations

import logging
import os
import select
import threading
import tty
from pathlib import Path
from typing import Any

from gateway.clock import Clock
from gateway.emulator.control import ControlServer, handle_request, socket_path
from gateway.emulator.modem import EmulatedModem
from gateway.emulator.network import VirtualNetwork
from gateway.emulator.timing import Timing

log = logging.getLogger(__name__)

TTY_LINK = "emulator.tty"


def peer_number(msisdn: str, i: int) -> str:
    """The i-th neighbour number: +447700900001 -> +447700900002, ..."""
    prefix = "+" if msisdn.startswith("+") else ""
    digits = msisdn.lstrip("+")
    return prefix + str(int(digits) + i).rjust(len(digits), "0")


class EmulatorHost:
    def __init__(self, state_dir: Path, profile: str = "sim800", msisdn: str = "+447700900001",
                 timing: Timing | None = None, peers: int = 1, *, clock: Clock | None = None,
                 name: str = "m1") -> None:
        self.state_dir = Path(state_dir)
        self.network = VirtualNetwork(clock=clock)
        self.modem = EmulatedModem(profile, msisdn, self.network, timing or Timing.demo(),
                                   name=name, powered=False)
        self.peers = [EmulatedModem(profile, peer_number(msisdn, i + 1), self.network,
                                    timing or Timing.demo(), name=f"{name}-peer{i + 1}",
                                    store_inbound=False)
                      for i in range(peers)]
        self.pty_path: str | None = None
        self._fds: tuple[int, int] | None = None
        self._wake: tuple[int, int] | None = None
        self._detach = None
        self._thread: threading.Thread | None = None
        self._control = ControlServer(socket_path(self.state_dir), self._handle)

    def start(self) -> str:
        """Open the pty, start the control socket, power the modem on; returns the pty path."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._control.start()
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._fds = (master, slave)
        self._wake = os.pipe()
        self.pty_path = os.ttyname(slave)
        link = self.state_dir / TTY_LINK
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(self.pty_path)
        self._detach = self.modem.attach(self._to_host)
        self._thread = threading.Thread(target=self._bridge, name="emu-pty", daemon=True)
        self._thread.start()
        with self.modem.lock:
            self.modem.power_on()
        log.info("emulated %s %s on %s", self.modem.profile.name, self.modem.msisdn,
                 self.pty_path)
        return self.pty_path

    def stop(self) -> None:
        self._control.stop()
        if self._wake is not None:
            os.write(self._wake[1], b"x")
        if self._thread is not None:
            self._thread.join(2.0)
        if self._detach is not None:
            self._detach()
        for modem in [self.modem, *self.peers]:
            modem.close()
        self.network.close()
        for fd in (*(self._fds or ()), *(self._wake or ())):
            os.close(fd)
        self._fds = self._wake = None
        link = self.state_dir / TTY_LINK
        if link.is_symlink():
            link.unlink()

    def _to_host(self, data: bytes) -> None:
        if self._fds is None:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fds[0], view)
            except BlockingIOError:
                log.debug("pty full: %d bytes dropped", len(view))
                return
            view = view[written:]

    def _bridge(self) -> None:
        assert self._fds is not None and self._wake is not None
        master, wake = self._fds[0], self._wake[0]
        while True:
            ready, _, _ = select.select([master, wake], [], [])
            if wake in ready:
                return
            try:
                data = os.read(master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                return
            self.modem.feed(data)

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        return handle_request(self.network, self.modem, request)

    @property
    def control_path(self) -> Path:
        return socket_path(self.state_dir)
