"""The modem listener simgate installs: inbound SMS, status reports and modem events into the store.

The driver calls these from its event thread and deletes an SMS from the SIM only after the call
returns, so each method returns only after its data is committed.
"""
from __future__ import annotations

import logging
from typing import Any

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.inbound import InboundHandler
from gateway.reports import ReportMatcher
from gateway.store.protocol import EventStorage

log = logging.getLogger(__name__)


class StoreListener:
    def __init__(self, store: EventStorage, inbound: InboundHandler, reports: ReportMatcher, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.inbound = inbound
        self.reports = reports
        self.clock = clock

    def on_deliver(self, pdu: str) -> None:
        self.inbound.handle_pdu(pdu)

    def on_status_report(self, pdu: str) -> None:
        self.reports.handle_pdu(pdu)

    def on_event(self, event: Any) -> None:
        kind = getattr(event, "kind", "event")
        kind = getattr(kind, "value", kind)
        detail = str(getattr(event, "detail", ""))
        log.debug("modem event %s %s", kind, detail)  # the driver already logged it
        self.store.add_modem_event(str(kind), detail, self.clock.now().timestamp())
