"""The virtual GSM network behind the emulated modems: SMSC, delivery, status reports, USSD.

A submit accepted by one modem reaches the modem that owns the destination MSISDN as an
SMS-DELIVER carrying the submit's user data verbatim (so concatenation headers, UCS-2 and binary
survive), and a status report follows when TP-SRR asked for one, with an outcome chosen by the
first matching destination pattern. A modem that cannot take an SMS (off, unregistered, storage
full, ack missing) gets it again later, as an SMSC would retry. The network owns one thread.
"""
from __future__ import annotations

import fnmatch
import itertools
import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.emulator.scheduler import Scheduler
from gateway.errors import PduError
from gateway.sms import (
    decode_pdu, encode_deliver, encode_deliver_binary, encode_deliver_text, encode_status_report,
)

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem
    from gateway.sms import Submit

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "temporary", "permanent", "none"]
OUTCOME_STATUS: dict[str, int] = {"delivered": 0x00, "temporary": 0x22, "permanent": 0x41}
"""TP-ST per TS 23.040 9.2.3.15: completed / no response from SME (SC still trying) /
incompatible destination (SC gives up)."""


@dataclass(frozen=True)
class SentRecord:
    """One SMS-SUBMIT the network accepted from a modem (one per part)."""
    destination: str
    text: str | None
    data: bytes | None
    mr: int
    parts: tuple[int, int, int] | None   # (reference, total, sequence) of a concatenated part
    time: datetime
    status_report_requested: bool
    pdu: str


@dataclass(frozen=True)
class ReceivedRecord:
    """One SMS-DELIVER that reached a modem (one per part)."""
    sender: str
    text: str | None
    data: bytes | None
    parts: tuple[int, int, int] | None
    time: datetime
    pdu: str
    memory: str | None = None   # where it was stored; None when routed as +CMT or not stored
    index: int | None = None


@dataclass(frozen=True)
class ReportRecord:
    """One SMS-STATUS-REPORT that reached a modem."""
    reference: int
    recipient: str
    status: int
    outcome: str
    time: datetime
    pdu: str
    routed: str = ""   # "+CDS", "SR:<index>", "dropped" (CNMI ds=0) or "unacknowledged" (ds=0, CSMS=1)


@dataclass(frozen=True)
class _Delivery:
    to: str
    pdu: str
    message_class: int | None
    record: ReceivedRecord | ReportRecord


def _parts_of(decoded: object) -> tuple[int, int, int] | None:
    concat = getattr(decoded, "concat", None)
    return None if concat is None else (concat.ref, concat.total, concat.seq)


