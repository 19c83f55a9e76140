"""SMS text mode (AT+CMGF=1): how stored and arriving messages look, and sending a typed text.

Our gateway, Gammu and smstools use PDU mode, but simpler gateways type the text after
``AT+CMGS="<da>"``; the formats follow 3GPP TS 27.005 section 4 with AT+CSDH=0, as the recorded
python-gsmmodem dialogs show them (``+CMGL: 0,"REC UNREAD","+27...",,"13/01/28,14:51:42+08"``).
Messages are still stored as PDUs; this module renders and parses at the edge only.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from gateway.emulator.result import Prompt, Result
from gateway.emulator.storage import Stat, StorageFull, StoredMessage
from gateway.errors import EncodingError, PduError
from gateway.sms import Deliver, StatusReport, Submit, SubmitOptions, decode_pdu, encode_text

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem

STAT_NAMES = {Stat.REC_UNREAD: "REC UNREAD", Stat.REC_READ: "REC READ",
              Stat.STO_UNSENT: "STO UNSENT", Stat.STO_SENT: "STO SENT"}
STAT_BY_NAME: dict[str, Stat | None] = {name: stat for stat, name in STAT_NAMES.items()}
STAT_BY_NAME["ALL"] = None


def timestamp(moment: datetime) -> str:
    """``yy/MM/dd,hh:mm:ss+zz`` with the zone in quarter hours."""
    offset = moment.utcoffset()
    quarters = int(offset.total_seconds() // 900) if offset is not None else 0
    return moment.strftime("%y/%m/%d,%H:%M:%S") + f"{quarters:+03d}"


def _type_of(number: str) -> int:
    return 145 if number.startswith("+") else 129


def body(decoded: Deliver | Submit, charset: str) -> str:
    """The user data as the TE sees it: text, or hex for UCS-2 (and any text under "UCS2") and
    8-bit data."""
    if decoded.text is None:
        return (decoded.data or b"").hex().upper()
    if decoded.encoding == "ucs2" or charset == "UCS2":
        return decoded.text.encode("utf-16-be").hex().upper()
    return decoded.text


def _report_fields(report: StatusReport) -> str:
    ra = report.recipient.formatted
    return (f'6,{report.reference},"{ra}",{_type_of(ra)},"{timestamp(report.timestamp)}",'
            f'"{timestamp(report.discharge_time)}",{report.status}')


def render(stat: Stat, pdu: str, charset: str) -> tuple[str, str | None]:
    """(header fields after ``+CMGL: <index>,`` / ``+CMGR: ``, body line or None)."""
    try:
        decoded = decode_pdu(pdu)
    except PduError:
        return f'"{STAT_NAMES[stat]}",,,', None
    name = f'"{STAT_NAMES[stat]}"'
    if isinstance(decoded, StatusReport):
        return f"{name},{_report_fields(decoded)}", None
    if isinstance(decoded, Deliver):
        return (f'{name},"{decoded.sender.formatted}",,"{timestamp(decoded.timestamp)}"',
                body(decoded, charset))
    return f'{name},"{decoded.destination.formatted}",,', body(decoded, charset)


def arrival_lines(pdu: str, charset: str) -> list[str]:
    """``+CMT`` / ``+CDS`` in text mode for an arriving PDU."""
    decoded = decode_pdu(pdu)
    if isinstance(decoded, StatusReport):
        return [f"+CDS: {_report_fields(decoded)}"]
    assert isinstance(decoded, Deliver)
    return [f'+CMT: "{decoded.sender.formatted}",,"{timestamp(decoded.timestamp)}"',
            body(decoded, charset)]


def typed_text(raw: str, charset: str) -> str:
    if charset == "UCS2":
        return bytes.fromhex(raw.replace("\n", "")).decode("utf-16-be")
    return raw


def finish_text(m: "EmulatedModem", prompt: Prompt, raw: str) -> Result:
    """Ctrl-Z after a typed text: one SMS-SUBMIT built from AT+CSMP, stored or sent."""
    from gateway.emulator.commands_sms import memory, send_submit
    fo, _vp, pid, dcs = m.s.csmp
    try:
        text = typed_text(raw, m.s.cscs)
        parts = encode_text(prompt.destination, text, SubmitOptions(
            status_report=bool(fo & 0x20), pid=pid, force_ucs2=(dcs & 0x0C) == 0x08,
            flash=(dcs & 0x13) == 0x10, max_parts=1))
    except (EncodingError, ValueError):
        return m.cms(305)     # too long for one SMS, or not text in the character set
    pdu = parts[0].pdu
    if prompt.store:
        try:
            index = memory(m, m.s.cpms[1]).store(StoredMessage(Stat(prompt.stat), pdu))
        except StorageFull:
            return m.cms(322)
        return Result(info=[f"+CMGW: {index}"])
    submit = decode_pdu(pdu)
    assert isinstance(submit, Submit)
    return send_submit(m, pdu, submit, "+CMGS", None)
