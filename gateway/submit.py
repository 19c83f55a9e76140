"""Planning a send request: from the validated request to the records the store keeps.

Why a pure function apart from the service: deciding what a request becomes (which destination
is a duplicate, what is too long, how each message is framed into PDUs, which Outcome each
starts with) needs no database and no clock, so it is tested as values; the service only
validates, asks the store which ids are taken, stores the plan and answers. Nothing here
writes, reads or waits.
"""
from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Callable, Collection

from gateway import lifecycle
from gateway.clock import Clock
from gateway.config import SendingConfig
from gateway.errors import EncodingError, MessageTooLongError, QuotaExceededError, ValidationError
from gateway.lifecycle import Outcome, RejectReason
from gateway.numbers import normalise_number
from gateway.sms import SubmitOptions, TextPlan, encode_binary, encode_planned, plan_text
from gateway.statuses import Status
from gateway.store import NewMessage, NewPart

REF_SPACE = 65536  # concatenation references are 16 bits (8-bit ones use the low octet)
BINARY_DCS = 0x04  # 8-bit data, the default data coding of a binary message
MAX_DESTINATIONS = 10_000  # per request, across its message objects
MAX_VALIDITY_MINUTES = 2880 * 30
_ALNUM_SENDER = re.compile(r"[\x20-\x7e]{1,11}")
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{3,14}")


@dataclass(frozen=True)
class Destination:
    to: str
    message_id: str | None = None


@dataclass(frozen=True)
class SubmitRequest:
    destinations: tuple[Destination, ...]
    sender: str | None = None
    text: str | None = None
    data: bytes | None = None  # binary message payload
    data_coding: int | None = None  # binary DCS (0x04 8-bit by default)
    udh: bytes | None = None  # caller-supplied UDH for binary messages
    bulk_id: str | None = None
    flash: bool = False
    validity_minutes: int | None = None
    transliteration: str | None = None
    language_code: str | None = None
    single_shift: bool | None = None
    locking_shift: bool | None = None
    status_report: bool | None = None  # None: sending.status_report from the config


@dataclass(frozen=True)
class AcceptedMessage:
    to: str
    message_id: str
    sms_count: int
    status: Status


@dataclass(frozen=True)
class Accepted:
    bulk_id: str | None
    messages: tuple[AcceptedMessage, ...]


@dataclass(frozen=True)
class SubmitPlan:
    """What one request becomes: the records to store (all or none) and the answer."""

    bulk_id: str | None
    records: tuple[NewMessage, ...]
    answer: Accepted

    @property
    def queued(self) -> int:
        """Messages with parts to send (the dispatcher is woken only when there are some)."""
        return sum(1 for r in self.records if r.parts)


@dataclass(frozen=True)
class _Body:
    """The request's content as planned once (text framing does not depend on the recipient)."""

    plan: TextPlan | None  # None: binary, or rejected
    text: str | None
    encoding: str
    sms_count: int
    rejection: Outcome | None  # the whole request is refused (too long): no body is kept


def _plan_body(req: SubmitRequest, options: SubmitOptions) -> _Body:
    if req.text is None:
        return _Body(None, None, "8bit", 0, None)
    try:
        plan = plan_text(req.text, options)
    except MessageTooLongError as exc:
        # A rejected text is not kept (issue 10 item 3: one 115 KB request added 150 MB, the
        # text once per destination): the rejection, its status and its size are.
        return _Body(None, None, "gsm7", exc.parts, lifecycle.rejected(RejectReason.MESSAGE_TOO_LONG))
    except EncodingError as exc:
        raise ValidationError(str(exc), "text") from None
    return _Body(plan, plan.text, plan.encoding, plan.sms_count, None)


def validate_request(req: SubmitRequest, sending: SendingConfig, *, smsc: str = "") -> tuple[str | None, SubmitOptions]:
    """What a dialect could not check: the request's shape, its sender and its options (the
    config's defaults applied). Returns (sender, options); ValidationError names the field."""
    if not req.destinations:
        raise ValidationError("to: at least one destination is required", "to")
    if len(req.destinations) > MAX_DESTINATIONS:
        raise ValidationError(f"to: at most {MAX_DESTINATIONS} destinations per request", "to")
    if req.text is None and req.data is None:
        raise ValidationError("text: a message needs a text", "text")
    if req.text is not None and req.data is not None:
        raise ValidationError("text: give either a text or binary data, not both", "text")
    validity = req.validity_minutes if req.validity_minutes is not None else sending.validity_minutes
    if not 1 <= validity <= MAX_VALIDITY_MINUTES:
        raise ValidationError(f"validityPeriod must be 1 to {MAX_VALIDITY_MINUTES} minutes", "validityPeriod")
    options = SubmitOptions(
        status_report=sending.status_report if req.status_report is None else req.status_report,
        validity_minutes=validity,
        flash=req.flash,
        smsc=smsc or None,
        transliteration=req.transliteration,
        language_code=req.language_code,
        single_shift=req.single_shift,
        locking_shift=req.locking_shift,
        ref16=sending.ref16,
        max_parts=sending.max_parts,
    )
    return _check_sender(req.sender), options


