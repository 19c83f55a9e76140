"""The supervisor thread: bring-up, health polling, stored-SMS reads, and when to recover.

It owns the AT channel, the URC dispatch, the hand-over to the listener and the modem's session
state (what init chose, the PIN attempt of this boot, when the last init finished).  Work arrives on a small queue from the URC thread and from ``send``: +CMTI and
+CDSI indexes to read, boot banners, power-down and SIM/registration changes, time-outs.  The
recovery ladder itself lives in ``recovery.py``.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

import serial

from gateway.errors import (AtCommandError, AtTimeoutError, CmeError, CmsError,
                            ModemUnavailableError)
from gateway.modem.at import AtChannel, Urc, UrcKind
from gateway.modem.codes import is_under_voltage
from gateway.modem.context import HealthSink, ModemContext
from gateway.modem.errors import (CmsPolicy, LadderExhausted, ModemRebootedError,
                                  PortUnavailableError, PoweredDown, ReplyFormatError,
                                  classify_cms)
from gateway.modem.health import EventKind, ModemState, SimState
from gateway.modem.inbox import Inbox
from gateway.modem.recovery import Recovery
from gateway.modem.work import BRING_UP, Step, Trouble, Work, WorkKind
from gateway.modem.replies import (parse_cops, parse_cpin, parse_cpsi_mode, parse_csq,
                                   parse_memory_index, parse_registration, split_fields)
from gateway.modem.ussd import UssdReply, parse_cusd
from gateway.modem.session import (SessionInfo, configure_sms, query_registration, query_sim,
                                   read_identity, routes_inline, unlock_sim, wait_sms_ready)

if TYPE_CHECKING:
    from gateway.clock import Clock
    from gateway.modem.driver import ModemListener, ModemSettings
    from gateway.modem.power import PowerSwitch
    from gateway.modem.profiles import ModemProfile

log = logging.getLogger(__name__)

_SERVING = (ModemState.READY, ModemState.NO_NETWORK, ModemState.NO_SIM)


def _recover(why: str) -> Trouble:
    return Trouble(Step.RECOVER, why)


class Supervisor:
    """Owns the AT channel, the session (what init chose), the work queue and the stop event.

    Handed a ``ModemContext`` (configuration) and a ``HealthSink`` (where state goes), never
    the ``Modem``: the facade asks it for the channel to send on and nothing else.
    """

    def __init__(self, ctx: ModemContext, health: HealthSink, listener: ModemListener,
                 on_ussd: Callable[[UssdReply], None]) -> None:
        self.ctx = ctx
        self.health = health
        self._listener = listener
        self._on_ussd = on_ussd
        self._stop = threading.Event()
        self._channel: AtChannel | None = None
        self.cnma_needed = False
        self.cmms = False
        self._powering_off = False
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
        self.recovery = Recovery(self)

    # --- the RecoveryHost seam (recovery.py depends on this, not on the Modem) ---------------

    @property
    def settings(self) -> ModemSettings:
        return self.ctx.settings

    @property
    def profile(self) -> ModemProfile:
        return self.ctx.profile

    @property
    def power(self) -> PowerSwitch | None:
        return self.ctx.power

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def current_channel(self) -> AtChannel | None:
        return self._channel

    def set_state(self, state: ModemState, **changes: Any) -> None:
        self.health.set_state(state, **changes)

    def emit(self, kind: EventKind, detail: str) -> None:
        self.health.emit(kind, detail)

    def count(self, **increments: int) -> None:
        self.health.count(**increments)

    # --- the channel -------------------------------------------------------------------------

    def open_channel(self) -> AtChannel:
        """(Re)open the port and start a fresh AT channel."""
        old, self._channel = self._channel, None
        if old is not None:
            old.close()
        ctx = self.ctx
        try:
            # exclusive (pyserial's flock): a second simgate on the same port, or a stale one
            # reopening a recycled pty, would steal bytes from our reader; its open fails instead.
            port = ctx.serial_factory(ctx.port_url, baudrate=ctx.profile.baudrate,
                                      timeout=0.1, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortUnavailableError(f"cannot open {ctx.port_url}: {exc}") from exc
        channel = AtChannel(port, self._on_urc, name=f"modem-{ctx.profile.name}",
                            clock=ctx.clock, on_broken=self._on_port_broken)
        channel.start()
        self._channel = channel
        return channel

    def _on_port_broken(self, exc: Exception) -> None:
        """The reader died: recover now, not at the next health poll (a swapped modem)."""
        self.post(WorkKind.PORT, str(exc))

    def shutdown(self, power_off: bool) -> None:
        """After the thread stopped: park routing or power off, then close the channel."""
        channel, profile = self._channel, self.ctx.profile
        t = self.ctx.settings.command_timeout_s
        usable = channel is not None and channel.broken is None
        if usable and not power_off and self.health.get().state is ModemState.READY:
            assert channel is not None
            self.park(channel)
        if usable and power_off:
            assert channel is not None
            self._powering_off = True
            try:
                channel.command(profile.power_off_command, timeout=t)
                self.emit(EventKind.POWERED_OFF, profile.power_off_command)
            except ModemRebootedError as exc:  # SIM800: "NORMAL POWER DOWN" is the whole answer
                self.emit(EventKind.POWERED_OFF, f"{profile.power_off_command}: {exc}")
            except Exception as exc:  # noqa: BLE001 - shutting down: report, then go on
                self.emit(EventKind.ERROR, f"{profile.power_off_command} failed: {exc}")
        if channel is not None:
            channel.close()
        self._channel = None
        self.set_state(ModemState.STOPPED)

    # --- hand-over and URCs (the URC thread) -------------------------------------------------

    def hand_over(self, kind: str, pdu: str) -> bool:
        """Give a PDU to the listener; True when it returned (so it may be deleted)."""
        with self.health.listener_lock:
            try:
                if kind == "deliver":
                    self._listener.on_deliver(pdu)
                else:
                    self._listener.on_status_report(pdu)
            except Exception as exc:  # noqa: BLE001 - the PDU stays stored for the next scan
                log.exception("listener failed on a %s PDU; it stays on the SIM", kind)
                error = f"listener failed on {kind}: {exc}"
            else:
                self.count(**({"received": 1} if kind == "deliver" else {"status_reports": 1}))
                return True
        self.emit(EventKind.ERROR, error)
        self.post(WorkKind.RESCAN_SOON, kind)  # it stays stored: try again shortly
        return False

    def _on_urc(self, urc: Urc) -> None:
        kind = urc.kind
        if kind in (UrcKind.SMS, UrcKind.STATUS_REPORT):
            self._routed(urc)
        elif kind in (UrcKind.NEW_SMS, UrcKind.STATUS_REPORT_STORED):
            self.post(WorkKind.READ, parse_memory_index(urc.value))
        elif kind is UrcKind.BOOT:
            self.post(WorkKind.BOOT, urc)
        elif kind is UrcKind.POWER_DOWN:
            if not self._powering_off:
                self.emit(EventKind.UNDER_VOLTAGE if is_under_voltage(urc.line)
                          else EventKind.POWERED_OFF, urc.line)
                self.post(WorkKind.POWER_DOWN, urc.line)
        elif kind is UrcKind.VOLTAGE_WARNING:
            self.emit(EventKind.UNDER_VOLTAGE, urc.line)
        elif kind is UrcKind.SIM:
            self.post(WorkKind.SIM, parse_cpin(urc.value))
        elif kind is UrcKind.REGISTRATION:
            try:
                self.post(WorkKind.REGISTRATION, parse_registration(urc.value, query=False))
            except ValueError:
                log.debug("unparsed registration URC %r", urc.line)
        elif kind is UrcKind.USSD:
            self._on_ussd(parse_cusd(urc.value))
        else:
            log.debug("modem %s: ignored URC %r", self.ctx.profile.name, urc.line)

    def _routed(self, urc: Urc) -> None:
        """+CMT / +CDS carry the PDU inline: hand over, then acknowledge when CSMS=1."""
        if urc.body is None:
            log.warning("%s without a PDU line", urc.line)
            return
        kind = "deliver" if urc.kind is UrcKind.SMS else "status-report"
        channel = self._channel
        if self.hand_over(kind, urc.body) and self.cnma_needed and channel is not None:
            try:
                channel.command("AT+CNMA", timeout=self.ctx.settings.command_timeout_s)
            except CmsError as exc:
                if classify_cms(exc.code).policy is CmsPolicy.SKIP:  # 340: nothing to ack (a
                    log.debug("AT+CNMA: %s", exc)            # +CDS flushed from the buffer)
                    return
                self.emit(EventKind.ERROR, f"AT+CNMA failed: {exc}")
                self.post(WorkKind.POLL, "AT+CNMA failed")   # routing may be dropped
            except Exception as exc:  # noqa: BLE001 - the network will redeliver; record it
                self.emit(EventKind.ERROR, f"AT+CNMA failed: {exc}")
                self.post(WorkKind.POLL, "AT+CNMA failed")

    # --- the work queue (filled by the URC thread and by send()) ----------------------------

    def post(self, kind: WorkKind, payload: Any = None) -> None:
        if kind is WorkKind.BOOT:
            self.boot_seen.set()
        with self._work_lock:
            self._work.append(Work(kind, payload, self.ctx.clock.monotonic()))
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
        self.ctx.clock.wait(self._wake, max(0.0, timeout))
        with self._work_lock:
            return self._work.popleft() if self._work else None

    def sleep(self, seconds: float) -> bool:
        """Wait; True when the modem is stopping."""
        return self.ctx.clock.wait(self._stop, seconds)

    # --- main loop ---------------------------------------------------------------------------

    def run(self) -> None:
        trouble: Trouble | None = BRING_UP
        stop = self._stop
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
                trouble, wait = retry, self.ctx.settings.port_retry_interval_s
            except (LadderExhausted, ModemUnavailableError) as exc:
                self._failed(str(exc))
                trouble, wait = retry, self.ctx.settings.retry_interval_s
            except Exception as exc:  # noqa: BLE001 - the supervisor must outlive any bug
                log.exception("modem supervisor failed")
                self._failed(f"internal error: {exc}")
                trouble, wait = retry, self.ctx.settings.retry_interval_s
            if stop.is_set() or (wait and self.sleep(wait)):
                return

    def _failed(self, why: str) -> None:
        if self._stop.is_set():
            return
        self.health.set_state(ModemState.FAILED, last_error=why)
        self.health.emit(EventKind.ERROR, why)

    def channel(self) -> AtChannel:
        channel = self._channel
        if channel is None or channel.broken is not None:
            channel = self.open_channel()
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
            self.health.update(last_error=f"init failed: {exc}")
            return False

    def _run_init(self) -> None:
        settings, profile, clock = self.ctx.settings, self.ctx.profile, self.ctx.clock
        t = settings.command_timeout_s
        self.health.set_state(ModemState.INITIALISING)
        channel = self.channel()
        for command in ("ATE0", "AT+CMEE=1"):
            try:
                channel.command(command, timeout=t)
            except AtCommandError as exc:
                log.info("%s refused: %s", command, exc)
        deadline = clock.monotonic() + profile.boot_timeout_s
        sim = self._unlock(channel, deadline)
        identity = read_identity(channel, profile, t)
        self.health.update(model=identity.model, revision=identity.revision, imei=identity.imei,
                        imsi=identity.imsi, iccid=identity.iccid, sim=sim,
                        last_seen=clock.now())
        if sim is not SimState.READY:
            self._init_done_at = clock.monotonic()
            self._echo_baseline = channel.echoes
            self.health.set_state(ModemState.NO_SIM, last_error=f"SIM {sim.value}")
            return
        if not wait_sms_ready(channel, t, deadline, clock, self._stop,
                              settings.sms_ready_poll_s):
            raise AtTimeoutError("AT+CPMS? (waiting for SMS Ready)", profile.boot_timeout_s)
        self._init_done_at = clock.monotonic()
        session = configure_sms(channel, profile, smsc=settings.smsc, cnmi=settings.cnmi,
                                csms=settings.csms, use_cmms=settings.use_cmms, timeout=t,
                                report=lambda text: self.health.emit(EventKind.ERROR, text))
        self._session = session
        self.cnma_needed, self.cmms = session.cnma_needed, session.cmms
        self._inbox = Inbox(channel, session.storage, self.hand_over, t)
        self._echo_baseline = channel.echoes
        self.health.set_state(ModemState.REGISTERING)
        registered = self._wait_registered(channel)
        self._poll_values(channel)
        if registered:
            self.health.emit(EventKind.BOOTED, f"{identity.model} {identity.revision} ready "
                                     f"(storage {session.storage}, CNMI {session.cnmi})")
            self.health.set_state(ModemState.READY, last_error=None)
        else:
            self.health.set_state(ModemState.NO_NETWORK, last_error="not registered after "
                        f"{settings.registration_timeout_s:g} s")
        self._rescan()

    def _unlock(self, channel: AtChannel, deadline: float) -> SimState:
        settings, t = self.ctx.settings, self.ctx.settings.command_timeout_s
        while True:
            sim = query_sim(channel, t)
            if sim is SimState.READY:
                return sim
            if sim is SimState.PIN_REQUIRED and settings.pin and not self._pin_tried \
                    and not self._pin_rejected:
                self._pin_tried = True
                if unlock_sim(channel, settings.pin, t):
                    self.health.emit(EventKind.SIM, "PIN accepted")
                    continue
                self._pin_rejected = True
                self.health.emit(EventKind.SIM, "the SIM rejected the configured PIN: not retried")
                return SimState.PIN_REQUIRED
            if sim in (SimState.NOT_READY, SimState.UNKNOWN) or (
                    sim is SimState.PIN_REQUIRED and self._pin_tried and not self._pin_rejected):
                if self.ctx.clock.monotonic() < deadline and not self.sleep(
                        settings.sms_ready_poll_s):
                    continue
            return sim

    def _wait_registered(self, channel: AtChannel) -> bool:
        settings = self.ctx.settings
        deadline = self.ctx.clock.monotonic() + settings.registration_timeout_s
        while True:
            registration = query_registration(channel, self.ctx.profile,
                                              settings.command_timeout_s)
            self.health.update(registration=registration)
            if registration.registered:
                return True
            if self.ctx.clock.monotonic() >= deadline or self.sleep(settings.registration_poll_s):
                return False

    # --- serving -----------------------------------------------------------------------------

    def _serve(self) -> Trouble | None:
        """Handle work and poll health until something needs recovery (None: stopping)."""
        settings, clock = self.ctx.settings, self.ctx.clock
        next_poll = clock.monotonic() + settings.health_interval_s
        next_scan = clock.monotonic() + settings.rescan_interval_s
        while not self._stop.is_set():
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
                self.health.count(timeouts=1)
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
                self.health.update(last_error=str(exc))
                trouble = None
            if trouble is not None:
                return trouble
        return None

    def _handle(self, item: Work) -> Trouble | None:
        state = self.health.get().state
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
            self.health.update(sim=sim)
            if sim is SimState.READY:
                return _recover("SIM ready again") if state is ModemState.NO_SIM else None
            self._derive_state()
            return None
        if kind is WorkKind.REGISTRATION:
            self.health.update(registration=payload)
            self._derive_state()
            return None
        if kind is WorkKind.POLL:
            return self._poll()
        if kind is WorkKind.PORT:
            channel = self._channel
            if channel is None or channel.broken is not None:
                return _recover(f"serial port failed: {payload}")
            return None  # already reopened since
        return None

    def _rebooted(self, what: str) -> Trouble:
        self.health.count(reboots=1)
        self.forget_boot()
        self.health.emit(EventKind.REBOOTED, what)
        return _recover(f"modem rebooted ({what})")

    def _poll(self) -> Trouble | None:
        channel = self._channel
        if channel is None or channel.broken is not None:
            # Reopening alone would keep a session the modem may not have any more: recover.
            return _recover(f"serial port failed: {channel.broken if channel else 'closed'}")
        sim = query_sim(channel, self.ctx.settings.command_timeout_s)
        self.health.update(sim=sim)
        if sim is SimState.READY:
            registration = query_registration(channel, self.ctx.profile,
                                              self.ctx.settings.command_timeout_s)
            self.health.update(registration=registration)
            self._poll_values(channel)
        if channel.echoes > self._echo_baseline:
            return self._rebooted("command echo is back on: the modem lost its settings")
        self._check_routing(channel)
        if sim is SimState.READY and self.health.get().state is ModemState.NO_SIM:
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
        t = self.ctx.settings.command_timeout_s
        try:
            current = channel.command("AT+CNMI?", expect=("+CNMI",), timeout=t).first("+CNMI")
        except (CmsError, CmeError, AtCommandError) as exc:
            log.debug("AT+CNMI?: %s", exc)
            return
        if current is None or split_fields(current)[:4] == split_fields(session.cnmi)[:4]:
            return
        channel.command(f"AT+CNMI={session.cnmi}", timeout=t)
        self.health.emit(EventKind.ERROR, f"the modem had dropped new-message routing (AT+CNMI: "
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
        t = self.ctx.settings.command_timeout_s
        fields = split_fields(session.cnmi)
        try:
            if session.cnma_needed:
                channel.command("AT+CSMS=0", expect=("+CSMS",), timeout=t)
            channel.command("AT+CNMI=" + ",".join(["0", *fields[1:]]), timeout=t)
        except (AtTimeoutError, ModemUnavailableError, CmsError, CmeError, AtCommandError) as exc:
            log.info("could not park inline routing before stopping: %s", exc)

    def _poll_values(self, channel: AtChannel) -> None:
        t = self.ctx.settings.command_timeout_s
        changes: dict[str, Any] = {"last_seen": self.ctx.clock.now()}
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
        if self.ctx.profile.lte:
            try:
                changes["network_mode"] = parse_cpsi_mode(channel.command(
                    "AT+CPSI?", expect=("+CPSI",), timeout=t).first("+CPSI") or "")
            except (CmsError, CmeError, AtCommandError) as exc:
                log.debug("AT+CPSI?: %s", exc)
        self.health.update(**changes)

    def _derive_state(self) -> None:
        health = self.health.get()
        if health.state not in _SERVING:
            return
        if health.sim not in (SimState.READY, SimState.UNKNOWN):
            state = ModemState.NO_SIM
        elif not health.registration.registered:
            state = ModemState.NO_NETWORK
        else:
            state = ModemState.READY if self._session is not None else ModemState.NO_SIM
        if state is not health.state:
            self.health.set_state(state)

    def _rescan(self) -> Trouble | None:
        if self._inbox is None or self._session is None:
            return None
        if self.health.get().sim is not SimState.READY:
            return None
        memories = [self._session.storage]
        fields = split_fields(self._session.cnmi)
        if len(fields) > 3 and fields[3] == "2" and "SR" in self._session.storages:
            memories.append("SR")
        taken = self._inbox.scan(tuple(memories))
        if taken:
            log.info("rescan handed over %d stored message(s)", taken)
        return None
