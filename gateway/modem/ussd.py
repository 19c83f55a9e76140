"""``+CUSD`` answers: status, text and data coding, as modems really send them.

Depending on firmware and ``AT+CSCS`` the text arrives plain, as UCS-2 hex (even when the DCS
says 15), or as packed GSM 7-bit hex (Huawei).  ``parse_cusd`` returns readable text for all
three; the real answers in the Gammu ``at-ussd`` dumps are the test vectors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import ModemError
from gateway.modem.replies import decimal, split_fields
from gateway.sms.alphabet import decode_septets
from gateway.sms.fields import unpack_septets

_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")


class UssdError(ModemError):
    """The network ended the USSD session without an answer, or it was not supported."""


@dataclass(frozen=True)
class UssdReply:
    status: int          # 0 done, 1 further action required, 2 terminated, 4 not supported
    text: str
    dcs: int | None


def parse_cusd(value: str) -> UssdReply:
    """``0,"Balance 5.00",15`` -> UssdReply(0, "Balance 5.00", 15)."""
    fields = split_fields(value)
    if not decimal(fields[0]):
        raise UssdError(f"+CUSD: bad status in {value!r}")
    status = int(fields[0])
    raw = fields[1] if len(fields) > 1 else ""
    dcs = int(fields[2]) if len(fields) > 2 and decimal(fields[2]) else None
    return UssdReply(status, decode_ussd_text(raw, dcs), dcs)


def _readable(text: str) -> bool:
    """Mostly letters, digits, punctuation and spaces: what a balance message looks like."""
    if not text:
        return False
    good = sum(1 for c in text if c.isprintable() and c != "\ufffd")
    return good >= 0.9 * len(text)


def _ucs2_dcs(dcs: int | None) -> bool:
    """TS 23.038 section 5: DCS groups whose character set bits say UCS-2 (72 = 0x48)."""
    if dcs is None:
        return False
    if dcs == 0x11:  # UCS-2 preceded by a language indication
        return True
    return (dcs & 0xC0) == 0x40 and (dcs & 0x0C) == 0x08 or dcs == 0x48


def decode_ussd_text(raw: str, dcs: int | None) -> str:
    """Plain text stays as is; hex becomes UCS-2 or GSM 7-bit text, whichever reads."""
    if len(raw) < 4 or not _HEX.match(raw):
        return raw
    data = bytes.fromhex(raw)
    # A string of digits is usually a number, unless it is UCS-2 Latin ("00480069" = "Hi").
    digits = raw.isdigit() and not _ucs2_dcs(dcs)
    latin = 2 * data[0::2].count(0) >= len(data) // 2 if not digits else \
        len(data) % 2 == 0 and not any(data[0::2])
    if len(data) % 2 == 0:
        ucs2 = data.decode("utf-16-be", errors="replace")
        # Without a UCS-2 DCS, accept UCS-2 only when most characters are Latin-1 (high byte 0).
        if _ucs2_dcs(dcs) or (latin and _readable(ucs2)):
            # Text ends at the first NUL (some modems pad with junk); DCS 0x11 starts with a
            # one-character language indication that is not part of the message.
            text = ucs2.split("\x00")[0]
            return text[1:] if dcs == 0x11 else text
    if digits:
        return raw
    gsm = decode_septets(unpack_septets(data, len(data) * 8 // 7)).rstrip("\r@")
    return gsm if _readable(gsm) else raw
