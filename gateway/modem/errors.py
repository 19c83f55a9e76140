"""What a ``+CMS ERROR`` / ``+CME ERROR`` means and what the gateway should do about it.

The modem layer only *classifies*; the retry/backoff policy lives in the dispatcher, which calls
``classify_cms``.  Meanings follow 3GPP TS 24.011 Annex E-2, TS 23.040 9.2.3.22 and
TS 27.005 3.2.5 / TS 27.007 9.2 (HARDWARE.md section 4.1).  Both the numeric (``AT+CMEE=1``) and
the verbose (``AT+CMEE=2``, SIM7600's default) forms map to the same entry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from gateway.errors import ModemError, ModemUnavailableError


class CmsPolicy(Enum):
    """What the caller should do with the message (or the modem) after an error."""

    RETRY = "retry"              # transient: retry the same message later, with backoff
    PERMANENT = "permanent"      # the message can never be sent as is: fail it
    HOLD = "hold"                # the modem cannot send (SIM, PIN, network): keep the queue, wait
    RECONFIGURE = "reconfigure"  # the gateway's configuration is wrong (SMSC): alert an operator
    SKIP = "skip"                # harmless for the message (e.g. a stale storage index): ignore


@dataclass(frozen=True)
class CmsInfo:
    """One classified error code. ``code`` is None for a bare ``ERROR`` or unmapped text."""

    code: int | None
    meaning: str
    policy: CmsPolicy
    permanent: bool


class ModemRebootedError(ModemUnavailableError):
    """The modem restarted (or powered down) while a command was waiting for its answer."""

    def __init__(self, message: str, line: str = "") -> None:
        super().__init__(message)
        self.line = line  # the URC that ended the command ("RDY", "NORMAL POWER DOWN"...)


class ReplyFormatError(ModemError, ValueError):
    """A modem reply did not have the shape its command promises."""


_R, _P, _H, _C, _S = (CmsPolicy.RETRY, CmsPolicy.PERMANENT, CmsPolicy.HOLD,
                      CmsPolicy.RECONFIGURE, CmsPolicy.SKIP)

# code -> (meaning, policy).  Network causes (< 128) come from the SMSC/network, 128-255 from
# the SC (TP-FCS), 300+ from the ME itself.
_CMS_TABLE: dict[int, tuple[str, CmsPolicy]] = {
    1: ("Unassigned (unallocated) number", _P),
    8: ("Operator determined barring", _P),
    10: ("Call barred", _P),
    21: ("Short message transfer rejected", _P),
    27: ("Destination out of service", _P),
    28: ("Unidentified subscriber", _P),
    29: ("Facility rejected", _P),
    30: ("Unknown subscriber", _P),
    38: ("Network out of order", _R),
    41: ("Temporary failure", _R),
    42: ("Congestion", _R),
    47: ("Resources unavailable, unspecified", _R),
    50: ("Requested facility not subscribed", _P),
    69: ("Requested facility not implemented", _P),
    81: ("Invalid short message transfer reference value", _P),
    95: ("Invalid message, unspecified", _P),
    96: ("Invalid mandatory information", _P),
    97: ("Message type non-existent or not implemented", _P),
    98: ("Message not compatible with short message protocol state", _P),
    99: ("Information element non-existent or not implemented", _P),
    111: ("Protocol error, unspecified", _R),
    127: ("Interworking, unspecified", _R),
    192: ("SC busy", _R),
    193: ("No SC subscription", _P),
    194: ("SC system failure", _P),
    195: ("Invalid SME address", _P),
    196: ("Destination SME barred", _P),
    197: ("SM rejected: duplicate SM", _P),
    198: ("TP-VPF not supported", _P),
    199: ("TP-VP not supported", _P),
    300: ("ME failure", _R),
    301: ("SMS service of ME reserved", _R),
    302: ("Operation not allowed", _R),
    303: ("Operation not supported", _P),
    304: ("Invalid PDU mode parameter", _P),
    305: ("Invalid text mode parameter", _P),
    310: ("SIM not inserted", _H),
    311: ("SIM PIN required", _H),
    312: ("PH-SIM PIN required", _H),
    313: ("SIM failure", _H),
    314: ("SIM busy", _R),
    315: ("SIM wrong", _H),
    316: ("SIM PUK required", _H),
    317: ("SIM PIN2 required", _H),
    318: ("SIM PUK2 required", _H),
    320: ("Memory failure", _R),
    321: ("Invalid memory index", _S),
    322: ("Memory full", _R),
    330: ("SMSC address unknown", _C),
    331: ("No network service", _H),
    332: ("Network timeout", _R),
    340: ("No +CNMA acknowledgement expected", _S),
    500: ("Unknown error", _R),
}

_CME_TABLE: dict[int, tuple[str, CmsPolicy]] = {
    0: ("Phone failure", _R),
    1: ("No connection to phone", _R),
    2: ("Phone-adaptor link reserved", _R),
    3: ("Operation not allowed", _R),
    4: ("Operation not supported", _P),
    5: ("PH-SIM PIN required", _H),
    10: ("SIM not inserted", _H),
    11: ("SIM PIN required", _H),
    12: ("SIM PUK required", _H),
    13: ("SIM failure", _H),
    14: ("SIM busy", _R),
    15: ("SIM wrong", _H),
    16: ("Incorrect password", _H),
    17: ("SIM PIN2 required", _H),
    18: ("SIM PUK2 required", _H),
    20: ("Memory full", _R),
    21: ("Invalid index", _S),
    22: ("Not found", _S),
    23: ("Memory failure", _R),
    24: ("Text string too long", _P),
    25: ("Invalid characters in text string", _P),
    26: ("Dial string too long", _P),
    27: ("Invalid characters in dial string", _P),
    30: ("No network service", _H),
    31: ("Network timeout", _R),
    32: ("Network not allowed, emergency calls only", _H),
    40: ("Network personalization PIN required", _H),
    100: ("Unknown", _R),
    515: ("Device busy, please wait", _R),
}

# Verbose spellings that differ from the meanings above (seen on SIMCom / Quectel firmware).
_VERBOSE_ALIASES: dict[str, int] = {
    "sim not ready": 14,
    "sim blocked": 12,
    "incorrect parameters": 3,
    "invalid input value": 3,
    "unknown error": 100,
    "not found": 22,
    "please wait, init or command processing in progress.": 515,
    "network not allowed - emergency calls only": 32,
    "operation not supported by network": 4,
}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip('"')).lower()


_CMS_BY_TEXT = {_normalise(meaning): code for code, (meaning, _) in _CMS_TABLE.items()}
_CME_BY_TEXT = {_normalise(meaning): code for code, (meaning, _) in _CME_TABLE.items()}
_CME_BY_TEXT.update(_VERBOSE_ALIASES)


def error_code(text: str, verbose_table: dict[str, int]) -> int | None:
    """The number behind ``n`` or a verbose text; None when the text is not one we know."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return int(stripped)
    return verbose_table.get(_normalise(stripped))


