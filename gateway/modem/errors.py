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
    # The SMS API v1 catalogue error (statuses.ERRORS_BY_ID) a message refused with this code
    # ends with; EC_UNKNOWN_ERROR (255) where the catalogue has nothing closer.
    error_id: int = 255


class ModemRebootedError(ModemUnavailableError):
    """The modem restarted (or powered down) while a command was waiting for its answer."""

    def __init__(self, message: str, line: str = "", *, power_down: bool = False) -> None:
        super().__init__(message)
        self.line = line  # the URC that ended the command ("RDY", "NORMAL POWER DOWN"...)
        self.power_down = power_down  # the line was a power-down code, not a restart


class LadderExhausted(ModemError):
    """Every recovery step failed; the supervisor waits ``retry_interval_s`` and starts over."""


class PoweredDown(ModemError):
    """The modem announced a power-down (under-voltage...) in the middle of a step."""


class PortUnavailableError(ModemUnavailableError):
    """The serial port cannot be opened (not plugged in yet, a USB node renumbering): it is
    tried again after ``port_retry_interval_s``, not after the ladder's long retry."""


class NotSentReason(Enum):
    """Why an AT+CMGS dialog that reached the prompt certainly did not send its SMS."""

    REBOOTED_AT_PROMPT = "rebooted-at-prompt"  # a boot banner between "> " and our Ctrl-Z
    PDU_ECHOED = "pdu-echoed"                  # our PDU came back as a command-mode echo


