"""The modem driver: one object per modem that the rest of simgate talks to.

Threads (all named, all with a stop event and bounded joins): the AT channel's reader and URC
threads, and one supervisor that brings the modem up, polls health, reads stored SMS and runs
the recovery ladder (``recovery.py``).  ``send`` runs on the caller's thread; the AT channel
keeps it to one command in flight.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import serial

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.errors import (AtTimeoutError, CmsError, ModemUnavailableError, SendInDoubtError)
from gateway.modem.at import AtChannel, Urc, UrcKind
from gateway.modem.codes import is_under_voltage
from gateway.modem.errors import (CmsPolicy, ModemRebootedError, PortUnavailableError,
                                  SendNotSentError, classify_cms)
from gateway.modem.health import (EventKind, HealthTracker, ModemEvent, ModemHealth, ModemState,
                                  Registration, SimState)
from gateway.modem.power import PowerSwitch
from gateway.modem.profiles import ModemProfile
from gateway.modem.supervisor import Supervisor
from gateway.modem.work import WorkKind
from gateway.modem.replies import parse_cpin, parse_memory_index, parse_registration
from gateway.modem.ussd import UssdError, UssdReply, parse_cusd

log = logging.getLogger(__name__)


class ModemListener(Protocol):
    def on_deliver(self, pdu: str) -> None:
        """An SMS-DELIVER hex PDU (with SMSC field), committed when this returns."""

    def on_status_report(self, pdu: str) -> None:
        """An SMS-STATUS-REPORT hex PDU (with SMSC field), committed when this returns."""

    def on_event(self, event: ModemEvent) -> None:
        """A state change worth recording."""


@dataclass(frozen=True)
class ModemSettings:
    """Behaviour that is policy, not hardware (hardware facts live in the profile).

    Every field is described in docs/modem.md ("Settings"); a test keeps the two in step.
    """

    pin: str | None = None
    smsc: str | None = None
    registration_timeout_s: float = 120.0
    command_timeout_s: float = 10.0
    send_timeout_s: float = 120.0      # Ctrl-Z -> +CMGS (the network's round trip)
    prompt_timeout_s: float = 10.0     # AT+CMGS=<n> -> "> "
    cnmi: str | None = None            # None: chosen from AT+CNMI=? (mt=1 +CMTI, ds=1 +CDS)
    csms: int | None = None            # None: leave AT+CSMS alone (0: the ME acks +CMT/+CDS)
    use_cmms: bool = True
    health_interval_s: float = 30.0
    rescan_interval_s: float = 600.0   # AT+CMGL=4 even without +CMTI: nothing stored is forgotten
    probe_attempts: int = 3
    probe_timeout_s: float = 1.0
    registration_poll_s: float = 2.0
    sms_ready_poll_s: float = 0.5
    under_voltage_backoff_s: float = 30.0
    retry_interval_s: float = 60.0     # after the recovery ladder failed, start over after this
    port_retry_interval_s: float = 5.0  # a port that cannot be opened (not there yet): retry
    handover_retry_s: float = 5.0      # a stored SMS/report the listener refused: rescan after


SerialFactory = Callable[..., Any]


class Modem:
    def __init__(self, port_url: str, profile: ModemProfile, listener: ModemListener, *,
                 settings: ModemSettings = ModemSettings(), power: PowerSwitch | None = None,
                 clock: Clock = SYSTEM_CLOCK,
                 serial_factory: SerialFactory = serial.serial_for_url) -> None:
        self.port_url = port_url or profile.port
        self.profile = profile
        self.settings = settings
        self.power = power
        self.clock = clock
        self._serial_factory = serial_factory
        self._listener = listener
        self._listener_lock = threading.Lock()   # listener calls never overlap
        self.tracker = HealthTracker()
        self._ready = threading.Condition()
        self._channel: AtChannel | None = None
        self._stop = threading.Event()
        self._supervisor = Supervisor(self)
        self._thread: threading.Thread | None = None
        self._ussd_lock = threading.Lock()
        self._ussd_reply: list[UssdReply] = []
        self._ussd_event = threading.Event()
        self.cnma_needed = False
        self.cmms = False
        self.powering_off = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Non-blocking: the supervisor thread brings the modem up and keeps it healthy."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._supervisor.run,
                                        name=f"modem-{self.profile.name}", daemon=True)
        self._thread.start()

    def stop(self, power_off: bool = False) -> None:
        """Stop the threads (bounded joins); ``power_off`` sends AT+CPOWD=1 / AT+CPOF first."""
        self._stop.set()
        self._supervisor.wake()
        if self._thread is not None:
            self._thread.join(self.settings.command_timeout_s + 5)
        channel = self._channel
        if not power_off and channel is not None and channel.broken is None and self.ready:
            self._supervisor.park(channel)
        if power_off and channel is not None and channel.broken is None:
            self.powering_off = True
            try:
                channel.command(self.profile.power_off_command,
                                timeout=self.settings.command_timeout_s)
                self.emit(EventKind.POWERED_OFF, self.profile.power_off_command)
            except ModemRebootedError as exc:  # SIM800: "NORMAL POWER DOWN" is the whole answer
                self.emit(EventKind.POWERED_OFF, f"{self.profile.power_off_command}: {exc}")
            except Exception as exc:  # noqa: BLE001 - shutting down: report, then go on
                self.emit(EventKind.ERROR, f"{self.profile.power_off_command} failed: {exc}")
        if channel is not None:
            channel.close()
        self._channel = None
        self.set_state(ModemState.STOPPED)

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def wait_ready(self, timeout: float) -> bool:
        with self._ready:
            return self._ready.wait_for(lambda: self.ready, timeout)

    @property
    def ready(self) -> bool:
        return self.tracker.get().state is ModemState.READY

    def health(self) -> ModemHealth:
        return self.tracker.get()

    # --- sending -----------------------------------------------------------------------------

    def send(self, pdu: str, tpdu_length: int, *, more_to_follow: bool = False) -> int:
        """Send one SMS-SUBMIT PDU; returns TP-MR.

        Raises CmsError/CmeError/AtCommandError (refused, not sent), ModemUnavailableError (not
        ready, or the prompt never came: certainly not sent) or SendInDoubtError (Ctrl-Z was
        written and no result came back: maybe sent).
        """
        channel = self._channel
        state = self.tracker.get().state
        if channel is None or state is not ModemState.READY:
            raise ModemUnavailableError(f"modem is {state.value}")
        timeout = self.settings.command_timeout_s
        try:
            if more_to_follow and self.cmms:
                # Keep the relay link open for the next part (TS 27.005 3.5.6, n=1).
                channel.command("AT+CMMS=1", timeout=timeout)
            response = channel.send_pdu(f"AT+CMGS={tpdu_length}", pdu,
                                        prompt_timeout=self.settings.prompt_timeout_s,
                                        result_timeout=self.settings.send_timeout_s)
        except SendInDoubtError as exc:
            self.tracker.count(in_doubt=1)
            self.emit(EventKind.IN_DOUBT, str(exc))
            if not isinstance(exc.__cause__, ModemRebootedError):  # a reboot has its own URC
                self.tracker.count(timeouts=1)
                self._supervisor.post(WorkKind.TIMEOUT, str(exc))
            raise
        except SendNotSentError as exc:
            # Certainly not sent: the caller requeues without counting an attempt; the
            # supervisor checks the modem (banners already reached it as URCs, an echo alone
            # is found by the poll) and re-initialises it.
            self.tracker.count(not_sent=1)
            self.emit(EventKind.NOT_SENT, f"{exc.reason.value}: {exc}")
            self._supervisor.post(WorkKind.POLL, str(exc))
            raise
        except AtTimeoutError as exc:
            self.tracker.count(timeouts=1)
            self._supervisor.post(WorkKind.TIMEOUT, str(exc))
            raise ModemUnavailableError(f"not sent: {exc}") from exc
        except CmsError as exc:
            self.tracker.count(send_errors=1)
            self.tracker.update(last_error=str(exc))
            if classify_cms(exc.code).policy is CmsPolicy.HOLD:
                self._supervisor.post(WorkKind.POLL, str(exc))
            raise
        except ModemUnavailableError:
            raise
        except Exception as exc:  # AtCommandError / CmeError: refused
            self.tracker.count(send_errors=1)
            self.tracker.update(last_error=str(exc))
            raise
        self._supervisor.check_echo(channel)
        value = response.first("+CMGS") or ""
        try:
            mr = int(value.split(",")[0])
        except ValueError:
            self.tracker.count(in_doubt=1)
            raise SendInDoubtError(f"AT+CMGS answered OK without a TP-MR ({value!r})") from None
        self.tracker.count(sent=1)
        self.tracker.update(last_seen=self.clock.now())
        return mr

    # --- USSD --------------------------------------------------------------------------------

    def ussd(self, code: str, timeout: float = 30) -> str:
        """``AT+CUSD=1,"<code>",15`` and the text of the ``+CUSD`` answer."""
        channel = self._channel
        state = self.tracker.get().state
        if channel is None or state not in (ModemState.READY, ModemState.NO_NETWORK):
            raise ModemUnavailableError(f"modem is {state.value}")
        with self._ussd_lock:
            self._ussd_event.clear()
            self._ussd_reply.clear()
            channel.command(f'AT+CUSD=1,"{code}",15', timeout=self.settings.command_timeout_s)
            if not self.clock.wait(self._ussd_event, timeout):
                raise AtTimeoutError(f"+CUSD answer to {code}", timeout)
            reply = self._ussd_reply[0]
        if reply.status in (2, 4, 5) and not reply.text:
            raise UssdError(f"USSD {code}: session ended with status {reply.status}")
        return reply.text

    # --- used by the supervisor --------------------------------------------------------------

    def open_channel(self) -> AtChannel:
        """(Re)open the port and start a fresh AT channel."""
        old, self._channel = self._channel, None
        if old is not None:
            old.close()
        try:
            # exclusive (pyserial's flock): a second simgate on the same port, or a stale one
            # reopening a recycled pty, would steal bytes from our reader; its open fails instead.
            port = self._serial_factory(self.port_url, baudrate=self.profile.baudrate,
                                        timeout=0.1, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortUnavailableError(f"cannot open {self.port_url}: {exc}") from exc
        channel = AtChannel(port, self._on_urc, name=f"modem-{self.profile.name}",
                            clock=self.clock, on_broken=self._on_port_broken)
        channel.start()
        self._channel = channel
        return channel

    def _on_port_broken(self, exc: Exception) -> None:
        """The reader died: recover now, not at the next health poll (a swapped modem)."""
        self._supervisor.post(WorkKind.PORT, str(exc))

    @property
    def channel(self) -> AtChannel | None:
        return self._channel

    def set_state(self, state: ModemState, **changes: Any) -> None:
        for kind, detail in self.tracker.update(state=state, **changes):
            self.emit(kind, detail)
        with self._ready:
            self._ready.notify_all()

    def update_health(self, **changes: Any) -> None:
        for kind, detail in self.tracker.update(**changes):
            self.emit(kind, detail)

    def emit(self, kind: EventKind, detail: str) -> None:
        log.info("modem %s: %s %s", self.profile.name, kind.value, detail)
        event = ModemEvent(kind, detail, self.clock.now())
        with self._listener_lock:
            try:
                self._listener.on_event(event)
            except Exception:  # noqa: BLE001 - an event sink failing must not stop the modem
                log.exception("listener.on_event failed for %s", event)

    def hand_over(self, kind: str, pdu: str) -> bool:
        """Give a PDU to the listener; True when it returned (so it may be deleted)."""
        with self._listener_lock:
            try:
                if kind == "deliver":
                    self._listener.on_deliver(pdu)
                else:
                    self._listener.on_status_report(pdu)
            except Exception as exc:  # noqa: BLE001 - the PDU stays stored for the next scan
                log.exception("listener failed on a %s PDU; it stays on the SIM", kind)
                error = f"listener failed on {kind}: {exc}"
            else:
                self.tracker.count(**({"received": 1} if kind == "deliver"
                                      else {"status_reports": 1}))
                return True
        self.emit(EventKind.ERROR, error)
        self._supervisor.post(WorkKind.RESCAN_SOON, kind)  # it stays stored: try again shortly
        return False

    # --- URCs (on the AT channel's URC thread) -----------------------------------------------

    def _on_urc(self, urc: Urc) -> None:
        kind = urc.kind
        if kind in (UrcKind.SMS, UrcKind.STATUS_REPORT):
            self._routed(urc)
        elif kind in (UrcKind.NEW_SMS, UrcKind.STATUS_REPORT_STORED):
            memory, index = parse_memory_index(urc.value)
            self._supervisor.post(WorkKind.READ, (memory, index))
        elif kind is UrcKind.BOOT:
            self._supervisor.post(WorkKind.BOOT, urc)
        elif kind is UrcKind.POWER_DOWN:
            if not self.powering_off:
                self.emit(EventKind.UNDER_VOLTAGE if is_under_voltage(urc.line)
                          else EventKind.POWERED_OFF, urc.line)
                self._supervisor.post(WorkKind.POWER_DOWN, urc.line)
        elif kind is UrcKind.VOLTAGE_WARNING:
            self.emit(EventKind.UNDER_VOLTAGE, urc.line)
        elif kind is UrcKind.SIM:
            self._supervisor.post(WorkKind.SIM, parse_cpin(urc.value))
        elif kind is UrcKind.REGISTRATION:
            try:
                self._supervisor.post(WorkKind.REGISTRATION, parse_registration(urc.value, query=False))
            except ValueError:
                log.debug("unparsed registration URC %r", urc.line)
        elif kind is UrcKind.USSD:
            self._ussd_reply.append(parse_cusd(urc.value))
            self._ussd_event.set()
        else:
            log.debug("modem %s: ignored URC %r", self.profile.name, urc.line)

    def _routed(self, urc: Urc) -> None:
        """+CMT / +CDS carry the PDU inline: hand over, then acknowledge when CSMS=1."""
        if urc.body is None:
            log.warning("%s without a PDU line", urc.line)
            return
        kind = "deliver" if urc.kind is UrcKind.SMS else "status-report"
        if self.hand_over(kind, urc.body) and self.cnma_needed and self._channel is not None:
            try:
                self._channel.command("AT+CNMA", timeout=self.settings.command_timeout_s)
            except CmsError as exc:
                if classify_cms(exc.code).policy is CmsPolicy.SKIP:  # 340: nothing to ack (a
                    log.debug("AT+CNMA: %s", exc)            # +CDS flushed from the buffer)
                    return
                self.emit(EventKind.ERROR, f"AT+CNMA failed: {exc}")
                self._supervisor.post(WorkKind.POLL, "AT+CNMA failed")   # routing may be dropped
            except Exception as exc:  # noqa: BLE001 - the network will redeliver; record it
                self.emit(EventKind.ERROR, f"AT+CNMA failed: {exc}")
                self._supervisor.post(WorkKind.POLL, "AT+CNMA failed")


__all__ = ["Modem", "ModemEvent", "ModemHealth", "ModemListener", "ModemSettings",
           "ModemState", "EventKind", "Registration", "SimState", "ModemRebootedError"]