class VirtualNetwork:
    def __init__(self, clock: Clock | None = None, *, smsc: str = "+447700900000",
                 country_code: str = "44") -> None:
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.smsc = smsc
        self.country_code = country_code
        self.operator, self.operator_short, self.plmn = "SIMGATE", "SIMGATE", "00101"
        self.lac, self.cell_id = "1A2B", "01C3"
        self._lock = threading.Lock()
        self._modems: dict[str, EmulatedModem] = {}
        self._outcomes: list[tuple[str, Outcome, float | None, int | None]] = []
        self._pending: dict[str, list[_Delivery]] = {}
        self._ussd: dict[str, str] = {"*100#": "Your balance is 12.34 GBP.",
                                      "*#100#": "Your number is {msisdn}."}
        self._refs = itertools.count(1)
        self._last_injected: dict[str, list[_Delivery]] = {}
        self._scheduler = Scheduler(self.clock, "emu-network")

    # ----------------------------------------------------------------------------- configuration
    def set_outcome(self, pattern: str, outcome: Outcome, delay: float | None = None, *,
                    status: int | None = None) -> None:
        """Status reports for destinations matching ``pattern`` (fnmatch; first match wins).

        ``delay`` None takes the sending modem's ``timing.report_delay``; ``status`` overrides the
        TP-ST value of the outcome (e.g. 0x46 "validity period expired").
        """
        if outcome not in ("delivered", "temporary", "permanent", "none"):
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._lock:
            self._outcomes.append((pattern, outcome, delay, status))

    def set_ussd(self, code: str, answer: str) -> None:
        """The answer to ``AT+CUSD=1,"<code>"``; ``{msisdn}`` is filled in."""
        with self._lock:
            self._ussd[code] = answer

    def ussd_answer(self, code: str, msisdn: str = "") -> str | None:
        with self._lock:
            answer = self._ussd.get(code)
        return None if answer is None else answer.replace("{msisdn}", msisdn)

    def outcome_for(self, destination: str) -> tuple[Outcome, float | None, int]:
        with self._lock:
            for pattern, outcome, delay, status in self._outcomes:
                if fnmatch.fnmatchcase(destination, pattern):
                    return outcome, delay, OUTCOME_STATUS.get(outcome, 0) if status is None \
                        else status
        return "delivered", None, 0

    # ----------------------------------------------------------------------------- modems
    def normalize(self, number: str) -> str:
        """Digits in international form: "+44 7700 900001", "07700900001", "0044..." alike."""
        digits = "".join(ch for ch in number if ch.isdigit())
        if number.strip().startswith("+"):
            return digits
        if digits.startswith("00"):
            return digits[2:]
        if digits.startswith("0"):
            return self.country_code + digits[1:]
        return digits

    def attach(self, modem: "EmulatedModem") -> None:
        with self._lock:
            self._modems[self.normalize(modem.msisdn)] = modem

    def detach(self, modem: "EmulatedModem") -> None:
        with self._lock:
            key = self.normalize(modem.msisdn)
            if self._modems.get(key) is modem:
                del self._modems[key]

    def modem_for(self, number: str) -> "EmulatedModem | None":
        with self._lock:
            return self._modems.get(self.normalize(number))

    @property
    def modems(self) -> list["EmulatedModem"]:
        with self._lock:
            return list(self._modems.values())

    def close(self) -> None:
        self._scheduler.stop()

    # ----------------------------------------------------------------------------- traffic
    def submit(self, sender: "EmulatedModem", submit: "Submit", mr: int, pdu: str, *,
               report_now: bool = False) -> None:
        """A modem's AT+CMGS/AT+CMSS was accepted: record, deliver, schedule the report.

        ``report_now``: the report (if one is due) reaches the sender before this returns,
        whatever the delay, so it can precede the send's own result (fault
        ``report_before_result``)."""
        now = self.clock.now()
        destination = submit.destination.formatted
        sender.sent.append(SentRecord(destination, submit.text, submit.data, mr,
                                      _parts_of(submit), now, submit.status_report_requested, pdu))
        sender.notify()
        if self.modem_for(destination) is not None:
            deliver = encode_deliver(sender.msisdn, timestamp=now, pid=submit.pid, dcs=submit.dcs,
                                     user_data=submit.user_data, udl=submit.udl,
                                     udhi=submit.udhi, smsc=self.smsc)
            record = ReceivedRecord(sender.msisdn, submit.text, submit.data, _parts_of(submit),
                                    now, deliver)
            self._send(_Delivery(destination, deliver, submit.message_class, record),
                       sender.timing.network_delay)
        if not submit.status_report_requested:
            return
        outcome, delay, status = self.outcome_for(destination)
        if outcome == "none":
            return
        delay = sender.timing.report_delay if delay is None else delay

        def report() -> None:
            done = self.clock.now()
            report_pdu = encode_status_report(mr, submit.destination, timestamp=now,
                                              discharge_time=done, status=status, smsc=self.smsc)
            record = ReportRecord(mr, destination, status, outcome, done, report_pdu)
            self._attempt(_Delivery(sender.msisdn, report_pdu, None, record))
        if report_now:
            report()
        else:
            self._scheduler.call_later(delay, report)

    def inject(self, to: str, sender: str, text: str | None = None, *, data: bytes | None = None,
               ucs2: bool | None = None, flash: bool = False) -> int:
        """An SMS from outside to the modem owning ``to``; returns the number of parts."""
        if (text is None) == (data is None):
            raise ValueError("give exactly one of text and data")
        if self.modem_for(to) is None:
            raise LookupError(f"no emulated modem has the number {to}")
        now = self.clock.now()
        ref = next(self._refs) % 256
        if text is not None:
            pdus = encode_deliver_text(sender, text, timestamp=now, concat_ref=ref,
                                       smsc=self.smsc, flash=flash, ucs2=ucs2)
        else:
            pdus = encode_deliver_binary(sender, data or b"", timestamp=now, concat_ref=ref,
                                         smsc=self.smsc)
        deliveries: list[_Delivery] = []
        for pdu in pdus:
            try:
                decoded = decode_pdu(pdu)
            except PduError:   # our own codec's output: a failure here is a codec bug
                log.exception("emulator could not decode its own SMS-DELIVER %s", pdu)
                decoded = None
            record = ReceivedRecord(sender, getattr(decoded, "text", text),
                                    getattr(decoded, "data", data), _parts_of(decoded), now, pdu)
            deliveries.append(_Delivery(to, pdu, 0 if flash else None, record))
        with self._lock:
            self._last_injected[self.normalize(to)] = deliveries
        for delivery in deliveries:
            self._send(delivery, 0.0)
        return len(pdus)

    def redeliver(self, to: str, part: int | None = None) -> int:
        """Deliver the last SMS injected to ``to`` again, byte for byte (same SCTS): all its
        parts, or only the 1-based ``part``. Returns how many PDUs went out again.

        An SC that missed the RP-ACK sends the same TPDU again, long after the message was
        assembled (issue 9 item 5); a receiver must recognise it as a duplicate.
        """
        with self._lock:
            deliveries = list(self._last_injected.get(self.normalize(to), []))
        if not deliveries:
            raise LookupError(f"nothing was injected to {to} yet")
        if part is not None:
            if not 1 <= part <= len(deliveries):
                raise ValueError(f"part must be within 1..{len(deliveries)}")
            deliveries = [deliveries[part - 1]]
        for delivery in deliveries:
            self._send(delivery, 0.0)
        return len(deliveries)

    def flush(self, modem: "EmulatedModem") -> None:
        """Retry what the network holds for ``modem`` (it just became able to receive)."""
        key = self.normalize(modem.msisdn)

        def run() -> None:
            with self._lock:
                held = self._pending.pop(key, [])
            for delivery in held:
                self._attempt(delivery)
        self._scheduler.call_soon(run)

    def _send(self, delivery: _Delivery, delay: float) -> None:
        self._scheduler.call_later(delay, lambda: self._attempt(delivery))

    def _attempt(self, delivery: _Delivery) -> None:
        target = self.modem_for(delivery.to)
        if target is not None:
            def retry() -> None:
                self._send(delivery, target.timing.redelivery_delay)
            record = replace(delivery.record, time=self.clock.now())
            if target.accept(delivery.pdu, delivery.message_class, record, retry):
                return
        with self._lock:
            self._pending.setdefault(self.normalize(delivery.to), []).append(delivery)
        if target is not None:
            target.notify()

    def pending_for(self, number: str) -> int:
        """How many SMS / reports the network holds for ``number``."""
        with self._lock:
            return len(self._pending.get(self.normalize(number), []))
