"""The modem driver: one object per modem that the rest of simgate talks to.

Threads (all named, all with a stop event and bounded joins): the AT channel's reader and URC
threads, and one supervisor (``supervisor.py``, the owner of the channel, the session and the
work queue) that brings the modem up, polls health, reads stored SMS and runs the recovery
ladder (``recovery.py``).  ``send`` runs on the caller's thread; the AT channel
keeps it to one command in flight.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

import serial

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.errors import (AtTimeoutError, CmsError, ModemUnavailableError, SendInDoubtError)
from gateway.modem.context import HealthSink, ModemContext, SerialFactory
from gateway.modem.errors import (CmsPolicy, ModemRebootedError, SendNotSentError,
                                  classify_cms)
from gateway.modem.health import (EventKind, ModemEvent, ModemHealth, ModemState, Registration,
                                  SimState)
from gateway.modem.power import PowerSwitch
from gateway.modem.profiles import ModemProfile
from gateway.modem.supervisor import Supervisor
from gateway.modem.work import WorkKind
from gateway.modem.ussd import UssdError, UssdReply

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


class Modem:
    """The façade the rest of simgate talks to: start, stop, send, ussd, health.

    Everything else (the channel, the session, the work queue, the URCs) belongs to the
    ``Supervisor``; this class holds the two things it shares with it, a ``ModemContext`` and a
    ``HealthSink``.
    """

    def __init__(self, port_url: str, profile: ModemProfile, listener: ModemListener, *,
                 settings: ModemSettings = ModemSettings(), power: PowerSwitch | None = None,
                 clock: Clock = SYSTEM_CLOCK,
                 serial_factory: SerialFactory = serial.serial_for_url) -> None:
        self.ctx = ModemContext(port_url or profile.port, profile, settings, power, clock,
                                serial_factory)
        self._health = HealthSink(profile.name, listener, clock)
        self._ussd_lock = threading.Lock()
        self._ussd_reply: list[UssdReply] = []
        self._ussd_event = threading.Event()
        self._supervisor = Supervisor(self.ctx, self._health, listener, self._ussd_answer)
        self._thread: threading.Thread | None = None

    @property
    def port_url(self) -> str:
        return self.ctx.port_url

    @property
    def profile(self) -> ModemProfile:
        return self.ctx.profile

    @property
    def settings(self) -> ModemSettings:
        return self.ctx.settings

    @property
    def power(self) -> PowerSwitch | None:
        return self.ctx.power

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Non-blocking: the supervisor thread brings the modem up and keeps it healthy."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._supervisor.run,
                                        name=f"modem-{self.profile.name}", daemon=True)
        self._thread.start()

    def stop(self, power_off: bool = False) -> None:
        """Stop the threads (bounded joins); ``power_off`` sends AT+CPOWD=1 / AT+CPOF first,
        otherwise inline routing is parked so nothing arriving meanwhile is lost."""
        self._supervisor.stopping.set()
        self._supervisor.wake()
        if self._thread is not None:
            self._thread.join(self.settings.command_timeout_s + 5)
        self._supervisor.shutdown(power_off)

    def wait_ready(self, timeout: float) -> bool:
        return self._health.wait_ready(timeout)

    @property
    def ready(self) -> bool:
        return self._health.get().state is ModemState.READY

    def health(self) -> ModemHealth:
        return self._health.get()

    # --- sending -----------------------------------------------------------------------------

    def send(self, pdu: str, tpdu_length: int, *, more_to_follow: bool = False) -> int:
        """Send one SMS-SUBMIT PDU; returns TP-MR.

        Raises CmsError/CmeError/AtCommandError (refused, not sent), ModemUnavailableError (not
        ready, or the prompt never came: certainly not sent) or SendInDoubtError (Ctrl-Z was
        written and no result came back: maybe sent).
        """
        channel = self._supervisor.current_channel()
        state = self._health.get().state
        if channel is None or state is not ModemState.READY:
            raise ModemUnavailableError(f"modem is {state.value}")
        timeout = self.settings.command_timeout_s
        try:
            if more_to_follow and self._supervisor.cmms:
                # Keep the relay link open for the next part (TS 27.005 3.5.6, n=1).
                channel.command("AT+CMMS=1", timeout=timeout)
            response = channel.send_pdu(f"AT+CMGS={tpdu_length}", pdu,
                                        prompt_timeout=self.settings.prompt_timeout_s,
                                        result_timeout=self.settings.send_timeout_s)
        except SendInDoubtError as exc:
            self._health.count(in_doubt=1)
            self._health.emit(EventKind.IN_DOUBT, str(exc))
            if not isinstance(exc.__cause__, ModemRebootedError):  # a reboot has its own URC
                self._health.count(timeouts=1)
                self._supervisor.post(WorkKind.TIMEOUT, str(exc))
            raise
        except SendNotSentError as exc:
            # Certainly not sent: the caller requeues without counting an attempt; the
            # supervisor checks the modem (banners already reached it as URCs, an echo alone
            # is found by the poll) and re-initialises it.
            self._health.count(not_sent=1)
            self._health.emit(EventKind.NOT_SENT, f"{exc.reason.value}: {exc}")
            self._supervisor.post(WorkKind.POLL, str(exc))
            raise
        except AtTimeoutError as exc:
            self._health.count(timeouts=1)
            self._supervisor.post(WorkKind.TIMEOUT, str(exc))
            raise ModemUnavailableError(f"not sent: {exc}") from exc
        except CmsError as exc:
            self._health.count(send_errors=1)
            self._health.update(last_error=str(exc))
            if classify_cms(exc.code).policy is CmsPolicy.HOLD:
                self._supervisor.post(WorkKind.POLL, str(exc))
            raise
        except ModemUnavailableError:
            raise
        except Exception as exc:  # AtCommandError / CmeError: refused
            self._health.count(send_errors=1)
            self._health.update(last_error=str(exc))
            raise
        self._supervisor.check_echo(channel)
        value = response.first("+CMGS") or ""
        try:
            mr = int(value.split(",")[0])
        except ValueError:
            self._health.count(in_doubt=1)
            raise SendInDoubtError(f"AT+CMGS answered OK without a TP-MR ({value!r})") from None
        self._health.count(sent=1)
        self._health.update(last_seen=self.ctx.clock.now())
        return mr

    # --- USSD --------------------------------------------------------------------------------

    def ussd(self, code: str, timeout: float = 30) -> str:
        """``AT+CUSD=1,"<code>",15`` and the text of the ``+CUSD`` answer."""
        channel = self._supervisor.current_channel()
        state = self._health.get().state
        if channel is None or state not in (ModemState.READY, ModemState.NO_NETWORK):
            raise ModemUnavailableError(f"modem is {state.value}")
        with self._ussd_lock:
            self._ussd_event.clear()
            self._ussd_reply.clear()
            channel.command(f'AT+CUSD=1,"{code}",15', timeout=self.settings.command_timeout_s)
            if not self.ctx.clock.wait(self._ussd_event, timeout):
                raise AtTimeoutError(f"+CUSD answer to {code}", timeout)
            reply = self._ussd_reply[0]
        if reply.status in (2, 4, 5) and not reply.text:
            raise UssdError(f"USSD {code}: session ended with status {reply.status}")
        return reply.text

    def _ussd_answer(self, reply: UssdReply) -> None:
        """A +CUSD arrived (URC thread)."""
        self._ussd_reply.append(reply)
        self._ussd_event.set()


__all__ = ["Modem", "ModemEvent", "ModemHealth", "ModemListener", "ModemSettings",
           "ModemState", "EventKind", "Registration", "SimState", "ModemRebootedError"]
