"""Status reports: match an SMS-STATUS-REPORT to the part it reports on, then update the message.

The rules are the lifecycle's (``gateway.lifecycle.match_report`` and ``report``): by TP-MR,
recipient and time window, newest first; held while a part to that recipient is still sending
(the report may be its own); else taken by an in-doubt part within its own window (that is how an
in-doubt send is later proven delivered). The store runs them in one transaction
(``apply_status_report``); this module decodes, keeps what it cannot decode, and logs.
"""
from __future__ import annotations

import logging
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.sms import StatusReport, decode_pdu
from gateway.errors import PduError
from gateway.lifecycle import number_suffix
from gateway.logsafe import shown
from gateway.store.protocol import ReportStorage

log = logging.getLogger(__name__)


class ReportMatcher:
    def __init__(self, store: ReportStorage, *, clock: Clock = SYSTEM_CLOCK) -> None:
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
            # Usually the report outran the recording of its own send; the store holds it.
            log.debug(
                "status report TP-MR %d for %s (TP-ST 0x%02X) matches no sent part yet: held",
                report.reference, report.recipient.number, report.status,
            )
            return
        log.info(
            "message %s: status report TP-MR %d TP-ST 0x%02X -> %s",
            msg.message_id, report.reference, report.status, msg.state.value,
        )
