"""Decoding PDUs as a modem hands them over: SMS-DELIVER, SMS-STATUS-REPORT and SMS-SUBMIT.

``decode_pdu`` raises ``PduError`` and nothing else: every field read goes through a bounds-
checked reader, and the one catch-all below turns any remaining surprise into a PduError too,
because a single bad PDU on the SIM must never stop the inbound loop.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.errors import PduError
from gateway.sms.alphabet import decode_septets
from gateway.sms.fields import (
    Reader, dcs_info, decode_address, decode_enhanced_validity, decode_smsc, decode_timestamp,
    header_septets, parse_udh, relative_validity_period, udh_concat, udh_languages, udh_ports,
    unpack_septets,
)
from gateway.sms.messages import Address, Concat, Deliver, InformationElement, Ports, StatusReport
from gateway.sms.messages import Submit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserData:
    """TP-UD taken apart: header elements and the decoded body."""

    udh: tuple[InformationElement, ...]
    text: str | None
    data: bytes | None
    concat: Concat | None
    ports: Ports | None
    lock: int
    shift: int


@dataclass(frozen=True)
class WireUserData:
    """TP-DCS, TP-UDL and TP-UD as read off the wire, and what they decode to."""

    dcs: int
    encoding: str
    message_class: int | None
    udl: int
    udhi: bool
    raw: bytes
    decoded: UserData


def _hex_to_bytes(pdu: str | bytes) -> bytes:
    if isinstance(pdu, (bytes, bytearray, memoryview)):
        return bytes(pdu)
    if not isinstance(pdu, str):
        raise PduError(f"a PDU is hex text or bytes, not {type(pdu).__name__}")
    text = "".join(pdu.split())
    if len(text) % 2:
        raise PduError(f"odd number of hex digits ({len(text)})")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise PduError("PDU is not hexadecimal") from None


def decode_user_data(raw: bytes, udl: int, udhi: bool, encoding: str) -> UserData:
    """Split UDH from body and decode the body in the alphabet the DCS and UDH name."""
    udh_raw = b""
    if udhi:
        udh_raw = raw[1:1 + raw[0]]
        if len(udh_raw) < raw[0]:
            raise PduError("user data header longer than the user data")
    ies = parse_udh(udh_raw)
    lock, shift = udh_languages(ies)
    header = len(udh_raw) + 1 if udhi else 0
    text: str | None = None
    data: bytes | None = None
    if encoding == "gsm7":
        skip = header_septets(header)
        if udl < skip:
            raise PduError(f"TP-UDL {udl} is shorter than the {header}-octet UDH")
        septets = unpack_septets(raw, udl - skip, skip * 7)
        text = decode_septets(septets, lock, shift)
    else:
        if udl < header:
            raise PduError(f"TP-UDL {udl} is shorter than the {header}-octet UDH")
        if len(raw) < udl:
            raise PduError(f"user data truncated: TP-UDL {udl}, {len(raw)} octets present")
        body = raw[header:udl]
        if encoding == "ucs2":
            # An odd octet or an unpaired surrogate (a sender that split a pair across parts)
            # shows as U+FFFD: the message still arrives, and the loss is visible.
            text = body.decode("utf-16-be", errors="replace")
        else:
            data = body
    return UserData(ies, text, data, udh_concat(ies), udh_ports(ies), lock, shift)


def _body(part: Deliver | Submit) -> bytes:
    """The text body of a part as septet values (gsm7) or UTF-16BE octets (ucs2)."""
    header = (part.user_data[0] + 1) if part.udhi and part.user_data else 0
    if part.encoding == "gsm7":
        skip = header_septets(header)
        return unpack_septets(part.user_data, part.udl - skip, skip * 7)
    return part.user_data[header:part.udl]


def reassemble_text(parts: Sequence[Deliver | Submit]) -> str:
    """The text of a concatenated message from its parts, in any order.

    Joins the raw septets / UTF-16 units before decoding, so an ESC pair or a surrogate pair
    that a sloppy sender split across two parts still comes out whole (decoding each part on
    its own would show U+FFFD or a stray space there). Parts in different alphabets are joined
    as decoded text.
    """
    ordered = sorted(parts, key=lambda p: p.concat.seq if p.concat else 0)
    kinds = {(p.encoding, p.language_lock, p.language_shift) for p in ordered}
    if len(kinds) != 1 or any(p.text is None for p in ordered):
        return "".join(p.text or "" for p in ordered)
    encoding, lock, shift = kinds.pop()
    body = b"".join(_body(p) for p in ordered)
    if encoding == "gsm7":
        return decode_septets(body, lock, shift)
    return body.decode("utf-16-be", errors="replace")


def _read_user_data(reader: Reader, first: int, dcs: int) -> WireUserData:
    """TP-UDL and TP-UD (the reader stands at TP-UDL), decoded per ``dcs`` and TP-UDHI."""
    udl = reader.octet("TP-UDL")
    encoding, message_class = dcs_info(dcs)
    raw = reader.take((udl * 7 + 7) // 8 if encoding == "gsm7" else udl, "user data")
    udhi = bool(first & 0x40) and udl > 0  # UDHI with no user data (seen in the wild): none
    return WireUserData(dcs, encoding, message_class, udl, udhi, raw,
                        decode_user_data(raw, udl, udhi, encoding))


def _decode_deliver(reader: Reader, first: int, smsc: Address | None) -> Deliver:
    sender = decode_address(reader, "originating address")
    pid = reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    timestamp = decode_timestamp(reader.take(7, "TP-SCTS"))
    wire = _read_user_data(reader, first, dcs)
    ud = wire.decoded
    return Deliver(
        smsc=smsc, sender=sender, timestamp=timestamp, pid=pid, dcs=dcs, encoding=wire.encoding,
        text=ud.text, data=ud.data, concat=ud.concat, message_class=wire.message_class,
        udh=ud.udh, ports=ud.ports, language_lock=ud.lock, language_shift=ud.shift,
        more_messages=not first & 0x04, status_report_indication=bool(first & 0x20),
        reply_path=bool(first & 0x80), user_data=wire.raw, udl=wire.udl, udhi=wire.udhi)


def _decode_validity(reader: Reader, vpf: int) -> timedelta | datetime | None:
    if vpf == 2:
        return relative_validity_period(reader.octet("TP-VP"))
    if vpf == 3:
        return decode_timestamp(reader.take(7, "TP-VP"))
    if vpf == 1:
        return decode_enhanced_validity(reader.take(7, "TP-VP"))
    return None


def _decode_submit(reader: Reader, first: int, smsc: Address | None) -> Submit:
    reference = reader.octet("TP-MR")
    destination = decode_address(reader, "destination address")
    pid = reader.octet("TP-PID")
    dcs = reader.octet("TP-DCS")
    validity = _decode_validity(reader, (first >> 3) & 0x03)
    wire = _read_user_data(reader, first, dcs)
    ud = wire.decoded
    return Submit(
        smsc=smsc, reference=reference, destination=destination, pid=pid, dcs=dcs,
        encoding=wire.encoding, text=ud.text, data=ud.data, concat=ud.concat,
        status_report_requested=bool(first & 0x20), reject_duplicates=bool(first & 0x04),
        validity=validity, message_class=wire.message_class, user_data=wire.raw, udl=wire.udl,
        udhi=wire.udhi, udh=ud.udh, ports=ud.ports, language_lock=ud.lock,
        language_shift=ud.shift, reply_path=bool(first & 0x80))


def _decode_status_report(reader: Reader, first: int, smsc: Address | None) -> StatusReport:
    reference = reader.octet("TP-MR")
    recipient = decode_address(reader, "recipient address")
    timestamp = decode_timestamp(reader.take(7, "TP-SCTS"))
    discharge = decode_timestamp(reader.take(7, "TP-DT"))
    status = reader.octet("TP-ST")
    # Optional TP-PI/PID/DCS/UD may follow; networks fill them inconsistently and nothing
    # we do depends on them, so they are not parsed.
    return StatusReport(smsc=smsc, reference=reference, recipient=recipient,
                        timestamp=timestamp, discharge_time=discharge, status=status,
                        more_messages=not first & 0x04, qualifier_command=bool(first & 0x20))


def decode_pdu(pdu: str | bytes, *, has_smsc: bool = True) -> Deliver | StatusReport | Submit:
    """Decode one PDU (hex or bytes). MTI 0 = DELIVER, 2 = STATUS-REPORT (as received from the
    network), 1 = SUBMIT (as the emulator receives it). Raises PduError and nothing else."""
    raw = _hex_to_bytes(pdu)
    reader = Reader(raw)
    try:
        smsc = decode_smsc(reader) if has_smsc else None
        first = reader.octet("first octet")
        mti = first & 0x03
        if mti == 0:
            return _decode_deliver(reader, first, smsc)
        if mti == 1:
            return _decode_submit(reader, first, smsc)
        if mti == 2:
            return _decode_status_report(reader, first, smsc)
        raise PduError(f"TP-MTI 3 is reserved (first octet {first:#04x})")
    except PduError:
        raise
    except Exception as exc:  # noqa: BLE001 - the contract: PduError and nothing else
        log.warning("unexpected %s decoding PDU %s", type(exc).__name__, raw.hex().upper())
        raise PduError(f"malformed PDU: {exc}") from exc
