"""The Gateway service: the only API the HTTP dialects may call. It knows nothing of HTTP.

It validates what the dialects could not (numbers, lengths, options), plans and encodes every
part before answering so ``smsCount`` is exact, and returns only after the store committed the
message: "nothing accepted is ever lost" starts here.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from gateway.accounts import Account, Accounts
from gateway.auth import DEFAULT_HASHER, LoginGuard, PasswordHasher
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import Config
from gateway.errors import (
    AtTimeoutError,
    DuplicateMessageIdError,
    FeatureUnavailableError,
    ModemUnavailableError,
    StoreError,
    UnexpectedReplyError,
    ValidationError,
)
from gateway.health import Health, Readiness
from gateway.health import readiness as health_readiness
from gateway.health import report as health_report
from gateway.logsafe import NumberPolicy
from gateway.modem.health import ModemHealth
from gateway.numbers import normalise_number
from gateway import lifecycle
from gateway.lifecycle import MessageState
from gateway.statuses import STATUS_GROUPS, ErrorInfo, Status
from gateway.store import InboundRecord, LogFilter, MessageRecord
from gateway.store.protocol import Storage
from gateway.submit import (  # noqa: F401 - the value types are the service's API too
    MAX_DESTINATIONS,
    REF_SPACE,
    Accepted,
    AcceptedMessage,
    Destination,
    SendQuota,
    SubmitRequest,
    plan_submit,
    validate_request,
)

log = logging.getLogger(__name__)

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Price:
    price_per_message: float
    currency: str


@dataclass(frozen=True)
class SentMessage:
    """One outbound message as reports and logs show it: a view over the stored record.

    Why a wrapper and not a copy: the views used to repeat every field of the record, so a new
    field needed an edit here too. Only what the dialects see differently is spelled out (``to``,
    times as datetimes, the outcome's status and error, the price); every other attribute
    (``message_id``, ``bulk_id``, ``sender``, ``text``, ``sms_count``, ...) is the record's own.
    """

    record: MessageRecord
    price: Price
    mccmnc: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "record":  # not set yet (copy/pickle): never recurse
            raise AttributeError(name)
        return getattr(self.record, name)

    @property
    def to(self) -> str:
        return self.record.destination

    @property
    def sent_at(self) -> datetime:
        """When it left, or when it was accepted while it has not."""
        r = self.record
        return _utc(r.sent_at if r.sent_at is not None else r.created_at)  # type: ignore[return-value]

    @property
    def done_at(self) -> datetime | None:
        return _utc(self.record.done_at)

    @property
    def status(self) -> Status:
        return self.record.outcome.status

    @property
    def error(self) -> ErrorInfo:
        return self.record.outcome.error


@dataclass(frozen=True)
class ReceivedMessage:
    """One received SMS as the inbox shows it: a view over the stored record (see
    ``SentMessage`` for why); ``message_id``, ``sender``, ``keyword``, ``clean_text``,
    ``sms_count``, ``complete``... are the record's own."""

    record: InboundRecord
    price: Price

    def __getattr__(self, name: str) -> Any:
        if name == "record":
            raise AttributeError(name)
        return getattr(self.record, name)

    @property
    def to(self) -> str:
        return self.record.receiver

    @property
    def text(self) -> str | None:
        """The text, or binary content as upper-case hex."""
        r = self.record
        return r.text if r.text is not None else (r.data.hex().upper() if r.data else None)

    @property
    def received_at(self) -> datetime:
        return _utc(self.record.received_at)  # type: ignore[return-value]


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
        store: Storage,
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
        self._next_ref = (store.last_concat_ref() + 1) % REF_SPACE
        self._quota = SendQuota(config.limits.messages_per_minute, clock=clock)
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

    def _reserve_refs(self, count: int) -> int:
        """The first of ``count`` consecutive concatenation references for one request."""
        with self._ref_lock:
            first = self._next_ref
            self._next_ref = (first + count) % REF_SPACE
            return first

    def submit(self, account: Account, req: SubmitRequest) -> Accepted:
        """Plan (``gateway.submit``), store, answer: returns only after the commit.

        QuotaExceededError when the account would pass ``limits.messages_per_minute`` (nothing of
        the request is accepted). A caller-supplied ``messageId`` that a concurrent request
        stored first is answered REJECTED_DUPLICATE_MESSAGE_ID, as if it had come second.
        """
        sender, options = validate_request(req, self.config.sending, smsc=self.config.modem.smsc)
        first_ref = self._reserve_refs(len(req.destinations))
        supplied = [d.message_id for d in req.destinations if d.message_id is not None]
        now = self.clock.now().timestamp()
        # Each retry follows a concurrent request that committed one of our ids first, so
        # there are at most as many retries as caller-supplied ids.
        for _attempt in range(len(supplied) + 1):
            taken = self.store.existing_message_ids(account.id, supplied) if supplied else set()
            plan = plan_submit(req, account_id=account.id, sender=sender, options=options, now=now,
                               taken_ids=taken, first_ref=first_ref)
            self._quota.take(account.id, plan.queued)
            try:
                if plan.records:
                    self.store.insert_messages(plan.records)
            except DuplicateMessageIdError as exc:
                self._quota.give_back(account.id, plan.queued)
                log.info("message %s: stored by a concurrent request first, planning again", exc.message_id)
                continue
            except BaseException:
                self._quota.give_back(account.id, plan.queued)
                raise
            break
        else:  # pragma: no cover - every retry marks one more id as taken
            raise StoreError("messageId: the request kept racing concurrent requests")
        for row in plan.records:
            log.info("message %s accepted for %s (%d parts, %s)", row.message_id, self._number(row.destination), row.sms_count, row.state.value)
        if plan.queued:
            self._on_accepted()
        return plan.answer

    # ---- reading ----

    def _view(self, m: MessageRecord) -> SentMessage:
        return SentMessage(m, Price(self.config.account.price_per_message, self.config.account.currency))

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
            if group not in STATUS_GROUPS.values():
                raise ValidationError(f"generalStatus: unknown status group {query.general_status!r}", "generalStatus")
            states = lifecycle.states_in_group(group)
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
        return ReceivedMessage(r, Price(0.0, self.config.account.currency))

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
