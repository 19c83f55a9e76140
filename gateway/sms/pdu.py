"""TS 23.040 framing: SMS-SUBMIT (what we send), SMS-DELIVER and SMS-STATUS-REPORT (what the
emulator's network sends back). Decoding lives in decode.py.

Every function returns the PDU as written after AT+CMGS's "> " prompt: uppercase hex with the
SMSC part first ("00" = the SIM's SMSC). ``EncodedPart.tpdu_length`` is the <n> of AT+CMGS=<n>,
which counts the TPDU only, never the SMSC part.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.errors import EncodingError, MessageTooLongError, PduError
from gateway.sms.fields import (
    build_udh, concat_ie, dcs_info, encode_address, encode_smsc, encode_timestamp,
    header_septets, pack_septets, parse_address, relative_validity,
)
from gateway.sms.messages import Address
from gateway.sms.text import SubmitOptions, TextPlan, capacity, plan_text, validate_options

log = logging.getLogger(__name__)

MTI_DELIVER, MTI_SUBMIT, MTI_STATUS_REPORT = 0x00, 0x01, 0x02
_RD, _VPF_RELATIVE, _VPF_ABSOLUTE, _SRR, _UDHI = 0x04, 0x10, 0x18, 0x20, 0x40
_MMS, _SRI = 0x04, 0x20  # DELIVER / STATUS-REPORT: TP-MMS "no more messages", TP-SRI


@dataclass(frozen=True)
class EncodedPart:
    seq: int  # 1-based
    total: int
    pdu: str  # uppercase hex including the SMSC field
    tpdu_length: int  # the <n> of AT+CMGS=<n>


def tpdu_length(pdu_hex: str) -> int:
    """AT+CMGS length of a full PDU: its octets minus the SMSC length octet and SMSC field."""
    try:
        length = len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)
    except ValueError:
        raise PduError(f"not a PDU: {pdu_hex[:20]!r}") from None
    if length < 0:
        raise PduError("PDU shorter than its SMSC field")
    return length


def _as_address(value: str | Address) -> Address:
    return value if isinstance(value, Address) else parse_address(value)


def _smsc(value: str | Address | None) -> Address | None:
    return None if value is None else _as_address(value)


def frame_user_data(encoding: str, payload: bytes, udh: bytes) -> tuple[bytes, int, bool]:
    """(TP-UD, TP-UDL, UDHI) for a payload of septet values (gsm7) or octets (ucs2/8bit) behind
    a UDH given with its length octet (empty: none)."""
    if encoding == "gsm7":
        skip = header_septets(len(udh))
        fill = skip * 7 - len(udh) * 8
        return udh + pack_septets(payload, fill), skip + len(payload), bool(udh)
    return udh + payload, len(udh) + len(payload), bool(udh)


def _text_dcs(encoding: str, flash: bool) -> int:
    return (0x08 if encoding == "ucs2" else 0x00) | (0x10 if flash else 0x00)


def encode_submit(destination: str | Address, *, dcs: int, user_data: bytes, udl: int,
                  udhi: bool, pid: int = 0, reference: int = 0, status_report: bool = False,
                  reject_duplicates: bool = False,
                  validity: int | timedelta | datetime | None = None,
                  smsc: str | Address | None = None) -> str:
    """One SMS-SUBMIT. ``validity``: minutes or timedelta (relative TP-VP), datetime (absolute).

    ``reference`` is TP-MR; leave it 0 when sending through a modem, which sets its own.
    """
    first = MTI_SUBMIT | (_RD if reject_duplicates else 0) | (_SRR if status_report else 0) | (
        _UDHI if udhi else 0)
    vp = b""
    if isinstance(validity, datetime):
        first |= _VPF_ABSOLUTE
        vp = encode_timestamp(validity)
    elif validity is not None:
        minutes = validity if isinstance(validity, int) else int(validity.total_seconds() // 60)
        first |= _VPF_RELATIVE
        vp = bytes((relative_validity(minutes),))
    if not (0 <= pid <= 255 and 0 <= dcs <= 255 and 0 <= reference <= 255 and 0 <= udl <= 255):
        raise EncodingError("pid, dcs, reference and udl must each fit in one octet")
    tpdu = (bytes((first, reference)) + encode_address(_as_address(destination))
            + bytes((pid, dcs)) + vp + bytes((udl,)) + user_data)
    return (encode_smsc(_smsc(smsc)) + tpdu).hex().upper()


def _parts(plan_payloads: tuple[bytes, ...] | list[bytes], encoding: str,
           extra_ies: list[tuple[int, bytes]], concat_ref: int,
           ref16: bool) -> list[tuple[bytes, int, bool]]:
    if concat_ref < 0:
        raise EncodingError("concat_ref must not be negative")
    total = len(plan_payloads)
    framed = []
    for seq, payload in enumerate(plan_payloads, 1):
        ies = list(extra_ies)
        if total > 1:  # the store rotates references; we use the low 8 or 16 bits
            ies.insert(0, concat_ie(concat_ref, total, seq, 16 if ref16 else 8))
        framed.append(frame_user_data(encoding, payload, build_udh(ies)))
    return framed


def _submit_parts(destination: Address, framed: list[tuple[bytes, int, bool]], dcs: int,
                  options: SubmitOptions) -> list[EncodedPart]:
    out = []
    for seq, (ud, udl, udhi) in enumerate(framed, 1):
        pdu = encode_submit(destination, dcs=dcs, user_data=ud, udl=udl, udhi=udhi,
                            pid=options.pid, status_report=options.status_report,
                            reject_duplicates=options.reject_duplicates,
                            validity=options.validity_minutes, smsc=options.smsc)
        out.append(EncodedPart(seq, len(framed), pdu, tpdu_length(pdu)))
    return out


def encode_text(destination: str | Address, text: str, options: SubmitOptions = SubmitOptions(),
                concat_ref: int = 0) -> list[EncodedPart]:
    """SMS-SUBMIT parts for a text, exactly as ``plan_text`` planned them."""
    return encode_planned(destination, plan_text(text, options), options, concat_ref)


def encode_planned(destination: str | Address, plan: TextPlan,
                   options: SubmitOptions = SubmitOptions(),
                   concat_ref: int = 0) -> list[EncodedPart]:
    """Frame a plan made by ``plan_text(text, options)`` (same options): a bulk send plans the
    text once and frames it per destination, skipping the alphabet search each time."""
    address = _as_address(destination)
    if address.alphanumeric:
        raise EncodingError(f"cannot send to the alphanumeric address {address.number!r}")
    framed = _parts(plan.payloads, plan.encoding, list(plan.alphabet.language_ies()),
                    concat_ref, options.ref16)
    return _submit_parts(address, framed, _text_dcs(plan.encoding, options.flash), options)


def _class0(dcs: int) -> int:
    """The same DCS with message class 0 (flash), where the coding group has a class field."""
    if dcs >> 6 == 0:
        return (dcs | 0x10) & ~0x03
    if dcs >> 4 == 0xF:
        return dcs & ~0x03
    raise EncodingError(f"DCS {dcs:#04x} has no message class to set for flash")


def _binary_payloads(data: bytes, encoding: str, room: int) -> list[bytes]:
    step = room if encoding != "ucs2" else room - room % 2
    return [data[i:i + step] for i in range(0, len(data), step)] or [b""]


def split_udh(payload: bytes) -> tuple[bytes, bytes]:
    """(UDH without its length octet, data) of an SMPP-style payload that starts with a UDH
    (``esmClass`` 0x40); EncodingError when the length octet overruns the payload."""
    if not payload or payload[0] + 1 > len(payload):
        raise EncodingError("payload does not start with a complete user data header")
    return payload[1:payload[0] + 1], payload[payload[0] + 1:]


def encode_binary(destination: str | Address, data: bytes,
                  options: SubmitOptions = SubmitOptions(), *, data_coding: int = 0x04,
                  udh: bytes | None = None, concat_ref: int = 0) -> list[EncodedPart]:
    """SMS-SUBMIT parts for binary content. ``data_coding`` is the TP-DCS octet.

    ``udh`` is the caller's header **without** its length octet (the IEs only; see
    ``split_udh``): it makes a single part with UDHI set. Without it, long data is
    concatenated (134 octets per part, 133 with a 16-bit reference). With a GSM 7-bit DCS,
    ``data`` holds septet values (each < 0x80), packed here.
    """
    validate_options(options)
    address = _as_address(destination)
    encoding, _ = dcs_info(data_coding)
    dcs = _class0(data_coding) if options.flash else data_coding
    if encoding == "gsm7" and any(b > 0x7F for b in data):
        raise EncodingError("with a GSM 7-bit data coding, data must be septet values")
    if udh is not None:
        body = bytes((len(udh),)) + udh
        room = capacity(encoding, len(body))
        if len(udh) > 139 or len(data) > room:
            raise MessageTooLongError(f"{len(data)} units of data do not fit next to a "
                                      f"{len(body)}-octet UDH ({room} fit)", parts=2, max_parts=1)
        return _submit_parts(address, [frame_user_data(encoding, data, body)], dcs, options)
    if len(data) <= capacity(encoding, 0):
        payloads = [data]
    else:
        payloads = _binary_payloads(data, encoding, capacity(encoding, 7 if options.ref16 else 6))
    if len(payloads) > options.max_parts:
        raise MessageTooLongError(f"data needs {len(payloads)} parts, more than "
                                  f"{options.max_parts}", parts=len(payloads),
                                  max_parts=options.max_parts)
    framed = _parts(payloads, encoding, [], concat_ref, options.ref16)
    return _submit_parts(address, framed, dcs, options)


# --- network side: SMS-DELIVER and SMS-STATUS-REPORT -----------------------------------------

def encode_deliver(sender: str | Address, *, timestamp: datetime, pid: int = 0, dcs: int,
                   user_data: bytes, udl: int, udhi: bool, smsc: str | Address | None = None,
                   more_messages: bool = False, status_report_indication: bool = False) -> str:
    """One SMS-DELIVER around ready user data (e.g. a decoded Submit's, re-framed)."""
    first = MTI_DELIVER | (0 if more_messages else _MMS) | (_UDHI if udhi else 0) | (
        _SRI if status_report_indication else 0)
    if not (0 <= pid <= 255 and 0 <= dcs <= 255 and 0 <= udl <= 255):
        raise EncodingError("pid, dcs and udl must each fit in one octet")
    tpdu = (bytes((first,)) + encode_address(_as_address(sender)) + bytes((pid, dcs))
            + encode_timestamp(timestamp) + bytes((udl,)) + user_data)
    return (encode_smsc(_smsc(smsc)) + tpdu).hex().upper()


def encode_deliver_text(sender: str | Address, text: str, *, timestamp: datetime,
                        concat_ref: int = 0, smsc: str | None = None, flash: bool = False,
                        ucs2: bool | None = None) -> list[str]:
    """SMS-DELIVER PDUs (with SMSC part) for a text; ``ucs2`` True forces UCS-2, False forbids
    it (EncodingError if no GSM alphabet can carry the text), None chooses."""
    plan: TextPlan = plan_text(text, SubmitOptions(max_parts=255, force_ucs2=bool(ucs2)))
    if ucs2 is False and plan.encoding != "gsm7":
        raise EncodingError("text cannot be carried in GSM 7-bit")
    framed = _parts(plan.payloads, plan.encoding, list(plan.alphabet.language_ies()),
                    concat_ref, False)
    dcs = _text_dcs(plan.encoding, flash)
    return [encode_deliver(sender, timestamp=timestamp, dcs=dcs, user_data=ud, udl=udl,
                           udhi=udhi, smsc=smsc) for ud, udl, udhi in framed]


def encode_deliver_binary(sender: str | Address, data: bytes, *, timestamp: datetime,
                          concat_ref: int = 0, smsc: str | None = None) -> list[str]:
    payloads = [data] if len(data) <= 140 else _binary_payloads(data, "8bit", 134)
    if len(payloads) > 255:
        raise MessageTooLongError("data needs more than 255 parts", len(payloads), 255)
    framed = _parts(payloads, "8bit", [], concat_ref, False)
    return [encode_deliver(sender, timestamp=timestamp, dcs=0x04, user_data=ud, udl=udl,
                           udhi=udhi, smsc=smsc) for ud, udl, udhi in framed]


def encode_status_report(reference: int, recipient: str | Address, *, timestamp: datetime,
                         discharge_time: datetime, status: int,
                         smsc: str | Address | None = None, more_messages: bool = False) -> str:
    """One SMS-STATUS-REPORT (no optional parameters: what SIM800/SIM7600 networks send)."""
    if not (0 <= reference <= 255 and 0 <= status <= 255):
        raise EncodingError("reference and status must each fit in one octet")
    first = MTI_STATUS_REPORT | (0 if more_messages else _MMS)
    tpdu = (bytes((first, reference)) + encode_address(_as_address(recipient))
            + encode_timestamp(timestamp) + encode_timestamp(discharge_time) + bytes((status,)))
    return (encode_smsc(_smsc(smsc)) + tpdu).hex().upper()