def cms_code(text: str) -> int | None:
    """Parse the argument of ``+CMS ERROR: <x>`` in numeric or verbose form."""
    return error_code(text, _CMS_BY_TEXT)


def cme_code(text: str) -> int | None:
    """Parse the argument of ``+CME ERROR: <x>`` in numeric or verbose form."""
    return error_code(text, _CME_BY_TEXT)


def _classify(code: int | str | None, table: dict[int, tuple[str, CmsPolicy]],
              by_text: dict[str, int], label: str) -> CmsInfo:
    if code is None:
        return CmsInfo(None, "Unspecified ERROR", _R, False)
    number = code if isinstance(code, int) else error_code(code, by_text)
    if number is None:
        # Verbose text we have no number for: keep the modem's words, treat as transient.
        return CmsInfo(None, str(code).strip(), _R, False)
    meaning, policy = table.get(number, (f"Unknown {label} code {number}", _R))
    return CmsInfo(number, meaning, policy, policy is CmsPolicy.PERMANENT)


def classify_cms(code: int | str | None) -> CmsInfo:
    """Classify a ``+CMS ERROR`` code (None: a bare ``ERROR`` answered a message command).

    Unknown network causes are treated as transient, as TS 24.011 asks for unknown RP causes.
    """
    return _classify(code, _CMS_TABLE, _CMS_BY_TEXT, "+CMS ERROR")


def classify_cme(code: int | str | None) -> CmsInfo:
    """Classify a ``+CME ERROR`` code given as a number or as CMEE=2 verbose text."""
    return _classify(code, _CME_TABLE, _CME_BY_TEXT, "+CME ERROR")


def cms_table() -> dict[int, CmsInfo]:
    """The whole +CMS table, for documentation and the docs test."""
    return {code: classify_cms(code) for code in _CMS_TABLE}
