"""SMS and status reports arriving from the virtual network, routed as AT+CNMI says.

``<mt>`` chooses storage + ``+CMTI`` or an inline ``+CMT``; ``<ds>`` an inline ``+CDS`` or
(SIM7600) storage in "SR" + ``+CDSI``; with AT+CSMS=1 an inline one must be acknowledged by
AT+CNMA in time, else CNMI mt/ds drop to 0 and the SC retries (HARDWARE.md 3.2) until routing
is on again. Nothing here knows whether a host is attached: a report routed as ``+CDS`` while
no one reads the port is gone unless AT+CSMS=1 makes the SC retry it (issue 9 item 2).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from gateway.emulator import text_mode
from gateway.emulator.commands_sms import memory
from gateway.emulator.storage import Stat, StorageFull, StoredMessage
from gateway.sms import tpdu_length

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem
    from gateway.emulator.network import ReceivedRecord, ReportRecord


def can_receive(m: "EmulatedModem") -> bool:
    return m.uart_up and m.sms_ready and m.registered()


def _await_ack(m: "EmulatedModem", redeliver: Callable[[], None]) -> None:
    """CSMS=1: +CMT/+CDS must be acknowledged, else CNMI mt/ds drop to 0 and the SC retries."""
    m.ack_seq += 1
    seq = m.ack_seq
    m.ack_pending = (seq, redeliver)

    def expire() -> None:
        if m.ack_pending is not None and m.ack_pending[0] == seq:
            mode, _mt, bm, _ds, bfr = m.s.cnmi
            m.s.cnmi = (mode, 0, bm, 0, bfr)
            m.ack_pending = None
            m.notify()
            redeliver()
    m.at(m.timing.cnma_timeout, expire)


def _wait_for_ack(m: "EmulatedModem", redeliver: Callable[[], None]) -> bool:
    """CSMS=1 and a +CMT/+CDS still unacknowledged: TS 27.005 forbids the next one before the
    AT+CNMA, so the ME refuses this one and the SC retries it after redelivery_delay."""
    if m.s.csms != 1 or m.ack_pending is None:
        return False
    redeliver()
    return True


def deliver_sms(m: "EmulatedModem", pdu: str, message_class: int | None,
                record: "ReceivedRecord", redeliver: Callable[[], None]) -> bool:
    """An SMS-DELIVER reaches the modem; False when it cannot take it (the network retries)."""
    if not can_receive(m):
        return False
    _mode, mt, _bm, _ds, _bfr = m.s.cnmi
    if (mt == 2 and message_class != 2) or (mt == 3 and message_class == 3):
        if _wait_for_ack(m, redeliver):
            return True
        m.emit_sms_urc(text_mode.arrival_lines(pdu, m.s.cscs) if m.s.cmgf
                       else [f"+CMT: ,{tpdu_length(pdu)}", pdu])
        if m.s.csms == 1:
            _await_ack(m, redeliver)
        m.received.append(record)
        m.notify()
        return True
    if m.store_inbound:
        name = m.s.cpms[2]
        try:
            index = memory(m, name).store(StoredMessage(Stat.REC_UNREAD, pdu))
        except StorageFull:
            return False
        record = replace(record, memory=name, index=index)
        if mt in (1, 2, 3):
            m.emit_sms_urc([f'+CMTI: "{name}",{index}'])
    m.received.append(record)
    m.notify()
    return True


def deliver_report(m: "EmulatedModem", pdu: str, record: "ReportRecord",
                   redeliver: Callable[[], None]) -> bool:
    """An SMS-STATUS-REPORT reaches the modem, routed by CNMI <ds>."""
    if not can_receive(m):
        return False
    ds = m.s.cnmi[3]
    routed = "dropped"
    if ds == 0 and m.s.csms == 1:
        # Phase 2+: only the host's AT+CNMA acknowledges a report, and with routing off (the
        # host chose ds=0, or a missed AT+CNMA turned it off) none will come: the SC keeps the
        # report and tries again after redelivery_delay, until routing is back (inferred).
        redeliver()   # the network's retry, after redelivery_delay
        m.reports.append(replace(record, routed="unacknowledged"))
        m.notify()
        return True
    if ds == 1:
        if _wait_for_ack(m, redeliver):
            m.reports.append(replace(record, routed="unacknowledged"))
            m.notify()
            return True
        m.emit_sms_urc(text_mode.arrival_lines(pdu, m.s.cscs) if m.s.cmgf
                       else [f"+CDS: {tpdu_length(pdu)}", pdu])
        if m.s.csms == 1:
            _await_ack(m, redeliver)
        routed = "+CDS"
    elif ds == 2 and m.profile.status_report_memory:
        name = m.profile.status_report_memory
        try:
            index = memory(m, name).store(StoredMessage(Stat.REC_UNREAD, pdu))
        except StorageFull:
            return False
        m.emit_sms_urc([f'+CDSI: "{name}",{index}'])
        routed = f"{name}:{index}"
    m.reports.append(replace(record, routed=routed))
    m.notify()
    return True
