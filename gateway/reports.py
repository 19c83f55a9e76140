"""Status reports: match an SMS-STATUS-REPORT to the part it reports on, then update the message.

TP-MR is one octet and wraps every 256 sends, so a report is matched by (TP-MR, recipient, time
window), newest first. A part whose AT+CMGS outcome was in doubt has no TP-MR; a report for the
same recipient that matches nothing else is taken to be its report (that is how an in-doubt send
is later proven delivered). The matching itself is one store transaction (``apply_status_report``),
and a report that outruns the recording of its send is kept pending until that send is recorded.
"""
from __future__ import annotations

import logging
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.sms import StatusReport, decode_pdu
from gateway.errors import PduError
from gateway.logsafe import shown
from gateway.store import Store

log = logging.getLogger(__name__)

SUFFIX_DIGITS = 9  # national vs international forms of one number share their last digits


def number_suffix(number: str) -> str:
    digits = "".join(c for c in number if c.isdigit())
    return digits[-SUFFIX_DIGITS:] if digits else number


class ReportMatcher:
    def __init__(self, store: Store, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.clock = clock
        self.unmatched = 0

    def handle_pdu(self, pdu: str) -> None:
        try:
            report = decode_pdu(pdu)
        except PduError as exc:
            self._keep_raw(pdu, f"undecodable: {exc}")
            return
        if not isinstance(report, StatusReport):
            self._keep_raw(pdu, f"not a status report: {type(report).__name__}")
            return
        self.apply(report)

    def _keep_raw(self, pdu: str, reason: str) -> None:
        """Kept as a raw row before the driver deletes it from the SIM: dropping it lost it."""
        raw = self.store.add_raw_report(pdu, reason, self.clock.now().timestamp())
        log.error("status report kept as raw report %d (%s): %s", raw.pk, shown(reason), shown(pdu))

    def apply(self, report: StatusReport) -> None:
        now = self.clock.now().timestamp()
        msg = self.store.apply_status_report(number_suffix(report.recipient.number), report.reference, report.status, now)
        if msg is None:
            self.unmatched += 1
            # Usually the report outran the recording of its own send; the store keeps it pending.
            log.debug(
                "status report TP-MR %d for %s (TP-ST 0x%02X) matches no sent part yet: kept pending",
                report.reference, report.recipient.number, report.status,
            )
            return
        log.info(
            "message %s: status report TP-MR %d TP-ST 0x%02X -> %s",
            msg.message_id, report.reference, report.status, msg.state.value,
        )
