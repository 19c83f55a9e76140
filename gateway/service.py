"""The Gateway service: the only API the HTTP dialects may call. It knows nothing of HTTP.

It validates what the dialects could not (numbers, lengths, options), plans and encodes every
part before answering so ``smsCount`` is exact, and returns only after the store committed the
message: "nothing accepted is ever lost" starts here.
"""
from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol

from gateway.accounts import Account, Accounts
from gateway.auth import DEFAULT_HASHER, LoginGuard, PasswordHasher
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import Config
from gateway.errors import (
    AtTimeoutError,
    DuplicateMessageIdError,
    FeatureUnavailableError,
    EncodingError,
    MessageTooLongError,
    ModemUnavailableError,
    UnexpectedReplyError,
    ValidationError,
)
from gateway.health import Health, Readiness
from gateway.health import readiness as health_readiness
from gateway.health import report as health_report
from gateway.logsafe import NumberPolicy
from gateway.modem.health import ModemHealth
from gateway.numbers import normalise_number
from gateway.sms import SubmitOptions, TextPlan, encode_binary, encode_planned, plan_text
from gateway.statuses import (
    ACCEPTED_STATUS,
    NO_ERROR,
    STATE_STATUS,
    STATUSES,
    ErrorInfo,
    MessageState,
    Status,
    error_by_id,
)
from gateway.store import (
    InboundRecord,
    LogFilter,
    MessageRecord,
    NewMessage,
    NewPart,
    Store,
)

log = logging.getLogger(__name__)

_ALNUM_SENDER = re.compile(r"[\x20-\x7e]{1,11}")
MAX_DESTINATIONS = 10_000
MAX_LIMIT = 1000


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
class Price:
    price_per_message: float
    currency: str


@dataclass(frozen=True)
class SentMessage:
    """One outbound message as reports and logs show it."""

    bulk_id: str | None
    message_id: str
    to: str
    sender: str | None
    text: str | None
    sent_at: datetime
    done_at: datetime | None
    sms_count: int
    price: Price
    status: Status
    error: ErrorInfo
    mccmnc: str | None = None


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    sender: str
    to: str
    text: str | None
    clean_text: str | None
    keyword: str | None
    received_at: datetime
    sms_count: int
    price: Price
    complete: bool = True


@dataclass(frozen=True)
class LogQuery:
    sender: str | None = None
    to: str | None = None
    bulk_ids: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    general_status: str | None = None  # a status group name: PENDING, DELIVERED, ...
    sent_since: datetime | None = None
    sent_until: datetime | None = None
    limit: int | None = None  # None: the default page (50)


@dataclass(frozen=True)
class Balance:
    balance: float
    currency: str
    raw: str = ""


class ModemView(Protocol):
    """What the service needs of the modem side (health and USSD); runtime.py wires the real one."""

    def health(self) -> ModemHealth: ...

    def ussd(self, code: str, timeout: float = 30) -> str: ...


def _utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None


