"""The values the store hands out and takes in: frozen dataclasses, never peewee rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.lifecycle import MessageState, Outcome, outcome_of


@dataclass(frozen=True)
class AccountRecord:
    id: int
    username: str
    password_hash: str


@dataclass(frozen=True)
class NewPart:
    seq: int
    total: int
    pdu: str
    tpdu_length: int


@dataclass(frozen=True)
class NewMessage:
    message_id: str
    account_id: int
    bulk_id: str | None
    sender: str | None
    destination: str
    text: str | None
    data: bytes | None
    encoding: str
    sms_count: int
    concat_ref: int
    created_at: float
    expires_at: float
    parts: tuple[NewPart, ...]
    options: dict[str, Any]
    state: MessageState = MessageState.ACCEPTED
    status_name: str | None = None
    error_id: int = 0


@dataclass(frozen=True)
class MessageRecord:
    pk: int
    message_id: str
    account_id: int
    bulk_id: str | None
    sender: str | None
    destination: str
    text: str | None
    encoding: str
    sms_count: int
    state: MessageState
    status_name: str | None
    error_id: int
    created_at: float
    sent_at: float | None
    done_at: float | None
    expires_at: float

    @property
    def outcome(self) -> Outcome:
        """State, status and error as one lifecycle value (the three columns read back)."""
        return outcome_of(self.state, self.status_name, self.error_id)


@dataclass(frozen=True)
class PartJob:
    """A part claimed for sending: everything the dispatcher needs, nothing it must look up."""

    part_id: int
    message_pk: int
    message_id: str
    destination: str
    seq: int
    total: int
    pdu: str
    tpdu_length: int
    attempts: int
    expires_at: float
    status_report: bool


@dataclass(frozen=True)
class InboundRecord:
    pk: int
    message_id: str
    sender: str
    receiver: str
    text: str | None
    data: bytes | None
    keyword: str | None
    clean_text: str | None
    sms_count: int
    complete: bool
    received_at: float


@dataclass(frozen=True)
class StoredInboundPart:
    seq: int
    text: str | None
    data: bytes | None
    received_at: float
    pdu: str | None = None


@dataclass(frozen=True)
class RawReportRecord:
    """A status report kept as received because it could not be decoded."""

    pk: int
    pdu: str
    reason: str
    received_at: float


@dataclass(frozen=True)
class LogFilter:
    sender: str | None = None
    destination: str | None = None
    bulk_ids: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    states: tuple[MessageState, ...] = ()
    sent_since: float | None = None
    sent_until: float | None = None
    limit: int = 50


def message_record(row: Any) -> MessageRecord:
    """``row``: a ``Message`` row of any store's ``Tables``."""
    return MessageRecord(
        pk=row.id,
        message_id=row.message_id,
        account_id=row.account_id,
        bulk_id=row.bulk_id,
        sender=row.sender,
        destination=row.destination,
        text=row.text,
        encoding=row.encoding,
        sms_count=row.sms_count,
        state=MessageState(row.state),
        status_name=row.status_name,
        error_id=row.error_id,
        created_at=row.created_at,
        sent_at=row.sent_at,
        done_at=row.done_at,
        expires_at=row.expires_at,
    )


def inbound_record(row: Any) -> InboundRecord:
    """``row``: an ``Inbound`` row of any store's ``Tables``."""
    return InboundRecord(
        pk=row.id,
        message_id=row.message_id,
        sender=row.sender,
        receiver=row.receiver,
        text=row.text,
        data=bytes(row.data) if row.data is not None else None,
        keyword=row.keyword,
        clean_text=row.clean_text,
        sms_count=row.sms_count,
        complete=row.complete,
        received_at=row.received_at,
    )
