"""TS 23.040 field codecs: septet packing, semi-octets, addresses, time stamps, validity, UDH, DCS.

Pure functions on bytes. Decoders raise ``PduError`` for anything malformed; encoders raise
``EncodingError`` for values a field cannot carry.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from gateway.errors import EncodingError, PduError
from gateway.sms.alphabet import decode_septets, encode_default
from gateway.sms.messages import (
    IEI_CONCAT_8, IEI_CONCAT_16, IEI_LOCKING_SHIFT, IEI_PORTS_8, IEI_PORTS_16, IEI_SINGLE_SHIFT,
    NPI_ISDN, NPI_UNKNOWN, TON_ALPHANUMERIC, TON_INTERNATIONAL, TON_UNKNOWN, Address, Concat,
    InformationElement, Ports,
)

_SEMI_OCTET_CHARS = "0123456789*#abc"
_NUMBER_RE = re.compile(r"\+?[0-9*#]+")


class Reader:
    """Reads a TPDU front to back; running out of octets is a ``PduError`` naming the field."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def octet(self, field: str) -> int:
        if self.pos >= len(self.data):
            raise PduError(f"PDU truncated: no {field} at octet {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, count: int, field: str) -> bytes:
        if self.pos + count > len(self.data):
            raise PduError(f"PDU truncated: {field} needs {count} octets at octet {self.pos}, "
                           f"{len(self.data) - self.pos} left")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def rest(self) -> bytes:
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk


# --- septets ---------------------------------------------------------------------------------

def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack septet values LSB first, after ``fill_bits`` zero bits (TS 23.038 6.1.2.1.1)."""
    acc = 0
    for i, s in enumerate(septets):
        acc |= (s & 0x7F) << (fill_bits + 7 * i)
    nbits = fill_bits + 7 * len(septets)
    return acc.to_bytes((nbits + 7) // 8, "little")


def unpack_septets(data: bytes, count: int, skip_bits: int = 0) -> bytes:
    """``count`` septets starting ``skip_bits`` into ``data``; PduError if data is too short."""
    if (skip_bits + 7 * count + 7) // 8 > len(data):
        raise PduError(f"user data truncated: {count} septets announced, "
                       f"{len(data)} octets present")
    acc = int.from_bytes(data, "little") >> skip_bits
    return bytes((acc >> (7 * i)) & 0x7F for i in range(count))


def header_septets(udh_octets: int) -> int:
    """Septets a UDH of ``udh_octets`` (incl. UDHL) occupies, fill bits included."""
    return (udh_octets * 8 + 6) // 7


# --- addresses -------------------------------------------------------------------------------

def parse_address(value: str) -> Address:
    """A caller's number or sender name as an Address.

    "+digits" is international; bare digits are international when they look like a full
    E.164 number (10+ digits, no leading 0: "41793026727"), otherwise TON unknown (short codes,
    national numbers such as "0791234567"); anything else is an alphanumeric name.
    """
    text = value.strip()
    if not text:
        raise EncodingError("empty address")
    if _NUMBER_RE.fullmatch(text):
        if text.startswith("+"):
            return Address(text[1:], TON_INTERNATIONAL, NPI_ISDN)
        if len(text) >= 10 and text.isdigit() and not text.startswith("0"):
            return Address(text, TON_INTERNATIONAL, NPI_ISDN)
        return Address(text, TON_UNKNOWN, NPI_ISDN)
    return Address(text, TON_ALPHANUMERIC, NPI_UNKNOWN)


def _semi_octets(digits: str) -> bytes:
    try:
        nibbles = [_SEMI_OCTET_CHARS.index(c) for c in digits.lower()]
    except ValueError:
        raise EncodingError(f"{digits!r} is not a valid number") from None
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, len(nibbles), 2))


def _digits(data: bytes, count: int) -> str:
    out = []
    for octet in data:
        for nibble in (octet & 0x0F, octet >> 4):
            if len(out) < count and nibble != 0xF:
                out.append(_SEMI_OCTET_CHARS[nibble])
    return "".join(out)


def encode_address(address: Address) -> bytes:
    """TP-DA / TP-OA / TP-RA: length in useful semi-octets, type of address, value."""
    if address.alphanumeric:
        septets = encode_default(address.number)
        if len(septets) > 11:
            raise EncodingError(f"alphanumeric address {address.number!r} is longer than 11 "
                                "septets")
        packed = pack_septets(septets)
        semi = (len(septets) * 7 + 3) // 4
        return bytes((semi, address.type_of_address)) + packed
    if not address.number:
        return bytes((0, address.type_of_address))
    value = _semi_octets(address.number)
    if len(address.number) > 20:
        raise EncodingError(f"number {address.number!r} is longer than 20 digits")
    return bytes((len(address.number), address.type_of_address)) + value


def encode_smsc(address: Address | None) -> bytes:
    """The SMSC part written before the TPDU: ``00`` (use the SIM's SMSC) or length in octets."""
    if address is None:
        return b"\x00"
    if address.alphanumeric:
        raise EncodingError("an SMSC address must be numeric")
    value = _semi_octets(address.number)
    if len(value) > 10:
        raise EncodingError(f"SMSC {address.number!r} is too long")
    return bytes((len(value) + 1, address.type_of_address)) + value


def decode_address(reader: Reader, field: str) -> Address:
    length = reader.octet(f"{field} length")
    toa = reader.octet(f"{field} type")
    ton, npi = (toa >> 4) & 0x07, toa & 0x0F
    raw = reader.take((length + 1) // 2, field)
    if ton == TON_ALPHANUMERIC:
        septets = unpack_septets(raw, length * 4 // 7)
        return Address(decode_septets(septets), ton, npi)
    return Address(_digits(raw, length), ton, npi)


def decode_smsc(reader: Reader) -> Address | None:
    length = reader.octet("SMSC length")
    if length == 0:
        return None
    toa = reader.octet("SMSC type")
    raw = reader.take(length - 1, "SMSC address")
    return Address(_digits(raw, 2 * len(raw)), (toa >> 4) & 0x07, toa & 0x0F)


# --- time stamps and validity ----------------------------------------------------------------

def _bcd(value: int) -> int:
    return (value % 10) << 4 | value // 10


def encode_timestamp(moment: datetime) -> bytes:
    """TP-SCTS / TP-DT / absolute TP-VP: local time fields plus the zone in quarter hours."""
    offset = moment.utcoffset()
    if offset is None:
        raise EncodingError("time stamps must be timezone-aware")
    quarters, rest = divmod(int(offset.total_seconds()), 900)
    if rest or not -79 <= quarters <= 79:
        raise EncodingError(f"time zone {offset} is not a multiple of 15 minutes within ±19:45")
    tz = _bcd(abs(quarters)) | (0x08 if quarters < 0 else 0)
    fields = (moment.year % 100, moment.month, moment.day, moment.hour, moment.minute,
              moment.second)
    return bytes(_bcd(v) for v in fields) + bytes((tz,))


def decode_timestamp(raw: bytes) -> datetime:
    """Seven semi-octet pairs to an aware datetime in the sender's zone (YY >= 90: 19YY)."""
    values = []
    for octet in raw[:6]:
        lo, hi = octet & 0x0F, octet >> 4
        if lo > 9 or hi > 9:
            raise PduError(f"time stamp {raw.hex().upper()} has a non-decimal digit")
        values.append(lo * 10 + hi)
    tz_octet = raw[6]
    # Some modems (ZTE, python-gsmmodem#15) write the units digit in binary (0xC2 = 2*10+12
    # quarters = +08:00); tens*10+units still gives the zone they meant, so accept it.
    quarters = (tz_octet & 0x07) * 10 + (tz_octet >> 4)
    if quarters > 79:
        raise PduError(f"time stamp {raw.hex().upper()} has a bad time zone")
    if tz_octet & 0x08:
        quarters = -quarters
    yy, month, day, hour, minute, second = values
    try:
        zone = timezone(timedelta(minutes=15 * quarters))
        return datetime(1900 + yy if yy >= 90 else 2000 + yy, month, day, hour, minute,
                        second, tzinfo=zone)
    except ValueError as exc:
        raise PduError(f"time stamp {raw.hex().upper()} is not a date: {exc}") from None


def relative_validity(minutes: int) -> int:
    """TP-VP (relative) for a validity period, rounded down to a representable value (but at
    least 5 minutes), so the network never keeps a message longer than the caller allowed."""
    if minutes < 0:
        raise EncodingError("validity must not be negative")
    if minutes <= 12 * 60:
        return max(0, minutes // 5 - 1)
    if minutes <= 24 * 60:
        return 143 + (minutes - 12 * 60) // 30
    days = minutes // 1440
    if days < 2:
        return 167
    if days <= 30:
        return 166 + days
    weeks = days // 7
    return 196 if weeks < 5 else min(192 + weeks, 255)


def relative_validity_period(vp: int) -> timedelta:
    if vp <= 143:
        return timedelta(minutes=(vp + 1) * 5)
    if vp <= 167:
        return timedelta(hours=12, minutes=(vp - 143) * 30)
    if vp <= 196:
        return timedelta(days=vp - 166)
    return timedelta(weeks=vp - 192)


def decode_enhanced_validity(raw: bytes) -> timedelta | None:
    """Enhanced TP-VP (TS 23.040 9.2.3.12.3): relative, seconds, or hh:mm:ss formats."""
    fmt = raw[0] & 0x07
    if fmt == 1:
        return relative_validity_period(raw[1])
    if fmt == 2:
        return timedelta(seconds=raw[1])
    if fmt == 3:
        h, m, s = (((o & 0x0F) * 10 + (o >> 4)) for o in raw[1:4])
        return timedelta(hours=h, minutes=m, seconds=s)
    return None


# --- user data header ------------------------------------------------------------------------

def build_udh(ies: list[tuple[int, bytes]]) -> bytes:
    """UDHL plus the IEs; empty bytes when there are none."""
    body = b"".join(bytes((iei, len(data))) + data for iei, data in ies)
    return bytes((len(body),)) + body if body else b""


def concat_ie(ref: int, total: int, seq: int, ref_bits: int) -> tuple[int, bytes]:
    if ref_bits == 16:
        return IEI_CONCAT_16, bytes((ref >> 8 & 0xFF, ref & 0xFF, total, seq))
    return IEI_CONCAT_8, bytes((ref & 0xFF, total, seq))


def parse_udh(raw: bytes) -> tuple[InformationElement, ...]:
    """The IEs of a UDH body (without UDHL); an IE running past the header is a PduError."""
    ies: list[InformationElement] = []
    pos = 0
    while pos < len(raw):
        if pos + 2 > len(raw):
            raise PduError("user data header ends inside an information element")
        iei, length = raw[pos], raw[pos + 1]
        if pos + 2 + length > len(raw):
            raise PduError(f"UDH element {iei:#04x} claims {length} octets past the header")
        ies.append(InformationElement(iei, raw[pos + 2:pos + 2 + length]))
        pos += 2 + length
    return tuple(ies)


def udh_concat(ies: tuple[InformationElement, ...]) -> Concat | None:
    """The concatenation IE, ignored (as TS 23.040 says) when its values are impossible."""
    for ie in ies:
        if ie.iei == IEI_CONCAT_8 and len(ie.data) == 3:
            ref, total, seq, bits = ie.data[0], ie.data[1], ie.data[2], 8
        elif ie.iei == IEI_CONCAT_16 and len(ie.data) == 4:
            ref, total, seq, bits = ie.data[0] << 8 | ie.data[1], ie.data[2], ie.data[3], 16
        else:
            continue
        if total and 1 <= seq <= total:
            return Concat(ref, total, seq, bits)
    return None


def udh_ports(ies: tuple[InformationElement, ...]) -> Ports | None:
    for ie in ies:
        if ie.iei == IEI_PORTS_8 and len(ie.data) == 2:
            return Ports(ie.data[0], ie.data[1], 8)
        if ie.iei == IEI_PORTS_16 and len(ie.data) == 4:
            return Ports(ie.data[0] << 8 | ie.data[1], ie.data[2] << 8 | ie.data[3], 16)
    return None


def udh_languages(ies: tuple[InformationElement, ...]) -> tuple[int, int]:
    """(locking, single shift) national language ids announced in the UDH (0 = default)."""
    lock = shift = 0
    for ie in ies:
        if ie.iei == IEI_LOCKING_SHIFT and len(ie.data) == 1:
            lock = ie.data[0]
        elif ie.iei == IEI_SINGLE_SHIFT and len(ie.data) == 1:
            shift = ie.data[0]
    return lock, shift


# --- data coding scheme ----------------------------------------------------------------------

def dcs_info(dcs: int) -> tuple[str, int | None]:
    """(alphabet, message class) of a TP-DCS per TS 23.038 4; reserved codings read as GSM 7-bit.

    Compressed text (general group, bit 5) is returned as "8bit": we cannot decompress it, and
    handing the octets over beats showing garbage. In group 1111 the reserved bit 3, when set,
    is read together with bit 2 as in the general group (10 = UCS-2).
    """
    group = dcs >> 4
    if group <= 0x7:  # general data coding (00xx) and automatic deletion (01xx) groups
        message_class = dcs & 0x03 if dcs & 0x10 else None
        if dcs & 0x20:
            return "8bit", message_class
        alphabet = (dcs >> 2) & 0x03
        return {1: "8bit", 2: "ucs2"}.get(alphabet, "gsm7"), message_class
    if group == 0xF:
        if dcs & 0x08:  # reserved bit set: phones that write it mean the general-group
            # alphabet bits (a real capture, Gammu at-sms 14, has DCS 0xF9 over UCS-2 text)
            return ("ucs2" if not dcs & 0x04 else "8bit"), dcs & 0x03
        return ("8bit" if dcs & 0x04 else "gsm7"), dcs & 0x03
    if group == 0xE:
        return "ucs2", None
    return "gsm7", None  # 1100/1101 message waiting (GSM 7-bit) and reserved groups