class Gateway:
    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_accepted: Callable[[], None] = lambda: None,
        modem: ModemView | None = None,
        hasher: PasswordHasher = DEFAULT_HASHER,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._on_accepted = on_accepted
        self._number = NumberPolicy(config.log.numbers)  # destinations in log lines
        self.modem = modem
        self._ref_lock = threading.Lock()
        self._next_ref = (store.last_concat_ref() + 1) % 65536
        self.accounts = Accounts(store, hasher=hasher, clock=clock)
        self._guard = LoginGuard(self.accounts.credentials, failure_delay=config.http.auth_failure_delay,
                                 clock=clock, hasher=hasher)
        self.started_at = clock.now()

    # ---- accounts ----

    def create_account(self, username: str, password: str | None = None) -> tuple[Account, str]:
        """See ``Accounts.create``: the one password policy."""
        return self.accounts.create(username, password)

    def authenticate(self, username: str, password: str, client: str = "") -> Account | None:
        """The account, or None; throttled per (username, client address): see ``LoginGuard``.

        LoginBusyError when too many password checks are running to check this one now.
        """
        account_id = self._guard.check(username, password, client)
        return Account(account_id, username) if account_id is not None else None

    # ---- submitting ----

    def _concat_ref(self) -> int:
        with self._ref_lock:
            ref = self._next_ref
            self._next_ref = (ref + 1) % 65536
            return ref

    def _options(self, req: SubmitRequest) -> SubmitOptions:
        s = self.config.sending
        validity = req.validity_minutes if req.validity_minutes is not None else s.validity_minutes
        if not 1 <= validity <= 2880 * 30:
            raise ValidationError("validityPeriod must be 1 to 86400 minutes", "validityPeriod")
        return SubmitOptions(
            status_report=s.status_report if req.status_report is None else req.status_report,
            validity_minutes=validity,
            flash=req.flash,
            smsc=self.config.modem.smsc or None,
            transliteration=req.transliteration,
            language_code=req.language_code,
            single_shift=req.single_shift,
            locking_shift=req.locking_shift,
            ref16=s.ref16,
            max_parts=s.max_parts,
        )

    def submit(self, account: Account, req: SubmitRequest) -> Accepted:
        if not req.destinations:
            raise ValidationError("to: at least one destination is required", "to")
        if len(req.destinations) > MAX_DESTINATIONS:
            raise ValidationError(f"to: at most {MAX_DESTINATIONS} destinations per request", "to")
        if req.text is None and req.data is None:
            raise ValidationError("text: a message needs a text", "text")
        if req.text is not None and req.data is not None:
            raise ValidationError("text: give either a text or binary data, not both", "text")
        sender = self._check_sender(req.sender)
        options = self._options(req)
        plan: TextPlan | None = None
        if req.text is not None:
            try:
                plan = plan_text(req.text, options)  # once per request, framed per destination
                text, encoding, too_long = plan.text, plan.encoding, None
                sms_count = plan.sms_count
            except MessageTooLongError as exc:
                text, encoding, too_long, sms_count = req.text, "gsm7", exc, exc.parts
            except EncodingError as exc:
                raise ValidationError(str(exc), "text") from None
        else:
            text, encoding, too_long, sms_count = None, "8bit", None, 0

        now = self.clock.now().timestamp()
        expires = now + options.validity_minutes * 60  # type: ignore[operator]
        bulk_id = req.bulk_id or (str(uuid.uuid4()) if len(req.destinations) > 1 else None)
        rows: list[NewMessage] = []
        answers: list[AcceptedMessage] = []
        seen_ids: set[str] = set()
        for dest in req.destinations:
            to = normalise_number(dest.to)
            message_id = dest.message_id or str(uuid.uuid4())
            if dest.message_id is not None and (
                message_id in seen_ids or self.store.message_id_exists(account.id, message_id)
            ):
                answers.append(AcceptedMessage(to, message_id, sms_count, STATUSES["REJECTED_DUPLICATE_MESSAGE_ID"]))
                continue
            seen_ids.add(message_id)
            ref = self._concat_ref()
            parts: tuple[NewPart, ...] = ()
            state, status_name, error_id = MessageState.ACCEPTED, None, 0
            if too_long is not None:
                state, status_name, error_id = MessageState.REJECTED, "REJECTED_MESSAGE_TOO_LONG", 0
            else:
                try:
                    if req.data is not None:
                        encoded = encode_binary(
                            to, req.data, options, data_coding=req.data_coding if req.data_coding is not None else 0x04,
                            udh=req.udh, concat_ref=ref,
                        )
                    else:
                        assert plan is not None
                        encoded = encode_planned(to, plan, options, concat_ref=ref)
                except MessageTooLongError:
                    encoded = []
                    state, status_name = MessageState.REJECTED, "REJECTED_MESSAGE_TOO_LONG"
                except EncodingError as exc:
                    raise ValidationError(str(exc), "text") from None
                parts = tuple(NewPart(p.seq, p.total, p.pdu, p.tpdu_length) for p in encoded)
                sms_count = len(parts) or sms_count
            rows.append(
                NewMessage(
                    message_id=message_id,
                    account_id=account.id,
                    bulk_id=bulk_id,
                    sender=sender,
                    destination=to,
                    text=text,
                    data=req.data,
                    encoding=encoding,
                    sms_count=sms_count,
                    concat_ref=ref,
                    created_at=now,
                    expires_at=expires,
                    parts=parts,
                    options={"status_report": options.status_report, "flash": options.flash},
                    state=state,
                    status_name=status_name,
                    error_id=error_id,
                )
            )
            status = STATUSES[status_name] if status_name else ACCEPTED_STATUS
            answers.append(AcceptedMessage(to, message_id, sms_count, status))
        try:
            self.store.insert_messages(rows)
        except DuplicateMessageIdError as exc:  # raced with a concurrent request
            raise ValidationError(f"messageId {exc.message_id!r} already exists", "messageId") from None
        for row in rows:
            log.info("message %s accepted for %s (%d parts, %s)", row.message_id, self._number(row.destination), row.sms_count, row.state.value)
        if any(r.parts for r in rows):
            self._on_accepted()
        return Accepted(bulk_id, tuple(answers))

    @staticmethod
    def _check_sender(sender: str | None) -> str | None:
        if sender is None or sender == "":
            return None
        sender = str(sender)
        if re.fullmatch(r"\+?[0-9]{3,14}", sender) or _ALNUM_SENDER.fullmatch(sender):
            return sender
        raise ValidationError("from: 3-14 digits or 1-11 printable ASCII characters", "from")

    # ---- reading ----

    def _view(self, m: MessageRecord) -> SentMessage:
        status = STATUSES[m.status_name] if m.status_name else STATE_STATUS[m.state]
        error = error_by_id(m.error_id) if m.error_id else NO_ERROR
        price = Price(self.config.account.price_per_message, self.config.account.currency)  # per one SMS
        return SentMessage(
            bulk_id=m.bulk_id,
            message_id=m.message_id,
            to=m.destination,
            sender=m.sender,
            text=m.text,
            sent_at=_utc(m.sent_at if m.sent_at is not None else m.created_at),  # type: ignore[arg-type]
            done_at=_utc(m.done_at),
            sms_count=m.sms_count,
            price=price,
            status=status,
            error=error,
        )

    @staticmethod
    def _limit(limit: int | None, default: int) -> int:
        if limit is None:
            return default
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(f"limit must be 1-{MAX_LIMIT}", "limit")
        return limit

    def reports(
        self, account: Account, *, bulk_id: str | None = None, message_id: str | None = None, limit: int | None = None
    ) -> list[SentMessage]:
        rows = self.store.take_reports(account.id, bulk_id=bulk_id, message_id=message_id, limit=self._limit(limit, 50))
        return [self._view(r) for r in rows]

    def logs(self, account: Account, query: LogQuery = LogQuery()) -> list[SentMessage]:
        states: tuple[MessageState, ...] = ()
        if query.general_status:
            group = query.general_status.upper()
            states = tuple(s for s, st in STATE_STATUS.items() if st.group_name == group)
            extra = {"REJECTED": (MessageState.REJECTED,), "UNDELIVERABLE": (MessageState.UNDELIVERABLE,),
                     "EXPIRED": (MessageState.EXPIRED,), "DELIVERED": (MessageState.DELIVERED, MessageState.SENT_NO_REPORT)}
            states = tuple(set(states) | set(extra.get(group, ())))
            if group not in {"ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED"}:
                raise ValidationError(f"generalStatus: unknown status group {query.general_status!r}", "generalStatus")
            if not states:
                return []
        flt = LogFilter(
            sender=query.sender,
            destination=normalise_number(query.to) if query.to else None,
            bulk_ids=query.bulk_ids,
            message_ids=query.message_ids,
            states=states,
            sent_since=query.sent_since.timestamp() if query.sent_since else None,
            sent_until=query.sent_until.timestamp() if query.sent_until else None,
            limit=self._limit(query.limit, 50),
        )
        return [self._view(r) for r in self.store.logs(account.id, flt)]

    def message(self, account: Account, message_id: str) -> SentMessage | None:
        rec = self.store.message(account.id, message_id)
        return self._view(rec) if rec else None

    def _received(self, r: InboundRecord) -> ReceivedMessage:
        return ReceivedMessage(
            message_id=r.message_id,
            sender=r.sender,
            to=r.receiver,
            text=r.text if r.text is not None else (r.data.hex().upper() if r.data else None),
            clean_text=r.clean_text,
            keyword=r.keyword,
            received_at=_utc(r.received_at),  # type: ignore[arg-type]
            sms_count=r.sms_count,
            price=Price(0.0, self.config.account.currency),
            complete=r.complete,
        )

    def inbox(self, account: Account, limit: int | None = None) -> list[ReceivedMessage]:
        return [self._received(r) for r in self.store.take_inbound(account.id, self._limit(limit, 50))]

    def inbox_logs(
        self,
        account: Account,
        *,
        to: str | None = None,
        keyword: str | None = None,
        no_keyword: bool = False,
        received_since: datetime | None = None,
        received_until: datetime | None = None,
        limit: int | None = None,
    ) -> list[ReceivedMessage]:
        rows = self.store.inbound_logs(
            receiver=normalise_number(to, "to") if to else None,
            keyword=keyword.upper() if keyword else None,
            no_keyword=no_keyword,
            since=received_since.timestamp() if received_since else None,
            until=received_until.timestamp() if received_until else None,
            limit=self._limit(limit, 50),
        )
        return [self._received(r) for r in rows]

    # ---- account and health ----

    def balance(self, account: Account) -> Balance:
        """The SIM's balance by USSD. FeatureUnavailableError: no code configured; ModemUnavailableError: no
        modem or no answer; UnexpectedReplyError: the answer holds no amount."""
        cfg = self.config.account
        if not cfg.balance_ussd:
            raise FeatureUnavailableError("balance: no USSD balance code is configured (account.balance_ussd)")
        if self.modem is None:
            raise ModemUnavailableError("balance: no modem is attached")
        try:
            text = self.modem.ussd(cfg.balance_ussd)
        except AtTimeoutError as exc:
            raise ModemUnavailableError(f"balance: the network did not answer {cfg.balance_ussd} ({exc})") from None
        match = re.search(cfg.balance_pattern, text)
        if not match:
            raise UnexpectedReplyError(f"balance: the USSD answer has no amount: {text!r}")
        try:
            amount = float(match.group(1).replace(",", "."))
        except (IndexError, ValueError):
            raise UnexpectedReplyError(f"balance: account.balance_pattern found no number in {text!r}") from None
        return Balance(amount, cfg.currency, text)

    def health(self) -> Health:
        return health_report(self.store, self.modem, clock=self.clock, started_at=self.started_at)

    def readiness(self) -> Readiness:
        return health_readiness(self.store)
