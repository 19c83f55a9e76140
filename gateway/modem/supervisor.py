"""The supervisor thread: bring-up, health polling, stored-SMS reads, and when to recover.

It owns the modem's session state (what init chose, the PIN attempt of this boot, when the last
init finished).  Work arrives on a small queue from the URC thread and from ``send``: +CMTI and
+CDSI indexes to read, boot banners, power-down and SIM/registration changes, time-outs.  The
recovery ladder itself lives in ``recovery.py``.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from gateway.errors import (AtCommandError, AtTimeoutError, CmeError, CmsError,
                            ModemUnavailableError)
from gateway.modem.at import AtChannel, Urc
from gateway.modem.errors import (LadderExhausted, ModemRebootedError, PortUnavailableError,
                                  PoweredDown, ReplyFormatError)
from gateway.modem.health import EventKind, ModemState, SimState
from gateway.modem.inbox import Inbox
from gateway.modem.recovery import Recovery
from gateway.modem.work import BRING_UP, Step, Trouble, Work, WorkKind
from gateway.modem.replies import parse_cops, parse_cpsi_mode, parse_csq, split_fields
from gateway.modem.session import (SessionInfo, configure_sms, query_registration, query_sim,
                                   read_identity, routes_inline, unlock_sim, wait_sms_ready)

if TYPE_CHECKING:
    from gateway.modem.driver import Modem

log = logging.getLogger(__name__)

_SERVING = (ModemState.READY, ModemState.NO_NETWORK, ModemState.NO_SIM)


def _recover(why: str) -> Trouble:
    return Trouble(Step.RECOVER, why)


class Supervisor:
    def __init__(self, modem: Modem) -> None:
        self.m = modem
        self._work: deque[Work] = deque()
        self._work_lock = threading.Lock()
        self._wake = threading.Event()
        self.boot_seen = threading.Event()    # set by the URC thread on every boot banner
        self._init_done_at = float("inf")     # banners framed before this belong to that boot
        self._echo_baseline = 0
        self._pin_tried = False               # at most one PIN attempt per boot
        self._pin_rejected = False            # never retry a PIN the SIM refused
        self._session: SessionInfo | None = None
        self._inbox: Inbox | None = None
        self.recovery = Recovery(modem, self)

    # --- the work queue (filled by the URC thread and by send()) ----------------------------

    def post(self, kind: WorkKind, payload: Any = None) -> None:
        if kind is WorkKind.BOOT:
            self.boot_seen.set()
        with self._work_lock:
            self._work.append(Work(kind, payload, self.m.clock.monotonic()))
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def forget_boot(self) -> None:
        """The modem is being restarted: a new boot, a new PIN attempt, old banners are news."""
        self._pin_tried = False
        self._init_done_at = float("inf")

    def check_echo(self, channel: AtChannel) -> None:
        """Echo after ATE0 means the modem restarted silently (SIM800 autobaud: no banners)."""
        if channel.echoes > self._echo_baseline:
            self.post(WorkKind.POLL, "echo seen")

    def _next_item(self, timeout: float) -> Work | None:
        with self._work_lock:
            if self._work:
                return self._work.popleft()
            self._wake.clear()
        self.m.clock.wait(self._wake, max(0.0, timeout))
        with self._work_lock:
            return self._work.popleft() if self._work else None

    def sleep(self, seconds: float) -> bool:
        """Wait; True when the modem is stopping."""
        return self.m.clock.wait(self.m.stopping, seconds)

    # --- main loop ---------------------------------------------------------------------------

    def run(self) -> None:
        trouble: Trouble | None = BRING_UP
        stop = self.m.stopping
        retry = Trouble(Step.RETRY, "retry after failure")
        while trouble is not None and not stop.is_set():
            wait = 0.0
            try:
                if trouble.step is Step.BRING_UP:
                    self.recovery.bring_up()
                elif trouble.step is Step.POWERED_DOWN:
                    self.recovery.after_power_down()
                else:
                    self.recovery.ladder(trouble.why)
                trouble = self._serve()
            except PoweredDown as exc:
                trouble = Trouble(Step.POWERED_DOWN, str(exc))
            except PortUnavailableError as exc:
                self._failed(str(exc))
                trouble, wait = retry, self.m.settings.port_retry_interval_s
            except (LadderExhausted, ModemUnavailableError) as exc:
                self._failed(str(exc))
                trouble, wait = retry, self.m.settings.retry_interval_s
            except Exception as exc:  # noqa: BLE001 - the supervisor must outlive any bug
                log.exception("modem supervisor failed")
                self._failed(f"internal error: {exc}")
                trouble, wait = retry, self.m.settings.retry_interval_s
            if stop.is_set() or (wait and self.sleep(wait)):
                return

    def _failed(self, why: str) -> None:
        if self.m.stopping.is_set():
            return
        self.m.set_state(ModemState.FAILED, last_error=why)
        self.m.emit(EventKind.ERROR, why)

    def channel(self) -> AtChannel:
        channel = self.m.channel
        if channel is None or channel.broken is not None:
            channel = self.m.open_channel()
        return channel

    def initialise(self) -> bool:
        """The init dialog, registration and a rescan; False when the modem misbehaved."""
        try:
            self._run_init()
            return True
        except ModemRebootedError as exc:
            if exc.power_down:
                raise PoweredDown(exc.line) from exc
            log.warning("modem restarted during init: %s", exc)
            return False
        except (AtTimeoutError, CmsError, CmeError, AtCommandError) as exc:
            log.warning("modem init failed: %s", exc)
            self.m.tracker.update(last_error=f"init failed: {exc}")
            return False

    def _run_init(self) -> None:
        m, settings, profile = self.m, self.m.settings, self.m.profile
        t = settings.command_timeout_s
        m.set_state(ModemState.INITIALISING)
        channel = self.channel()
        for command in ("ATE0", "AT+CMEE=1"):
            try:
                channel.command(command, timeout=t)
            except AtCommandError as exc:
                log.info("%s refused: %s", command, exc)
        deadline = m.clock.monotonic() + profile.boot_timeout_s
        sim = self._unlock(channel, deadline)
        identity = read_identity(channel, profile, t)
        m.update_health(model=identity.model, revision=identity.revision, imei=identity.imei,
                        imsi=identity.imsi, iccid=identity.iccid, sim=sim,
                        last_seen=m.clock.now())
        if sim is not SimState.READY:
            self._init_done_at = m.clock.monotonic()
            self._echo_baseline = channel.echoes
            m.set_state(ModemState.NO_SIM, last_error=f"SIM {sim.value}")
            return
        if not wait_sms_ready(channel, t, deadline, m.clock, m.stopping,
                              settings.sms_ready_poll_s):
            raise AtTimeoutError("AT+CPMS? (waiting for SMS Ready)", profile.boot_timeout_s)
        self._init_done_at = m.clock.monotonic()
        session = configure_sms(channel, profile, smsc=settings.smsc, cnmi=settings.cnmi,
                                csms=settings.csms, use_cmms=settings.use_cmms, timeout=t,
                                report=lambda text: m.emit(EventKind.ERROR, text))
        self._session = session
        m.cnma_needed, m.cmms = session.cnma_needed, session.cmms
        self._inbox = Inbox(channel, session.storage, m.hand_over, t)
        self._echo_baseline = channel.echoes
        m.set_state(ModemState.REGISTERING)
        registered = self._wait_registered(channel)
        self._poll_values(channel)
        if registered:
            m.emit(EventKind.BOOTED, f"{identity.model} {identity.revision} ready "
                                     f"(storage {session.storage}, CNMI {session.cnmi})")
            m.set_state(ModemState.READY, last_error=None)
        else:
            m.set_state(ModemState.NO_NETWORK, last_error="not registered after "
                        f"{settings.registration_timeout_s:g} s")
        self._rescan()

    def _unlock(self, channel: AtChannel, deadline: float) -> SimState:
        settings, t = self.m.settings, self.m.settings.command_timeout_s
        while True:
            sim = query_sim(channel, t)
            if sim is SimState.READY:
                return sim
            if sim is SimState.PIN_REQUIRED and settings.pin and not self._pin_tried \
                    and not self._pin_rejected:
                self._pin_tried = True
                if unlock_sim(channel, settings.pin, t):
                    self.m.emit(EventKind.SIM, "PIN accepted")
                    continue
                self._pin_rejected = True
                self.m.emit(EventKind.SIM, "the SIM rejected the configured PIN: not retried")
                return SimState.PIN_REQUIRED
            if sim in (SimState.NOT_READY, SimState.UNKNOWN) or (
                    sim is SimState.PIN_REQUIRED and self._pin_tried and not self._pin_rejected):
                if self.m.clock.monotonic() < deadline and not self.sleep(
                        settings.sms_ready_poll_s):
                    continue
            return sim

    def _wait_registered(self, channel: AtChannel) -> bool:
        settings = self.m.settings
        deadline = self.m.clock.monotonic() + settings.registration_timeout_s
        while True:
            registration = query_registration(channel, self.m.profile,
                                              settings.command_timeout_s)
            self.m.update_health(registration=registration)
            if registration.registered:
                return True
            if self.m.clock.monotonic() >= deadline or self.sleep(settings.registration_poll_s):
                return False

    # --- serving -----------------------------------------------------------------------------

    def _serve(self) -> Trouble | None:
        """Handle work and poll health until something needs recovery (None: stopping)."""
        settings, clock = self.m.settings, self.m.clock
        next_poll = clock.monotonic() + settings.health_interval_s
        next_scan = clock.monotonic() + settings.rescan_interval_s
        while not self.m.stopping.is_set():
            item = self._next_item(min(next_poll, next_scan) - clock.monotonic())
            try:
                if item is not None and item.kind is WorkKind.RESCAN_SOON:
                    next_scan = min(next_scan, clock.monotonic() + settings.handover_retry_s)
                    trouble = None
                elif item is not None:
                    trouble = self._handle(item)
                elif clock.monotonic() >= next_poll:
                    next_poll = clock.monotonic() + settings.health_interval_s
                    trouble = self._poll()
                elif clock.monotonic() >= next_scan:
                    next_scan = clock.monotonic() + settings.rescan_interval_s
                    trouble = self._rescan()
                else:
                    trouble = None
            except AtTimeoutError as exc:
                self.m.tracker.count(timeouts=1)
                trouble = _recover(f"command time-out: {exc}")
            except ModemRebootedError as exc:
                if exc.power_down:
                    trouble = Trouble(Step.POWERED_DOWN, exc.line)
                elif exc.line:
                    trouble = self._rebooted(exc.line)
                else:  # the reader stopped: the port broke (a USB node vanished...)
                    trouble = _recover(f"serial port: {exc}")
            except ModemUnavailableError as exc:
                trouble = _recover(f"serial port: {exc}")
            except (CmsError, CmeError, AtCommandError) as exc:
                self.m.tracker.update(last_error=str(exc))
                trouble = None
            if trouble is not None:
                return trouble
        return None

    def _handle(self, item: Work) -> Trouble | None:
        state = self.m.tracker.get().state
        kind, payload = item.kind, item.payload
        if kind is WorkKind.READ:
            if self._inbox is not None and state in (ModemState.READY, ModemState.NO_NETWORK):
                memory, index = payload
                self._inbox.read(memory, index)
            return None
        if kind is WorkKind.BOOT:
            urc: Urc = payload
            if urc.at < self._init_done_at:
                return None  # a banner of the boot we already initialised after
            return self._rebooted(urc.line)
        if kind is WorkKind.POWER_DOWN:
            # Ignored when it already ended a command (and the modem was brought back since).
            if item.posted < self._init_done_at:
                return None
            return Trouble(Step.POWERED_DOWN, str(payload))
        if kind is WorkKind.TIMEOUT:
            if item.posted < self._init_done_at:
                return None  # the modem was re-initialised since: that time-out is history
            return _recover(f"time-out: {payload}")
        if kind is WorkKind.SIM:
            sim: SimState = payload
            self.m.update_health(sim=sim)
            if sim is SimState.READY:
                return _recover("SIM ready again") if state is ModemState.NO_SIM else None
            self._derive_state()
            return None
        if kind is WorkKind.REGISTRATION:
            self.m.update_health(registration=payload)
            self._derive_state()
            return None
        if kind is WorkKind.POLL:
            return self._poll()
        if kind is WorkKind.PORT:
            channel = self.m.channel
            if channel is None or channel.broken is not None:
                return _recover(f"serial port failed: {payload}")
            return None  # already reopened since
        return None

    def _rebooted(self, what: str) -> Trouble:
        self.m.tracker.count(reboots=1)
        self.forget_boot()
        self.m.emit(EventKind.REBOOTED, what)
        return _recover(f"modem rebooted ({what})")

    def _poll(self) -> Trouble | None:
        channel = self.m.channel
        if channel is None or channel.broken is not None:
            # Reopening alone would keep a session the modem may not have any more: recover.
            return _recover(f"serial port failed: {channel.broken if channel else 'closed'}")
        sim = query_sim(channel, self.m.settings.command_timeout_s)
        self.m.update_health(sim=sim)
        if sim is SimState.READY:
            registration = query_registration(channel, self.m.profile,
                                              self.m.settings.command_timeout_s)
            self.m.update_health(registration=registration)
            self._poll_values(channel)
        if channel.echoes > self._echo_baseline:
            return self._rebooted("command echo is back on: the modem lost its settings")
        self._check_routing(channel)
        if sim is SimState.READY and self.m.tracker.get().state is ModemState.NO_SIM:
            return _recover("SIM ready again")
        self._derive_state()
        return None

    def _check_routing(self, channel: AtChannel) -> None:
        """Restore AT+CNMI when the modem dropped it.

        With AT+CSMS=1 a +CMT/+CDS that is not acknowledged in time (the gateway was down, the
        store refused it, an AT+CMGS held the line) makes the modem set mt and ds to 0 (TS 27.005
        3.4.1): from then on nothing would be announced, and reports would be thrown away.
        """
        session = self._session
        if session is None or not session.cnmi:
            return
        t = self.m.settings.command_timeout_s
        try:
            current = channel.command("AT+CNMI?", expect=("+CNMI",), timeout=t).first("+CNMI")
        except (CmsError, CmeError, AtCommandError) as exc:
            log.debug("AT+CNMI?: %s", exc)
            return
        if current is None or split_fields(current)[:4] == split_fields(session.cnmi)[:4]:
            return
        channel.command(f"AT+CNMI={session.cnmi}", timeout=t)
        self.m.emit(EventKind.ERROR, f"the modem had dropped new-message routing (AT+CNMI: "
                                     f"{current}); restored {session.cnmi}")

    def park(self, channel: AtChannel) -> None:
        """Before a graceful stop: have the modem hold inline SMS and reports until next start.

        ``+CMT``/``+CDS`` exist only on the wire; with nobody reading the port they are lost.
        CNMI mode 0 buffers them in the modem, and the next start's AT+CNMI (bfr=0) flushes
        them to us; AT+CSMS=0 first, because with service 1 an acknowledgement nobody can send
        would make the modem drop routing altogether.  A kill -9 cannot do this (see
        docs/modem.md for what is recovered then).
        """
        session = self._session
        if session is None or not routes_inline(session.cnmi):
            return
        t = self.m.settings.command_timeout_s
        fields = split_fields(session.cnmi)
        try:
            if session.cnma_needed:
                channel.command("AT+CSMS=0", expect=("+CSMS",), timeout=t)
            channel.command("AT+CNMI=" + ",".join(["0", *fields[1:]]), timeout=t)
        except (AtTimeoutError, ModemUnavailableError, CmsError, CmeError, AtCommandError) as exc:
            log.info("could not park inline routing before stopping: %s", exc)

    def _poll_values(self, channel: AtChannel) -> None:
        t = self.m.settings.command_timeout_s
        changes: dict[str, Any] = {"last_seen": self.m.clock.now()}
        try:
            signal = parse_csq(channel.command("AT+CSQ", expect=("+CSQ",), timeout=t)
                               .first("+CSQ") or "")
            changes.update(rssi=signal.rssi, dbm=signal.dbm, ber=signal.ber)
        except (ReplyFormatError, CmsError, CmeError, AtCommandError) as exc:
            log.debug("AT+CSQ: %s", exc)
        try:
            changes["operator"] = parse_cops(channel.command(
                "AT+COPS?", expect=("+COPS",), timeout=t).first("+COPS") or "")
        except (CmsError, CmeError, AtCommandError) as exc:
            log.debug("AT+COPS?: %s", exc)
        if self.m.profile.lte:
            try:
                changes["network_mode"] = parse_cpsi_mode(channel.command(
                    "AT+CPSI?", expect=("+CPSI",), timeout=t).first("+CPSI") or "")
            except (CmsError, CmeError, AtCommandError) as exc:
                log.debug("AT+CPSI?: %s", exc)
        self.m.update_health(**changes)

    def _derive_state(self) -> None:
        health = self.m.tracker.get()
        if health.state not in _SERVING:
            return
        if health.sim not in (SimState.READY, SimState.UNKNOWN):
            state = ModemState.NO_SIM
        elif not health.registration.registered:
            state = ModemState.NO_NETWORK
        else:
            state = ModemState.READY if self._session is not None else ModemState.NO_SIM
        if state is not health.state:
            self.m.set_state(state)

    def _rescan(self) -> Trouble | None:
        if self._inbox is None or self._session is None:
            return None
        if self.m.tracker.get().sim is not SimState.READY:
            return None
        memories = [self._session.storage]
        fields = split_fields(self._session.cnmi)
        if len(fields) > 3 and fields[3] == "2" and "SR" in self._session.storages:
            memories.append("SR")
        taken = self._inbox.scan(tuple(memories))
        if taken:
            log.info("rescan handed over %d stored message(s)", taken)
        return None