def _check_sender(sender: str | None) -> str | None:
    if sender is None or sender == "":
        return None
    sender = str(sender)
    if _NUMERIC_SENDER.fullmatch(sender) or _ALNUM_SENDER.fullmatch(sender):
        return sender
    raise ValidationError("from: 3-14 digits or 1-11 printable ASCII characters", "from")


def plan_submit(
    req: SubmitRequest,
    *,
    account_id: int,
    sender: str | None,
    options: SubmitOptions,
    now: float,
    taken_ids: Collection[str],
    first_ref: int,
    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> SubmitPlan:
    """Plan a validated request (``sender`` and ``options`` already checked).

    ``taken_ids``: the caller-supplied message ids the account already has (each such
    destination is answered REJECTED_DUPLICATE_MESSAGE_ID and not stored, as is a repeat within
    the request). ``first_ref``: the first of ``len(req.destinations)`` concatenation references
    reserved for this request. ValidationError for a destination or content that cannot be sent.
    """
    body = _plan_body(req, options)
    expires = now + options.validity_minutes * 60  # type: ignore[operator]
    bulk_id = req.bulk_id or (new_id() if len(req.destinations) > 1 else None)
    records: list[NewMessage] = []
    answers: list[AcceptedMessage] = []
    seen: set[str] = set()
    for dest in req.destinations:
        to = normalise_number(dest.to)
        message_id = dest.message_id or new_id()
        if dest.message_id is not None and (message_id in seen or message_id in taken_ids):
            duplicate = lifecycle.rejected(RejectReason.DUPLICATE_MESSAGE_ID)
            answers.append(AcceptedMessage(to, message_id, body.sms_count, lifecycle.submit_status(duplicate)))
            continue
        seen.add(message_id)
        ref = (first_ref + len(records)) % REF_SPACE
        outcome, parts = _frame(req, body, options, to, ref)
        sms_count = len(parts) or body.sms_count
        rejected = outcome.state is lifecycle.MessageState.REJECTED
        records.append(
            NewMessage(
                message_id=message_id,
                account_id=account_id,
                bulk_id=bulk_id,
                sender=sender,
                destination=to,
                text=None if rejected else body.text,
                data=None if rejected else req.data,
                encoding=body.encoding,
                sms_count=sms_count,
                concat_ref=ref,
                created_at=now,
                expires_at=expires,
                parts=parts,
                options={"status_report": options.status_report, "flash": options.flash},
                state=outcome.state,
                status_name=outcome.status_name,
                error_id=outcome.error_id,
            )
        )
        answers.append(AcceptedMessage(to, message_id, sms_count, lifecycle.submit_status(outcome)))
    return SubmitPlan(bulk_id, tuple(records), Accepted(bulk_id, tuple(answers)))


def _frame(
    req: SubmitRequest, body: _Body, options: SubmitOptions, to: str, ref: int
) -> tuple[Outcome, tuple[NewPart, ...]]:
    """The PDUs for one recipient, and the Outcome the message starts with."""
    if body.rejection is not None:
        return body.rejection, ()
    try:
        if req.data is not None:
            dcs = req.data_coding if req.data_coding is not None else BINARY_DCS
            encoded = encode_binary(to, req.data, options, data_coding=dcs, udh=req.udh, concat_ref=ref)
        else:
            assert body.plan is not None
            encoded = encode_planned(to, body.plan, options, concat_ref=ref)
    except MessageTooLongError:
        return lifecycle.rejected(RejectReason.MESSAGE_TOO_LONG), ()
    except EncodingError as exc:
        raise ValidationError(str(exc), "text") from None
    return lifecycle.accepted(), tuple(NewPart(p.seq, p.total, p.pdu, p.tpdu_length) for p in encoded)


@dataclass
class _Bucket:
    tokens: float
    at: float  # monotonic seconds of the last refill


@dataclass
class SendQuota:
    """``limits.messages_per_minute`` per account, as a token bucket (0: unlimited).

    A request takes one token per message it queues, all or none, so a client may burst up to a
    minute's worth and then goes at the refill rate. Kept in memory: a restart forgets it (the
    quota bounds a runaway client, it is not billing). The clock is injected (tests use
    ``ManualClock``); one lock, held only for arithmetic.
    """

    per_minute: int
    clock: Clock
    _buckets: dict[int, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, account_id: int, count: int) -> None:
        """Take ``count`` tokens, or raise QuotaExceededError and take none."""
        if self.per_minute <= 0 or count <= 0:
            return
        if count > self.per_minute:
            raise QuotaExceededError(self.per_minute, count, None)
        with self._lock:
            bucket = self._refilled(account_id)
            if bucket.tokens < count:
                wait = (count - bucket.tokens) * 60.0 / self.per_minute
                raise QuotaExceededError(self.per_minute, count, wait)
            bucket.tokens -= count

    def give_back(self, account_id: int, count: int) -> None:
        """The request that took ``count`` was not stored after all."""
        if self.per_minute <= 0 or count <= 0:
            return
        with self._lock:
            bucket = self._refilled(account_id)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + count)

    def _refilled(self, account_id: int) -> _Bucket:
        now = self.clock.monotonic()
        bucket = self._buckets.get(account_id)
        if bucket is None:
            bucket = self._buckets[account_id] = _Bucket(float(self.per_minute), now)
        else:
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.at) * self.per_minute / 60.0)
            bucket.at = now
        return bucket
