"""The values the store hands out and takes in: frozen dataclasses, never peewee rows."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from gateway.lifecycle import MessageState, Outcome, accepted, outcome_of


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
class MessageRecord:
    """One outbound message: what the service plans, the store takes, and the store returns.

    Why one type for both directions: the message used to be spelled out as a "new" and a
    "stored" dataclass, in the insert SQL and in the row conversion, so a field took ~6 edits.
    Every field here except ``pk``, ``outcome``, ``options`` and ``parts`` is a column of the
    same name (``MESSAGE_COLUMNS``), and the insert statement and the row conversion are
    derived from that list. ``pk`` is None until stored; ``parts`` are the PDUs to queue and
    are empty when read back (the dispatcher reads parts as ``PartJob``).
    """

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
    parts: tuple[NewPart, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    outcome: Outcome = field(default_factory=accepted)
    sent_at: float | None = None
    done_at: float | None = None
    pk: int | None = None

    @property
    def state(self) -> MessageState:
        return self.outcome.state

    @property
    def status_name(self) -> str | None:
        """The status as persisted (None: the state's own status)."""
        return self.outcome.status_name

    @property
    def error_id(self) -> int:
        return self.outcome.error_id


# The MessageRecord fields stored as they are in the "message" column of the same name.
MESSAGE_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in fields(MessageRecord) if f.name not in ("pk", "outcome", "options", "parts")
)
# Columns the record derives: the Outcome's three, its options as JSON, and the report flag.
MESSAGE_INSERT_COLUMNS: tuple[str, ...] = MESSAGE_COLUMNS + (
    "state", "status_name", "error_id", "options", "report_unread",
)


def message_values(m: MessageRecord) -> tuple[Any, ...]:
    """The values of ``MESSAGE_INSERT_COLUMNS`` for ``m``. A message final when stored (refused
    before queueing) is done at its creation and reported once."""
    final = m.outcome.final
    done_at = m.done_at if m.done_at is not None or not final else m.created_at
    plain = tuple(done_at if c == "done_at" else getattr(m, c) for c in MESSAGE_COLUMNS)
    o = m.outcome
    return plain + (o.state.value, o.status_name, o.error_id, json.dumps(dict(m.options)), final)


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
    """One received SMS (assembled): what the inbound handler builds, the store takes and
    returns. Every field but ``pk`` (None until stored) is an "inbound" column of the same
    name (``INBOUND_COLUMNS``)."""

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
    pk: int | None = None


INBOUND_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(InboundRecord) if f.name != "pk")


def inbound_values(r: InboundRecord) -> dict[str, Any]:
    """Column values to insert ``r``."""
    return {c: getattr(r, c) for c in INBOUND_COLUMNS}


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


def _column(value: Any) -> Any:
    """A column value as the records hold it (SQLite may hand a BLOB back as a memoryview)."""
    return bytes(value) if isinstance(value, memoryview) else value


def message_record(row: Any) -> MessageRecord:
    """``row``: a ``Message`` row of any store's ``Tables``."""
    return MessageRecord(
        pk=row.id,
        outcome=outcome_of(MessageState(row.state), row.status_name, row.error_id),
        options=json.loads(row.options),
        **{c: _column(getattr(row, c)) for c in MESSAGE_COLUMNS},
    )


def inbound_record(row: Any) -> InboundRecord:
    """``row``: an ``Inbound`` row of any store's ``Tables``."""
    return InboundRecord(pk=row.id, **{c: _column(getattr(row, c)) for c in INBOUND_COLUMNS})
