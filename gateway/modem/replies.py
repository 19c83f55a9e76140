"""Pure parsers for the values of AT replies (the text after ``+XXX:``).

Real modems bend the standard (missing quotes, nested lists, empty fields), so every parser is
tolerant where the meaning is still clear and raises ``ReplyFormatError`` where it is not.  No
PDU is decoded here: ``pdu_kind`` only reads the message type indicator to route a stored PDU.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.modem.errors import ReplyFormatError
from gateway.modem.health import Registration, SimState

_REG_STATES = {0: Registration.NOT_REGISTERED, 1: Registration.HOME, 2: Registration.SEARCHING,
               3: Registration.DENIED, 4: Registration.UNKNOWN, 5: Registration.ROAMING,
               6: Registration.HOME, 7: Registration.ROAMING}  # 6/7: "SMS only" (27.007)


def decimal(text: str) -> bool:
    """ASCII digits only (str.isdigit also accepts "²", which int() refuses)."""
    return text.isascii() and text.isdigit()


def split_fields(value: str) -> list[str]:
    """Split a comma-separated reply value, honouring double quotes; quotes are removed.

    An unterminated quote simply runs to the end of the text (seen on real modems).
    """
    fields: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    fields.append("".join(current).strip())
    return fields


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip().strip('"'))
    except ValueError:
        raise ReplyFormatError(f"{what}: expected a number, got {text!r}") from None


@dataclass(frozen=True)
class Signal:
    rssi: int | None      # 0-31, None when unknown (99)
    ber: int | None       # 0-7, None when unknown (99)

    @property
    def dbm(self) -> int | None:
        return None if self.rssi is None else -113 + 2 * self.rssi


def parse_csq(value: str) -> Signal:
    """``17,99`` -> Signal(rssi=17, ber=None)."""
    fields = split_fields(value)
    if len(fields) < 2:
        raise ReplyFormatError(f"+CSQ: expected <rssi>,<ber>, got {value!r}")
    rssi, ber = _int(fields[0], "+CSQ rssi"), _int(fields[1], "+CSQ ber")
    return Signal(rssi if 0 <= rssi <= 31 else None, ber if 0 <= ber <= 7 else None)


def parse_registration(value: str, *, query: bool) -> Registration:
    """``+CREG``/``+CEREG``/``+CGREG``: the query form starts with <n>, the URC with <stat>."""
    fields = [f for f in split_fields(value)]
    index = 1 if query else 0
    if len(fields) <= index or not fields[index]:
        raise ReplyFormatError(f"registration: no <stat> in {value!r}")
    return _REG_STATES.get(_int(fields[index], "registration stat"), Registration.UNKNOWN)


def parse_cops(value: str) -> str | None:
    """``0,0,"Vodafone UK",7`` -> ``"Vodafone UK"``; None when no operator is selected."""
    fields = split_fields(value)
    if len(fields) >= 3 and fields[2]:
        return fields[2]
    return None


def parse_cpsi_mode(value: str) -> str:
    """SIM7600 ``+CPSI: LTE,Online,...`` -> "LTE"; "NO SERVICE" when unregistered."""
    return split_fields(value)[0].upper() or "UNKNOWN"


def parse_cpsi_online(value: str) -> bool:
    """SIM7600 ``+CPSI: LTE,Online,...``: False for ``NO SERVICE`` or an offline mode."""
    fields = split_fields(value)
    if not fields or fields[0].upper() == "NO SERVICE":
        return False
    return len(fields) > 1 and fields[1].lower() == "online"


def parse_cpin(value: str) -> SimState:
    state = value.strip().strip('"').upper()
    if state == "READY":
        return SimState.READY
    if state in ("SIM PIN", "PH-SIM PIN"):
        return SimState.PIN_REQUIRED
    if state in ("SIM PUK", "SIM PIN2", "SIM PUK2"):
        return SimState.PUK_REQUIRED if "PUK" in state else SimState.PIN_REQUIRED
    if state in ("NOT INSERTED", "NOT READY", "SIM REMOVED", "REMOVED"):
        return SimState.ABSENT if state != "NOT READY" else SimState.NOT_READY
    return SimState.UNKNOWN


def parse_storage_options(value: str) -> list[list[str]]:
    """``AT+CPMS=?`` -> one list of memory names per parameter (mem1, mem2, mem3).

    Handles ``("SM","ME"),("SM","ME"),...``, Wavecom's nested ``(("SM","BM","SR"),("SM"))``,
    unbracketed ``"SM","SM","SM"`` and a missing opening quote.
    """
    text = value.strip()
    if text.startswith("((") and text.endswith("))"):
        text = text[1:-1]
    groups = re.findall(r"\(([^()]*)\)", text)
    if not groups:
        return [[token] for token in re.findall(r"[A-Za-z_]+", text)]
    return [re.findall(r"[A-Za-z_]+", group) for group in groups]


def choose_storage(options: list[list[str]], preferred: str = "auto") -> str:
    """The memory for reading and receiving: the configured one, else SM, then ME, then MT."""
    read = options[0] if options else []
    receive = options[2] if len(options) > 2 else read
    if preferred != "auto":
        return preferred
    for memory in ("SM", "ME", "MT"):
        if memory in read and (not receive or memory in receive):
            return memory
    return read[0] if read else "SM"


def parse_ranges(value: str) -> list[set[int]]:
    """``(2),(0-1,3),(0,2)`` -> [{2}, {0, 1, 3}, {0, 2}] (the shape of ``AT+XXX=?`` replies)."""
    groups = re.findall(r"\(([^()]*)\)", value)
    out: list[set[int]] = []
    for group in groups:
        members: set[int] = set()
        for item in group.split(","):
            item = item.strip()
            if not item:
                continue
            low, _, high = item.partition("-")
            if not decimal(low) or (high and not decimal(high)):
                raise ReplyFormatError(f"range list: bad item {item!r} in {value!r}")
            members.update(range(int(low), int(high or low) + 1))
        out.append(members)
    return out


def choose_cnmi(options: list[set[int]], *, stored_reports: bool = False) -> str:
    """The AT+CNMI setting we want, limited to what the modem offers.

    mode 2 (buffer while the link is busy), mt=1 (store, +CMTI), bm=0, bfr=0; for reports ds=2
    (store in "SR", +CDSI) when ``stored_reports`` (the modem has an SR memory), because a
    stored report survives a gateway restart and an inline one does not; else ds=1 (+CDS
    inline), or ds=2 when 1 is missing.  SIM800 offers ds 0,1 and no SR.
    """
    def pick(index: int, wanted: tuple[int, ...], default: int) -> int | None:
        if index >= len(options):
            return None
        for value in wanted:
            if value in options[index]:
                return value
        return default if not options[index] else min(options[index])

    if not options:
        return "2,1,0,1,0"
    reports = (2, 1, 0) if stored_reports else (1, 2, 0)
    values = [pick(0, (2, 1, 3), 2), pick(1, (1,), 1), pick(2, (0,), 0), pick(3, reports, 0),
              pick(4, (0,), 0)]
    return ",".join(str(v) for v in values if v is not None)


def parse_memory_index(value: str) -> tuple[str, int]:
    """``"SM",3`` (from +CMTI / +CDSI) -> ("SM", 3)."""
    fields = split_fields(value)
    if len(fields) < 2:
        raise ReplyFormatError(f"expected <mem>,<index>, got {value!r}")
    return fields[0] or "SM", _int(fields[1], "storage index")


def parse_cmgl_header(value: str) -> tuple[int, int | None]:
    """``1,1,,161`` -> (index 1, stat 1); stat None when the modem leaves it out."""
    fields = split_fields(value)
    stat = fields[1] if len(fields) > 1 else ""
    return _int(fields[0], "+CMGL index"), (_int(stat, "+CMGL stat") if stat else None)


def pdu_kind(pdu: str) -> str | None:
    """``deliver`` / ``submit`` / ``status-report`` from TP-MTI, after the SMSC field.

    Returns None when the hex is too short to tell; nothing else of the PDU is interpreted.
    """
    try:
        smsc_octets = int(pdu[0:2], 16)
        first = int(pdu[2 + 2 * smsc_octets:4 + 2 * smsc_octets], 16)
    except ValueError:
        return None
    return {0: "deliver", 1: "submit", 2: "status-report"}.get(first & 0x03)
