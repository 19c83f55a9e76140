"""The storage contract: what the rest of simgate may ask of a store, and what is atomic.

Why Protocols and not the ``Store`` class: the service, the dispatcher, the report matcher, the
inbound handler and health each need a handful of the store's methods; depending on the narrow
role keeps them testable with a fake and lets a second backend (PostgreSQL, later) slot in. The
contract suite in ``tests/store/`` runs against every implementation; a new backend is done when
that suite passes on it.

Rules every implementation keeps (huey's ``BaseStorage`` is the model for spelling them out):

- A method documented "atomically" commits all of its effect or none of it, durably, before it
  returns; concurrent callers see it whole or not at all.
- Reads see every write that returned before the read started (read-your-writes across threads).
- Times are POSIX seconds chosen by the caller (``now``); no implementation reads a clock, so
  every rule below is testable on a ``ManualClock``.
- Failures are ``StoreError`` (the database is unusable: locked, full, read-only, gone; its text
  carries the driver's real cause) or the documented domain errors; never a driver exception.
- Values in and out are the frozen records of ``gateway.store.records``; no row object leaves.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol, Sequence

from gateway.lifecycle import InDoubtPolicy, Outcome
from gateway.store.records import (
    AccountRecord,
    InboundRecord,
    LogFilter,
    MessageRecord,
    NewMessage,
    PartJob,
    RawReportRecord,
    StoredInboundPart,
)

InboundGroup = tuple[str, int, int, int]
"""A concatenated inbound message's key: (sender, reference, reference bits, total parts)."""


class AccountStorage(Protocol):
    """API accounts (what ``gateway.accounts`` needs)."""

    def create_account(self, username: str, password_hash: str, now: float) -> AccountRecord:
        """Atomically add an account. ValidationError when ``username`` exists."""
        ...

    def set_password(self, username: str, password_hash: str) -> bool:
        """Atomically replace the hash; False when there is no such account."""
        ...

    def delete_account(self, username: str) -> bool:
        """Atomically delete the account with its messages and read marks; False when absent."""
        ...

    def account(self, username: str) -> AccountRecord | None: ...

    def accounts(self) -> Sequence[AccountRecord]:
        """Every account, oldest first."""
        ...


class AcceptStorage(Protocol):
    """The accept and read side of outbound messages (what the service needs)."""

    def insert_messages(self, messages: Sequence[NewMessage]) -> None:
        """Atomically insert every message of one request with its parts: all or none.

        DuplicateMessageIdError (nothing inserted) when a ``message_id`` exists for its account
        or repeats within ``messages``. A message whose state is final is inserted with
        ``done_at = created_at`` and is reported once by ``take_reports``.
        """
        ...

    def existing_message_ids(self, account_id: int, message_ids: Sequence[str]) -> set[str]:
        """Which of ``message_ids`` the account already has (one statement whatever their
        number)."""
        ...

    def last_concat_ref(self) -> int:
        """The concatenation reference of the newest message (0 when there is none), so a
        restarted gateway continues the sequence instead of reusing recent references."""
        ...

    def message(self, account_id: int, message_id: str) -> MessageRecord | None:
        """Only the account's own message: another account's id reads as absent."""
        ...

    def message_parts(self, message_pk: int) -> list[dict[str, Any]]: ...

    def take_reports(
        self, account_id: int, *, bulk_id: str | None, message_id: str | None, limit: int
    ) -> list[MessageRecord]:
        """Atomically return up to ``limit`` final, not yet reported messages (oldest final
        first) and mark them reported: each final message is returned once, even to callers
        racing each other."""
        ...

    def logs(self, account_id: int, flt: LogFilter) -> list[MessageRecord]:
        """The account's messages matching ``flt``, newest first; reading never marks them."""
        ...

    def counts_by_state(self) -> Mapping[str, int]: ...

    def queued_parts(self) -> int:
        """Parts not yet handed to the network (queued or being sent)."""
        ...


class DispatchStorage(Protocol):
    """The send queue (what the dispatcher needs). A part is queued, sending (claimed: its
    outcome is in doubt until recorded), sent, delivered, failed or expired."""

    def claim_next_part(self, now: float) -> PartJob | None:
        """Atomically move the earliest due queued part (``next_attempt_at <= now``) to sending,
        counting an attempt, and return it; a part is claimed by one caller only."""
        ...

    def next_due_time(self) -> float | None:
        """When the earliest queued part becomes due; None when nothing is queued."""
        ...

    def record_part_sent(self, part_id: int, mr: int | None, now: float, status_report: bool) -> None:
        """Atomically mark the part sent with its TP-MR (None: in doubt), settle its message
        (``lifecycle.settle``), and match again the reports held for its number while it was
        sending (``lifecycle.match_report``): its own is applied to it."""
        ...

    def record_part_retry(self, part_id: int, error: str, retry_at: float) -> None:
        """Atomically queue the part again for ``retry_at``; the attempt stays counted. Reports
        held for its number are matched again (none of them was its own)."""
        ...

    def release_part(self, part_id: int, retry_at: float) -> None:
        """Atomically queue the part again without counting the attempt (modem not reached);
        held reports are matched again as for ``record_part_retry``."""
        ...

    def fail_message(self, message_pk: int, outcome: Outcome, now: float, reason: str) -> None:
        """Atomically end the message with the final ``outcome`` and every unfinished part with
        ``lifecycle.part_state_for(outcome)`` (a final message keeps its outcome)."""
        ...

    def expire_due(self, now: float) -> list[str]:
        """Atomically let time act (``lifecycle.lapse``): messages whose validity ended while
        parts were queued are expired (their ids are returned), sent ones whose report is
        overdue end DELIVERED_TO_OPERATOR."""
        ...

    def recover_in_doubt(self, now: float, policy: InDoubtPolicy) -> list[tuple[str, int]]:
        """Atomically settle parts left sending by a crash as ``lifecycle.in_doubt(policy)``
        says: queued again, or assumed sent without TP-MR. Returns (message id, part seq)."""
        ...


