"""Status reports: match an SMS-STATUS-REPORT to the part it reports on, then update the message.

TP-MR is one octet and wraps every 256 sends, so a report is matched by (TP-MR, recipient, time
window), newest first. A part whose AT+CMGS outcome was in doubt has no TP-MR; a report for the
same recipient that matches nothing else is taken to be its report (that is how an in-doubt send
is later proven delivered).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.sms import StatusReport, decode_pdu
from gateway.errors import PduError
from gateway.statuses import MessageState, error_for_tp_status, state_for_tp_status
from gateway.store import Store

log = logging.getLogger(__name__)

MATCH_WINDOW = timedelta(days=3)
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
            log.error("undecodable status report %s: %s", pdu, exc)
            return
        if not isinstance(report, StatusReport):
            log.error("expected a status report, got %s", type(report).__name__)
            return
        self.apply(report)

    def apply(self, report: StatusReport) -> None:
        now = self.clock.now()
        since = (now - MATCH_WINDOW).timestamp()
        suffix = number_suffix(report.recipient.number)
        candidates = self.store.find_sent_parts(suffix, report.reference, since)
        if not candidates:
            candidates = self.store.find_sent_parts(suffix, None, since)
        if not candidates:
            self.unmatched += 1
            log.warning(
                "status report TP-MR %d for %s matches no sent part (TP-ST 0x%02X)",
                report.reference, report.recipient.number, report.status,
            )
            return
        part = candidates[0]
        final = state_for_tp_status(report.status)
        delivered = None if final is None else final is MessageState.DELIVERED
        error = error_for_tp_status(report.status)
        msg = self.store.record_part_report(part.part_id, report.status, delivered, now.timestamp(), error.id)
        log.info(
            "message %s: status report TP-MR %s TP-ST 0x%02X -> %s",
            part.message_id, report.reference, report.status, msg.state.value,
        )
