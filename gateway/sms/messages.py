"""The values the codec hands out: addresses, UDH information elements and decoded TPDUs.

Frozen dataclasses, so decoded PDUs can be compared, hashed and passed between threads freely.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5
NPI_UNKNOWN = 0
NPI_ISDN = 1

IEI_CONCAT_8 = 0x00
IEI_PORTS_8 = 0x04
IEI_PORTS_16 = 0x05
IEI_CONCAT_16 = 0x08
IEI_SINGLE_SHIFT = 0x24
IEI_LOCKING_SHIFT = 0x25


@dataclass(frozen=True)
class Address:
    """A TP-OA/TP-DA/TP-RA or SMSC address.

    ``number`` holds digits (and ``* # a b c``) without "+" for numeric addresses, and the text
    for alphanumeric ones (``ton == 5``).
    """

    number: str
    ton: int = TON_UNKNOWN
    npi: int = NPI_ISDN

    @property
    def alphanumeric(self) -> bool:
        return self.ton == TON_ALPHANUMERIC

    @property
    def international(self) -> bool:
        return self.ton == TON_INTERNATIONAL

    @property
    def formatted(self) -> str:
        """"+<digits>" for international numbers, the number or text as it is otherwise."""
        return f"+{self.number}" if self.international else self.number

    @property
    def type_of_address(self) -> int:
        return 0x80 | (self.ton & 0x07) << 4 | (self.npi & 0x0F)

    def __str__(self) -> str:
        return self.formatted


@dataclass(frozen=True)
class InformationElement:
    """One UDH information element, kept raw; the typed views below are derived from it."""

    iei: int
    data: bytes


@dataclass(frozen=True)
class Concat:
    """Concatenated short message IE (8-bit reference IEI 0x00, 16-bit reference IEI 0x08)."""

    ref: int
    total: int
    seq: int
    ref_bits: int  # 8 or 16


@dataclass(frozen=True)
class Ports:
    """Application port addressing IE (8-bit IEI 0x04, 16-bit IEI 0x05), e.g. WAP push 2948."""

    destination: int
    source: int
    bits: int  # 8 or 16


@dataclass(frozen=True)
class Deliver:
    """SMS-DELIVER (mobile terminated)."""

    smsc: Address | None
    sender: Address
    timestamp: datetime  # TP-SCTS, aware, the sender's zone kept
    pid: int
    dcs: int
    encoding: str  # "gsm7" | "8bit" | "ucs2"
    text: str | None  # None for 8-bit data
    data: bytes | None  # 8-bit payload without UDH
    concat: Concat | None
    message_class: int | None
    udh: tuple[InformationElement, ...]
    ports: Ports | None = None
    language_lock: int = 0  # national language locking shift table in use (0 = default)
    language_shift: int = 0  # national language single shift table in use (0 = default)
    more_messages: bool = False  # TP-MMS says the SC has more messages waiting
    status_report_indication: bool = False  # TP-SRI
    reply_path: bool = False
    user_data: bytes = b""  # raw TP-UD octets as on the wire, UDH included
    udl: int = 0
    udhi: bool = False


@dataclass(frozen=True)
class StatusReport:
    """SMS-STATUS-REPORT. TP-ST values per TS 23.040 9.2.3.15."""

    smsc: Address | None
    reference: int  # TP-MR of the SUBMIT it reports on
    recipient: Address
    timestamp: datetime  # TP-SCTS, aware
    discharge_time: datetime  # TP-DT, aware
    status: int
    more_messages: bool = False
    qualifier_command: bool = False  # TP-SRQ: True = report on an SMS-COMMAND, not a SUBMIT

    @property
    def delivered(self) -> bool:
        """0x00-0x1F: transaction completed (received, forwarded unconfirmed, or replaced)."""
        return self.status < 0x20

    @property
    def temporary_failure(self) -> bool:
        """0x20-0x3F: temporary error and the SC is still trying: another report will follow."""
        return 0x20 <= self.status < 0x40

    @property
    def permanent_failure(self) -> bool:
        """0x40 and above: the SC makes no more attempts (0x60-0x7F are 'temporary' errors after
        which the SC gave up, so for the sender they are final failures too; reserved values
        above 0x7F are treated the same way)."""
        return self.status >= 0x40

    @property
    def final(self) -> bool:
        return not self.temporary_failure


@dataclass(frozen=True)
class Submit:
    """SMS-SUBMIT, decoded (the emulator receives these from AT+CMGS)."""

    smsc: Address | None
    reference: int
    destination: Address
    pid: int
    dcs: int
    encoding: str
    text: str | None
    data: bytes | None
    concat: Concat | None
    status_report_requested: bool
    reject_duplicates: bool
    validity: timedelta | datetime | None
    message_class: int | None
    user_data: bytes  # raw TP-UD octets as on the wire (incl. UDH)
    udl: int  # raw TP-UDL
    udhi: bool
    udh: tuple[InformationElement, ...] = ()
    ports: Ports | None = None
    language_lock: int = 0
    language_shift: int = 0
    reply_path: bool = False
