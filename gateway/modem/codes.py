"""The vocabulary of AT result codes: final results, unsolicited codes, and answers.

Kept apart from the channel so the rules "what ends a command" and "what is unsolicited" can be
read (and tested) in one place.  PDU-mode bodies are hex, so they never match a code here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from gateway.errors import AtCommandError, CmeError, CmsError
from gateway.modem.errors import cme_code, cms_code


class UrcKind(Enum):
    NEW_SMS = "+CMTI"              # stored SMS-DELIVER: "<mem>",<index>
    SMS = "+CMT"                   # routed SMS-DELIVER: header + PDU line
    STATUS_REPORT = "+CDS"         # routed SMS-STATUS-REPORT: header + PDU line
    STATUS_REPORT_STORED = "+CDSI"  # stored status report: "<mem>",<index>
    BOOT = "boot"                  # RDY, +CFUN: 1, Call Ready, SMS Ready, SMS DONE, PB DONE
    SIM = "+CPIN"                  # +CPIN: READY / NOT INSERTED / NOT READY / SIM PIN
    POWER_DOWN = "power-down"      # NORMAL POWER DOWN/OFF, UNDER/OVER-VOLTAGE POWER DOWN
    VOLTAGE_WARNING = "voltage-warning"
    USSD = "+CUSD"
    RING = "RING"
    REGISTRATION = "+CREG"         # +CREG / +CEREG / +CGREG
    OTHER = "other"


@dataclass(frozen=True)
class Urc:
    kind: UrcKind
    line: str
    body: str | None = None
    at: float = 0.0           # clock.monotonic() when the line was framed

    @property
    def value(self) -> str:
        """The text after ``+XXX:`` (or the whole line for bare codes)."""
        return line_value(self.line)


@dataclass(frozen=True)
class AtResponse:
    command: str
    lines: tuple[str, ...]
    final: str

    def values(self, prefix: str) -> list[str]:
        """The text after ``prefix:`` on every line that has it."""
        return [line_value(line) for line in self.lines if line_prefix(line) == prefix.upper()]

    def first(self, prefix: str) -> str | None:
        found = self.values(prefix)
        return found[0] if found else None

    def pairs(self, prefix: str) -> list[tuple[str, str]]:
        """``(header value, body)`` for two-line entries such as ``+CMGL`` / ``+CMGR``."""
        out: list[tuple[str, str]] = []
        for i, line in enumerate(self.lines):
            if line_prefix(line) == prefix.upper():
                nxt = self.lines[i + 1] if i + 1 < len(self.lines) else ""
                out.append((line_value(line), "" if line_prefix(nxt) else nxt))
        return out

    @property
    def text(self) -> str:
        """Information lines without a ``+XXX:`` prefix (CGSN, CGMR...), joined."""
        return "\n".join(line for line in self.lines if not line_prefix(line)).strip()


_PREFIX_RE = re.compile(r"^([+^$#*%][A-Za-z0-9_]+)(?::|$)")
_HEX_RE = re.compile(r"^[0-9A-Fa-f]+$")
_FINAL_PLAIN = {"OK", "ERROR", "NO CARRIER", "COMMAND NOT SUPPORT", "NO DIALTONE", "BUSY",
                "NO ANSWER"}
TWO_LINE_URCS = {"+CMT", "+CDS"}
TWO_LINE_RESPONSES = {"+CMGR", "+CMGL"}
_BARE_URCS: dict[str, UrcKind] = {
    "RDY": UrcKind.BOOT, "CALL READY": UrcKind.BOOT, "SMS READY": UrcKind.BOOT,
    "SMS DONE": UrcKind.BOOT, "PB DONE": UrcKind.BOOT,
    "NORMAL POWER DOWN": UrcKind.POWER_DOWN, "NORMAL POWER OFF": UrcKind.POWER_DOWN,
    "UNDER-VOLTAGE POWER DOWN": UrcKind.POWER_DOWN, "OVER-VOLTAGE POWER DOWN": UrcKind.POWER_DOWN,
    "UNDER-VOLTAGE WARNNING": UrcKind.VOLTAGE_WARNING,
    "UNDER-VOLTAGE WARNING": UrcKind.VOLTAGE_WARNING,
    "OVER-VOLTAGE WARNNING": UrcKind.VOLTAGE_WARNING,
    "OVER-VOLTAGE WARNING": UrcKind.VOLTAGE_WARNING,
    "RING": UrcKind.RING,
}
PREFIX_URCS: dict[str, UrcKind] = {
    "+CMTI": UrcKind.NEW_SMS, "+CMT": UrcKind.SMS, "+CDS": UrcKind.STATUS_REPORT,
    "+CDSI": UrcKind.STATUS_REPORT_STORED, "+CPIN": UrcKind.SIM, "+CUSD": UrcKind.USSD,
    "+CREG": UrcKind.REGISTRATION, "+CEREG": UrcKind.REGISTRATION,
    "+CGREG": UrcKind.REGISTRATION,
}
# Codes that end every pending command: the modem restarted or switched off.
ABORTING = {"RDY", "NORMAL POWER DOWN", "NORMAL POWER OFF", "UNDER-VOLTAGE POWER DOWN",
             "OVER-VOLTAGE POWER DOWN"}


def line_prefix(line: str) -> str:
    """``+CSQ`` for ``+CSQ: 17,99``; empty for lines without a prefix."""
    match = _PREFIX_RE.match(line)
    return match.group(1).upper() if match else ""


def line_value(line: str) -> str:
    prefix = _PREFIX_RE.match(line)
    return line[prefix.end():].strip() if prefix else line.strip()


def is_hex(line: str) -> bool:
    return bool(_HEX_RE.match(line))


def is_final(line: str) -> bool:
    return (line in _FINAL_PLAIN or line.startswith("+CMS ERROR:")
            or line.startswith("+CME ERROR:"))


def classify_urc(line: str) -> UrcKind | None:
    """The URC kind of a line, or None when the line is not a known unsolicited code."""
    bare = _BARE_URCS.get(line.strip().upper())
    if bare is not None:
        return bare
    prefix = line_prefix(line)
    if prefix == "+CFUN" and line_value(line) == "1":
        return UrcKind.BOOT
    if prefix == "+CMTE":
        return UrcKind.POWER_DOWN if line_value(line).lstrip("-") == "2" else \
            UrcKind.VOLTAGE_WARNING
    if prefix:
        return PREFIX_URCS.get(prefix, UrcKind.OTHER)
    return None


def is_power_down(line: str) -> bool:
    """A code saying the modem switches off (normal, under-/over-voltage, +CMTE: 2)."""
    return classify_urc(line.strip()) is UrcKind.POWER_DOWN


def is_under_voltage(line: str) -> bool:
    """A power code about the supply (warning or power-down), not a requested switch-off."""
    stripped = line.strip().upper()
    return line_prefix(stripped) == "+CMTE" or stripped.startswith(("UNDER-", "OVER-"))


def is_boot_banner(line: str) -> bool:
    """A line a modem only says while it (re)starts: RDY, +CFUN: 1, +CPIN: READY, Call Ready,
    SMS Ready, SMS DONE, PB DONE.  ``+CPIN: READY`` also follows a PIN entry, which never
    happens inside an AT+CMGS dialog, the one place this is asked."""
    stripped = line.strip()
    return classify_urc(stripped) is UrcKind.BOOT or stripped.upper() == "+CPIN: READY"


def final_error(command: str, final: str) -> AtCommandError | None:
    """The exception a final result code stands for (None for OK)."""
    if final == "OK":
        return None
    if final.startswith("+CMS ERROR:"):
        text = final.split(":", 1)[1].strip()
        code = cms_code(text)
        return CmsError(command, code, "" if text.isdigit() else text)
    if final.startswith("+CME ERROR:"):
        text = final.split(":", 1)[1].strip()
        code = cme_code(text)
        return CmeError(command, code, "" if text.isdigit() else text)
    return AtCommandError(command, None, "" if final == "ERROR" else final)