class SendNotSentError(ModemUnavailableError):
    """The modem restarted inside the AT+CMGS dialog before it could take Ctrl-Z: not sent.

    A subclass of ``ModemUnavailableError`` on purpose: the dispatcher requeues the part
    without counting an attempt, exactly as for a modem that was not ready.  A restart after
    the modem took Ctrl-Z stays a ``SendInDoubtError``.
    """

    def __init__(self, message: str, reason: NotSentReason, line: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.line = line  # the banner or echo that proved it


class ReplyFormatError(ModemError, ValueError):
    """A modem reply did not have the shape its command promises."""


_R, _P, _H, _C, _S = (CmsPolicy.RETRY, CmsPolicy.PERMANENT, CmsPolicy.HOLD,
                      CmsPolicy.RECONFIGURE, CmsPolicy.SKIP)

# code -> (meaning, policy, catalogue error id).  The one +CMS table: what a code means, what to
# do about it, and which SMS API v1 error a message refused with it shows.  Network causes (< 128) come from the SMSC/network, 128-255 from
# the SC (TP-FCS), 300+ from the ME itself.
_CMS_TABLE: dict[int, tuple[str, CmsPolicy, int]] = {
    1: ("Unassigned (unallocated) number", _P, 1),
    8: ("Operator determined barring", _P, 13),
    10: ("Call barred", _P, 13),
    21: ("Short message transfer rejected", _P, 4097),
    27: ("Destination out of service", _P, 27),
    28: ("Unidentified subscriber", _P, 5),
    29: ("Facility rejected", _P, 21),
    30: ("Unknown subscriber", _P, 1),
    38: ("Network out of order", _R, 255),
    41: ("Temporary failure", _R, 255),
    42: ("Congestion", _R, 255),
    47: ("Resources unavailable, unspecified", _R, 255),
    50: ("Requested facility not subscribed", _P, 11),
    69: ("Requested facility not implemented", _P, 21),
    81: ("Invalid short message transfer reference value", _P, 255),
    95: ("Invalid message, unspecified", _P, 255),
    96: ("Invalid mandatory information", _P, 4096),
    97: ("Message type non-existent or not implemented", _P, 4096),
    98: ("Message not compatible with short message protocol state", _P, 4096),
    99: ("Information element non-existent or not implemented", _P, 4096),
    111: ("Protocol error, unspecified", _R, 255),
    127: ("Interworking, unspecified", _R, 255),
    192: ("SC busy", _R, 255),
    193: ("No SC subscription", _P, 255),
    194: ("SC system failure", _P, 255),
    195: ("Invalid SME address", _P, 261),
    196: ("Destination SME barred", _P, 2050),
    197: ("SM rejected: duplicate SM", _P, 255),
    198: ("TP-VPF not supported", _P, 255),
    199: ("TP-VP not supported", _P, 255),
    300: ("ME failure", _R, 255),
    301: ("SMS service of ME reserved", _R, 255),
    # SIM7600 answers 302 to every SMS command until "SMS DONE" after a (re)boot: the modem is
    # not ready, the message is fine, so the part is held without counting an attempt.
    302: ("Operation not allowed", _H, 255),
    303: ("Operation not supported", _P, 255),
    304: ("Invalid PDU mode parameter", _P, 255),
    305: ("Invalid text mode parameter", _P, 255),
    310: ("SIM not inserted", _H, 255),
    311: ("SIM PIN required", _H, 255),
    312: ("PH-SIM PIN required", _H, 255),
    313: ("SIM failure", _H, 255),
    314: ("SIM busy", _R, 255),
    315: ("SIM wrong", _H, 255),
    316: ("SIM PUK required", _H, 255),
    317: ("SIM PIN2 required", _H, 255),
    318: ("SIM PUK2 required", _H, 255),
    320: ("Memory failure", _R, 255),
    321: ("Invalid memory index", _S, 255),
    322: ("Memory full", _R, 255),
    330: ("SMSC address unknown", _C, 259),
    331: ("No network service", _H, 255),
    332: ("Network timeout", _R, 255),
    340: ("No +CNMA acknowledgement expected", _S, 255),
    500: ("Unknown error", _R, 255),
}

_CME_TABLE: dict[int, tuple[str, CmsPolicy, int]] = {
    0: ("Phone failure", _R, 255),
    1: ("No connection to phone", _R, 255),
    2: ("Phone-adaptor link reserved", _R, 255),
    3: ("Operation not allowed", _R, 255),
    4: ("Operation not supported", _P, 255),
    5: ("PH-SIM PIN required", _H, 255),
    10: ("SIM not inserted", _H, 255),
    11: ("SIM PIN required", _H, 255),
    12: ("SIM PUK required", _H, 255),
    13: ("SIM failure", _H, 255),
    14: ("SIM busy", _R, 255),
    15: ("SIM wrong", _H, 255),
    16: ("Incorrect password", _H, 255),
    17: ("SIM PIN2 required", _H, 255),
    18: ("SIM PUK2 required", _H, 255),
    20: ("Memory full", _R, 255),
    21: ("Invalid index", _S, 255),
    22: ("Not found", _S, 255),
    23: ("Memory failure", _R, 255),
    24: ("Text string too long", _P, 255),
    25: ("Invalid characters in text string", _P, 255),
    26: ("Dial string too long", _P, 255),
    27: ("Invalid characters in dial string", _P, 255),
    30: ("No network service", _H, 255),
    31: ("Network timeout", _R, 255),
    32: ("Network not allowed, emergency calls only", _H, 255),
    40: ("Network personalization PIN required", _H, 255),
    100: ("Unknown", _R, 255),
    515: ("Device busy, please wait", _R, 255),
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


_CMS_BY_TEXT = {_normalise(entry[0]): code for code, entry in _CMS_TABLE.items()}
_CME_BY_TEXT = {_normalise(entry[0]): code for code, entry in _CME_TABLE.items()}
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


def _classify(code: int | str | None, table: dict[int, tuple[str, CmsPolicy, int]],
              by_text: dict[str, int], label: str) -> CmsInfo:
    if code is None:
        return CmsInfo(None, "Unspecified ERROR", _R, False)
    number = code if isinstance(code, int) else error_code(code, by_text)
    if number is None:
        # Verbose text we have no number for: keep the modem's words, treat as transient.
        return CmsInfo(None, str(code).strip(), _R, False)
    meaning, policy, error_id = table.get(number, (f"Unknown {label} code {number}", _R, 255))
    return CmsInfo(number, meaning, policy, policy is CmsPolicy.PERMANENT, error_id)


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