class ReportStorage(Protocol):
    """Status reports (what the report matcher needs)."""

    def apply_status_report(self, suffix: str, mr: int, tp_status: int, now: float) -> MessageRecord | None:
        """Atomically match a report to a part (``lifecycle.match_report`` decides) and apply
        it, or hold it pending (None) while its owner may be a part still sending. Matching
        and applying are one transaction: no send can be recorded between them."""
        ...

    def pending_reports(self) -> int: ...

    def add_raw_report(self, pdu: str, reason: str, now: float) -> RawReportRecord:
        """Atomically keep a status report that could not be decoded, as received, so it can
        be deleted from the SIM without being lost."""
        ...

    def raw_reports(self, limit: int = 50) -> list[RawReportRecord]:
        """Kept undecodable reports, newest first."""
        ...


class InboundStorage(Protocol):
    """Received SMS (what the inbound handler and the service need)."""

    def insert_inbound(
        self,
        *,
        message_id: str,
        sender: str,
        receiver: str,
        text: str | None,
        data: bytes | None,
        keyword: str | None,
        clean_text: str | None,
        sms_count: int,
        complete: bool,
        received_at: float,
        consumed_parts: Iterable[InboundGroup] = (),
        dedup_key: str | None = None,
    ) -> InboundRecord | None:
        """Atomically store a received message, delete the waiting parts it was assembled from
        (``consumed_parts``) and remember their dedup keys, or store nothing and return None:

        - ``dedup_key`` (what was received: originator, SCTS, reference, part, content) was
          stored within the dedup window: an identical SMS delivered twice is kept once;
        - a group in ``consumed_parts`` has no waiting part: it was assembled already.
        """
        ...

    def add_inbound_part(
        self, sender: str, ref: int, ref_bits: int, total: int, seq: int, text: str | None,
        data: bytes | None, now: float, pdu: str | None = None, dedup_key: str | None = None,
    ) -> list[StoredInboundPart]:
        """Atomically keep one part of a concatenated message and return every part of its group
        so far (a part already waiting is not stored twice).

        A part whose ``dedup_key`` belongs to a message stored within the dedup window is
        dropped and ``[]`` returned: a part delivered again after its message was assembled
        does not start a new group."""
        ...

    def stale_inbound_groups(self, older_than: float) -> list[InboundGroup]:
        """Groups whose first part arrived at or before ``older_than``."""
        ...

    def inbound_group_parts(self, group: InboundGroup) -> list[StoredInboundPart]:
        """The waiting parts of ``group`` in part order."""
        ...

    def take_inbound(self, account_id: int, limit: int) -> list[InboundRecord]:
        """Atomically return up to ``limit`` messages this account has not taken (oldest first)
        and mark them taken for this account only: each is returned once per account."""
        ...

    def inbound_logs(
        self,
        *,
        receiver: str | None = None,
        keyword: str | None = None,
        no_keyword: bool = False,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
    ) -> list[InboundRecord]:
        """Matching messages, newest first; reading never marks them taken."""
        ...


class EventStorage(Protocol):
    """Modem events and housekeeping."""

    def add_modem_event(self, kind: str, detail: str, now: float) -> None:
        """Atomically append an event."""
        ...

    def modem_events(self, limit: int = 50) -> list[tuple[float, str, str]]:
        """(at, kind, detail), newest first."""
        ...

    def prune(self, older_than: float) -> int:
        """Atomically drop final messages, inbound messages, events and raw reports older than
        ``older_than``; unfinished messages are kept whatever their age. Returns how many
        messages (outbound and inbound) went."""
        ...


class StorageHealth(Protocol):
    """Whether the store can take writes now (what ``/health/ready`` needs)."""

    def writable(self) -> str | None:
        """None when a write would succeed now; else why not, in the driver's or the store's
        words ("attempt to write a readonly database", "database or disk is full", "the WAL
        file was replaced ..."). Bounded in time: waits at most the request busy timeout."""
        ...


class Storage(
    AccountStorage, AcceptStorage, DispatchStorage, ReportStorage, InboundStorage, EventStorage,
    StorageHealth, Protocol,
):
    """A whole store: every role, plus its lifetime."""

    def start(self) -> None:
        """Start whatever the store runs in the background (a writer thread); nothing runs
        before this call, and writes raise StoreError until it."""
        ...

    def close(self) -> None:
        """Stop the background work after the writes already queued; later writes raise
        StoreError. Idempotent."""
        ...
