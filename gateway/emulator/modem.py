"""The emulated modem: a byte stream in, a byte stream out, and the state a real SIMCom keeps.

This module owns the public API, the power FSM (OFF -> BOOTING -> READY with the model's
banners, autobaud, PWRKEY), registration and the state the command handlers read and change.
The UART side is ``uart``; the handlers are ``commands_basic``, ``commands_network`` and
``commands_sms``; arrivals are ``arrival``; the world outside the radio is ``network``.
All state changes happen under one lock, all timed work on the modem's one scheduler thread.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.clock import Clock
from gateway.emulator import arrival, commands_basic, commands_network, commands_sms
from gateway.emulator.faults import FaultPlan
from gateway.emulator.profiles import CME_TEXT, Profile, get_profile
from gateway.emulator.result import Prompt, Result
from gateway.emulator.scheduler import Scheduler
from gateway.emulator.state import PowerState, Settings, SimState
from gateway.emulator.storage import MessageStorage
from gateway.emulator.timing import Timing
from gateway.emulator.uart import UartMixin

if TYPE_CHECKING:
    from gateway.emulator.atparse import Command
    from gateway.emulator.network import ReceivedRecord, ReportRecord, SentRecord, VirtualNetwork

log = logging.getLogger(__name__)

_MODEMS: "weakref.WeakValueDictionary[str, EmulatedModem]" = weakref.WeakValueDictionary()


def find_modem(name: str) -> "EmulatedModem | None":
    """The live modem registered under ``name`` (the host part of ``emu://name``)."""
    return _MODEMS.get(name)


class EmulatedModem(UartMixin):
    def __init__(self, profile: str = "sim800", msisdn: str = "+447700900001",
                 network: "VirtualNetwork | None" = None, timing: Timing | None = None,
                 name: str = "m1", powered: bool = True, pin: str | None = None,
                 puk: str | None = None, clock: Clock | None = None, *,
                 capacity: dict[str, int] | None = None, ipr: int | None = None,
                 store_inbound: bool = True) -> None:
        from gateway.emulator.network import VirtualNetwork
        self.profile: Profile = get_profile(profile)
        self.msisdn = msisdn
        self.name = name
        self._own_network = network is None
        self.network = network if network is not None else VirtualNetwork(clock=clock)
        self.clock: Clock = clock or self.network.clock
        self.timing = timing or Timing.fast()
        self.pin, self.puk = pin, (puk if puk is not None or pin is None else "12345678")
        self.store_inbound = store_inbound
        self.signal = (20, 0)
        self.identity = _identity(msisdn)
        self.random = random.Random(msisdn)
        """Jitter and random faults: seeded by the number, so runs repeat."""
        self._capacity = dict(capacity or {})
        self._ipr_arg = ipr
        self.unit = 0
        """Which physical modem is on the port: ``swap`` puts another one there."""
        caps = dict(self.profile.capacity) | self._capacity
        self.storage = MessageStorage(caps, self.profile.index_base)
        self.sent: list[SentRecord] = []
        self.received: list[ReceivedRecord] = []
        self.reports: list[ReportRecord] = []
        self.faults = FaultPlan(self)
        self.changed = threading.Condition(threading.RLock())
        self.lock = self.changed
        self.scheduler = Scheduler(self.clock, f"emu-{name}")
        self.csca = self.network.smsc
        self.ipr = self.profile.ipr_default if ipr is None else ipr
        self.factory = Settings(cmee=self.profile.cmee_default, cnmi=self.profile.cnmi_default)
        self.saved = replace(self.factory)
        self.s = replace(self.saved)
        self.power = PowerState.OFF
        self.epoch = 0
        self.uart_up = self.sms_ready = self.synced = self.hung = False
        self.silent_until = 0.0
        self.sim_present = True
        self.sim_state = SimState.READY
        self.pin_attempts, self.puk_attempts = 3, 10
        self.cfun = 1
        self.network_available = True
        self.reg_reached = False
        self.reg_stat = 0
        self.next_mr = 0
        self.last_send_end: float | None = None
        self.urc_buffer: list[str] = []
        self.ack_pending: tuple[int, Callable[[], None]] | None = None
        self.ack_seq = 0
        self.cusd_n = 0
        self.cfun_deregistered = False
        self._pwrkey_down: float | None = None
        self.pwrkey_presses: list[float] = []
        """Clock times of every PWRKEY press: tests assert a live modem was never pressed."""
        self._held_boot: list[Callable[[], None]] = []
        self._off_at = float("-inf")
        self._sink: Callable[[bytes], None] | None = None
        self._on_gone: Callable[[], None] | None = None
        self.port_present = True
        self._line = bytearray()
        self._last_line = b""
        self._prompt: Prompt | None = None
        self._pdu = bytearray()
        self.busy = False
        self.lines_received = 0
        """Command lines taken so far: tests wait on it instead of sleeping."""
        self._queued = bytearray()
        self._tx_free_at = 0.0
        self._closed = False
        self._handlers: dict[str, Callable[[EmulatedModem, Command], Result]] = {
            **commands_basic.HANDLERS, **commands_sms.HANDLERS}  # commands_network adds to basic's
        self.network.attach(self)
        _MODEMS[name] = self
        if powered:
            with self.lock:
                self.power_on()

    # ----------------------------------------------------------------------------- public API
    @property
    def url(self) -> str:
        return f"emu://{self.name}"

    @property
    def power_state(self) -> str:
        return self.power.value

    @property
    def in_prompt(self) -> bool:
        """At a ``> `` prompt: the next bytes are taken as PDU (or text) body, not commands."""
        return self._prompt is not None

    def inject_sms(self, sender: str, text: str | None = None, *, data: bytes | None = None,
                   ucs2: bool | None = None, flash: bool = False) -> None:
        """An SMS from the outside world to this modem (long ones arrive as several parts)."""
        self.network.inject(self.msisdn, sender, text, data=data, ucs2=ucs2, flash=flash)

    def pwrkey(self, pressed: bool) -> None:
        """The electrical PWRKEY input; a press of at least ``timing.pwrkey_min`` s toggles."""
        with self.lock:
            now = self.clock.monotonic()
            if pressed:
                self.pwrkey_presses.append(now)
                too_soon = (self.power is PowerState.OFF
                            and now - self._off_at < self.timing.pwrkey_restart_gap)
                self._pwrkey_down = None if too_soon else now
                return
            down = self._pwrkey_down
            self._pwrkey_down = None
            if down is None or now - down < self.timing.pwrkey_min:
                return
            held = now - down
            self.hung = False
            if self.power is PowerState.OFF:
                self.power_on()
            elif self.profile.rdy_needs_fixed_baud and held > self.timing.pwrkey_repower:
                self.power_off(urc=None)   # SIM800: a press over 33 s powers the module up again
                self.power_on()
            else:
                self.power_off(urc=self.profile.power_down_urc or None)

    def attach(self, sink: Callable[[bytes], None],
               on_gone: Callable[[], None] | None = None) -> Callable[[], None]:
        """Connect the host side of the UART; one at a time. Returns the function that detaches.

        ``on_gone`` is called when the port vanishes under the host (``unplug``), so the host's
        reads can fail as a vanished USB node's do.
        """
        with self.lock:
            if self._closed:
                raise OSError(f"emulated modem {self.name!r} is closed")
            if not self.port_present:
                raise OSError(f"emulated modem {self.name!r}: no such device (unplugged)")
            if self._sink is not None:
                raise OSError(f"emulated modem {self.name!r} is already open")
            self._sink, self._on_gone = sink, on_gone

        def detach() -> None:
            with self.lock:
                if self._sink is sink:
                    self._sink, self._on_gone = None, None
        return detach

    def unplug(self, seconds: float | None = None) -> None:
        """The port vanishes (a USB node gone, a cable pulled): the host's reads fail and opening
        fails until ``plug`` (or ``seconds`` later). The modem itself keeps running."""
        with self.lock:
            self.port_present = False
            gone, self._sink, self._on_gone = self._on_gone, None, None
            self.notify()
        if gone is not None:
            gone()
        if seconds is not None:
            self.scheduler.call_later(seconds, self.plug)

    def plug(self) -> None:
        """The port is back (it may appear for the first time after the host started)."""
        with self.lock:
            self.port_present = True
            self.notify()

    def swap(self) -> None:
        """Another modem (and SIM) on the same port and number: new IMEI, IMSI and ICCID, empty
        memories, factory settings; it boots as a reset does (issue 9 item 6)."""
        with self.lock:
            self.unit += 1
            self.identity = _identity(self.msisdn, self.unit)
            caps = dict(self.profile.capacity) | self._capacity
            self.storage = MessageStorage(caps, self.profile.index_base)
            self.saved = replace(self.factory)
            self.ipr = self.profile.ipr_default if self._ipr_arg is None else self._ipr_arg
            self.reset()

    def feed(self, data: bytes) -> None:
        """Bytes the host wrote to the UART."""
        if data:
            self.scheduler.call_soon(lambda: self._locked(self._receive, bytes(data)))

    def accept(self, pdu: str, message_class: int | None, record: "ReceivedRecord | ReportRecord",
               redeliver: Callable[[], None]) -> bool:
        """The network hands over an SMS-DELIVER or (with a ReportRecord) a status report."""
        from gateway.emulator.network import ReportRecord
        with self.lock:
            if self._closed or self.power is PowerState.OFF:
                return False
            if isinstance(record, ReportRecord):
                return arrival.deliver_report(self, pdu, record, redeliver)
            return arrival.deliver_sms(self, pdu, message_class, record, redeliver)

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds or ``timeout`` real seconds pass.

        Checked on every state change of this modem, and every 50 ms for state that lives
        elsewhere (the network's queue, another modem)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 0.05))
            return True

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.epoch += 1
            self._sink = None
        self.network.detach(self)
        self.scheduler.stop()
        if self._own_network:
            self.network.close()
        if _MODEMS.get(self.name) is self:
            del _MODEMS[self.name]

    # ----------------------------------------------------------------------------- power FSM
    def power_on(self, hold_banners: bool = False) -> None:
        """Boot: banners and readiness at the profile's fractions of the boot time.

        ``hold_banners`` (a reset inside the prompt, banners after the echo) brings the UART up
        at once and holds the rest of the boot until the host ends a line (CR or Ctrl-Z), or
        the profile's boot time passed: the host's next bytes are echoed before ``RDY``.
        """
        self.epoch += 1
        epoch = self.epoch
        self.power = PowerState.BOOTING
        self.s = replace(self.saved)
        self.uart_up = self.sms_ready = self.reg_reached = self.hung = False
        self.synced = self.ipr != 0
        self.cfun = 1
        self.busy, self._prompt, self._line, self._queued = False, None, bytearray(), bytearray()
        self.urc_buffer, self.ack_pending = [], None
        self.sim_state = self._initial_sim_state()
        boot = self.profile.boot_time if self.timing.boot_time is None else self.timing.boot_time
        p = self.profile
        steps: list[tuple[float, Callable[[], None]]] = [
            (p.uart_up_at, self._uart_ready), (p.register_at, self._registration_reached),
            (p.sms_ready_at, self._sms_ready_reached)]
        for fraction, banner in p.boot_banners:
            steps.append((fraction, lambda b=banner: self._boot_banner(b)))
        steps.append((1.0, self._boot_done))
        steps.sort(key=lambda s: s[0])
        self._held_boot = []
        if hold_banners and self.synced:   # autobaud: nothing to echo before "AT" anyway
            self._uart_ready()
            self._held_boot = [step for _fraction, step in steps]
            self.at(p.boot_time, self.release_boot, epoch)
            self.notify()
            return
        for fraction, step in steps:
            if boot <= 0:
                step()
            else:
                self.at(boot * fraction, step, epoch)
        self.notify()

    def release_boot(self) -> None:
        """Finish a boot ``power_on(hold_banners=True)`` held back (no-op when none is held)."""
        held, self._held_boot = self._held_boot, []
        for step in held:
            step()

    def power_off(self, urc: str | None) -> None:
        if urc and self.power is not PowerState.OFF:
            self.emit_line(urc)
        self.epoch += 1
        self.power = PowerState.OFF
        self._off_at = self.clock.monotonic()
        self.uart_up = self.sms_ready = self.reg_reached = False
        self.update_registration()
        self.notify()

    def reset(self, hold_banners: bool = False) -> None:
        """Spontaneous reset / AT+CFUN=1,1: settings lost, banners again."""
        self.power_off(urc=None)
        self.power_on(hold_banners)

    def _initial_sim_state(self) -> SimState:
        if not self.sim_present:
            return SimState.ABSENT
        if self.sim_state in (SimState.PUK, SimState.BLOCKED):
            return self.sim_state
        return SimState.PIN if self.pin else SimState.READY

    def _uart_ready(self) -> None:
        self.uart_up = True

    def _boot_banner(self, banner: str) -> None:
        if banner == "RDY" and self.profile.rdy_needs_fixed_baud and self.ipr == 0:
            return
        if "{cpin}" in banner:
            banner = banner.format(cpin=self.sim_state.value)
        elif self.sim_state is not SimState.READY and banner in self.profile.sim_ready_banners:
            return
        self.emit_line(banner)

    def _registration_reached(self) -> None:
        self.reg_reached = True
        self.update_registration()

    def _sms_ready_reached(self) -> None:
        self.sms_ready = self.sim_state is SimState.READY
        self.update_registration()

    def _boot_done(self) -> None:
        self.power = PowerState.READY
        self.notify()
        self.network.flush(self)

    def sim_unlocked(self) -> None:
        """PIN/PUK accepted: the SIM-dependent banners follow, then SMS works."""
        self.emit_line("+CPIN: READY")
        for banner in self.profile.sim_ready_banners:
            self.emit_line(banner)
        self.sms_ready = self.power is not PowerState.OFF
        self.update_registration()

    # ----------------------------------------------------------------------------- registration
    def registered(self) -> bool:
        return self.reg_stat in (1, 5)

    def update_registration(self) -> None:
        ok = (self.power is not PowerState.OFF and self.reg_reached and self.cfun == 1
              and self.sim_state is SimState.READY and self.network_available)
        stat = 1 if ok else 0
        if stat == self.reg_stat:
            return
        self.reg_stat = stat
        if self.power is not PowerState.OFF and self.uart_up:
            if self.s.creg:
                self.emit_line(commands_network.creg_urc(self, "+CREG", self.s.creg))
            if self.profile.lte and self.s.cereg:
                self.emit_line(commands_network.creg_urc(self, "+CEREG", self.s.cereg))
        self.notify()
        if ok and self.power is PowerState.READY:
            self.network.flush(self)

    # ----------------------------------------------------------------------------- scheduling
    def at(self, delay: float, fn: Callable[[], None], epoch: int | None = None) -> None:
        """Run ``fn`` under the lock after ``delay`` unless the modem lost power meanwhile."""
        epoch = self.epoch if epoch is None else epoch

        def task() -> None:
            with self.lock:
                if self.epoch == epoch:
                    fn()
        self.scheduler.call_later(delay, task)

    def _locked(self, fn: Callable[[bytes], None], data: bytes) -> None:
        with self.lock:
            fn(data)

    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # ----------------------------------------------------------------------------- errors
    def error(self) -> Result:
        return Result(final="ERROR")

    def cme(self, code: int) -> Result:
        if self.s.cmee == 0:
            return self.error()
        if self.s.cmee == 2:
            return Result(final=f"+CME ERROR: {CME_TEXT.get(code, code)}")
        return Result(final=f"+CME ERROR: {code}")

    def cms(self, code: int) -> Result:
        return Result(final=f"+CMS ERROR: {code}")

    def now(self) -> datetime:
        return self.clock.now()


def _identity(msisdn: str, unit: int = 0) -> dict[str, str]:
    """Stable IMEI / IMSI / ICCID derived from the MSISDN (and which unit sits on the port after
    swaps), so several modems differ."""
    digits = "".join(ch for ch in msisdn if ch.isdigit()).rjust(10, "0")[-10:]
    u = f"{unit % 100:02d}"
    tac = "12345" if unit == 0 else "123" + u
    msin = str((int(digits[0]) + unit) % 10) + digits[1:]
    return {"imei": _luhn("86" + tac + digits[-7:]), "imsi": "00101" + msin,
            "iccid": _luhn("8900101" + u + digits)}


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)
