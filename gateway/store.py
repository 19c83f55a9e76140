"""Every SQL statement simgate runs, behind one writer thread with group commit.

Why one writer: SQLite allows one writer at a time; many threads each committing their own row
fight over the lock and the fsyncs (DESIGN.md "Performance notes"). Accepting threads hand a
closure to ``Writer`` and wait for the commit that contains it: durable before the 200, and one
fsync (``synchronous=FULL``) for many messages. Reads use each thread's own connection (WAL lets
them run beside the writer). No peewee row leaves this module: callers get frozen dataclasses.
"""
from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

import peewee as pw

from gateway.errors import DuplicateMessageIdError, StoreError, ValidationError
from gateway.statuses import STATE_STATUS, MessageState, error_for_tp_status, state_for_tp_status

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_VERSION = 1
CHECKPOINT_INTERVAL = 0.5
REPORT_WINDOW = 3 * 24 * 3600.0  # seconds a status report may trail its send (TP-MR reuse bound)
database = pw.SqliteDatabase(None)


class _Base(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Meta(_Base):
    key = pw.CharField(primary_key=True)
    value = pw.TextField()


class Account(_Base):
    username = pw.CharField(unique=True)
    password_hash = pw.CharField()
    created_at = pw.FloatField()


class Message(_Base):
    message_id = pw.CharField()
    account = pw.ForeignKeyField(Account, on_delete="CASCADE")
    bulk_id = pw.CharField(null=True, index=True)
    sender = pw.CharField(null=True)
    destination = pw.CharField()
    text = pw.TextField(null=True)
    data = pw.BlobField(null=True)
    encoding = pw.CharField(default="gsm7")
    sms_count = pw.IntegerField()
    state = pw.CharField(index=True)
    status_name = pw.CharField(null=True)  # a finer catalogue status than the state's default
    error_id = pw.IntegerField(default=0)
    concat_ref = pw.IntegerField(default=0)
    created_at = pw.FloatField(index=True)
    sent_at = pw.FloatField(null=True)
    done_at = pw.FloatField(null=True)
    expires_at = pw.FloatField()
    report_unread = pw.BooleanField(default=False)
    options = pw.TextField(default="{}")

    class Meta:
        indexes = ((("account", "message_id"), True), (("account", "report_unread"), False))


class Part(_Base):
    message = pw.ForeignKeyField(Message, backref="parts", on_delete="CASCADE")
    seq = pw.IntegerField()
    total = pw.IntegerField()
    pdu = pw.TextField()
    tpdu_length = pw.IntegerField()
    state = pw.CharField(index=True)  # queued | sending | sent | delivered | failed | expired
    mr = pw.IntegerField(null=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.FloatField(index=True)
    sent_at = pw.FloatField(null=True)
    done_at = pw.FloatField(null=True)
    tp_status = pw.IntegerField(null=True)
    error = pw.TextField(null=True)

    class Meta:
        indexes = ((("state", "mr"), False),)


class Inbound(_Base):
    message_id = pw.CharField(unique=True)
    sender = pw.CharField()
    receiver = pw.CharField(default="")
    text = pw.TextField(null=True)
    data = pw.BlobField(null=True)
    keyword = pw.CharField(null=True)
    clean_text = pw.TextField(null=True)
    sms_count = pw.IntegerField(default=1)
    complete = pw.BooleanField(default=True)
    received_at = pw.FloatField(index=True)


class InboundRead(_Base):
    """Which account has pulled which inbound message (each is returned once per account)."""

    account = pw.ForeignKeyField(Account, on_delete="CASCADE")
    inbound = pw.ForeignKeyField(Inbound, on_delete="CASCADE")

    class Meta:
        indexes = ((("account", "inbound"), True),)


class InboundPart(_Base):
    """A part of a concatenated inbound SMS waiting for its siblings."""

    sender = pw.CharField()
    ref = pw.IntegerField()
    ref_bits = pw.IntegerField()
    total = pw.IntegerField()
    seq = pw.IntegerField()
    text = pw.TextField(null=True)
    data = pw.BlobField(null=True)
    received_at = pw.FloatField()

    class Meta:
        indexes = ((("sender", "ref", "ref_bits", "total", "seq"), True),)


class PendingReport(_Base):
    """A status report that arrived before its part was recorded as sent (fast networks race the
    dispatcher), kept until ``record_part_sent`` finds it or the match window passes."""

    suffix = pw.CharField()
    mr = pw.IntegerField()
    tp_status = pw.IntegerField()
    received_at = pw.FloatField(index=True)

    class Meta:
        indexes = ((("mr", "suffix"), False),)


class ModemEvent(_Base):
    at = pw.FloatField(index=True)
    kind = pw.CharField()
    detail = pw.TextField(default="")


MODELS: tuple[type[pw.Model], ...] = (
    Meta, Account, Message, Part, Inbound, InboundRead, InboundPart, PendingReport, ModemEvent
)


# --- values handed out -----------------------------------------------------------------------


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


def _message_record(row: Message) -> MessageRecord:
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


def _inbound_record(row: Inbound) -> InboundRecord:
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


# --- the writer ------------------------------------------------------------------------------

_STOP = object()


class Writer:
    """One thread owns every write; each job runs in its own savepoint inside a shared commit."""

    def __init__(self, db: pw.SqliteDatabase, max_batch: int = 256) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self.commits = 0
        self.jobs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    def run(self, fn: Callable[[], T]) -> T:
        if not self._thread.is_alive():
            raise StoreError("the store is closed")
        fut: Future[T] = Future()
        self._queue.put((fn, fut))
        return fut.result()

    def _run(self) -> None:
        self._db.connect(reuse_if_open=True)
        self._db.execute_sql("PRAGMA synchronous=FULL")
        # The checkpointer thread copies the WAL into the database off the request path; the
        # writer's own automatic checkpoint then only finishes the remainder and lets the WAL
        # restart, so it cannot grow without bound under continuous load.
        self._db.execute_sql("PRAGMA journal_size_limit=67108864")
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch = [item]
                stop_after = False
                while len(batch) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP:
                        stop_after = True
                        break
                    batch.append(nxt)
                self._commit(batch)
                if stop_after:
                    return
        finally:
            self._db.close()

    def _commit(self, batch: list[tuple[Callable[[], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            with self._db.atomic("IMMEDIATE"):
                for fn, fut in batch:
                    try:
                        with self._db.atomic():  # savepoint: one job's failure is its own
                            outcomes.append((fut, True, fn()))
                    except Exception as exc:  # noqa: BLE001 - handed to the caller, not swallowed
                        outcomes.append((fut, False, exc))
        except Exception as exc:  # the commit itself failed: nobody's work is durable
            log.exception("commit of %d jobs failed", len(batch))
            for _fn, fut in batch:
                fut.set_exception(StoreError(f"database commit failed: {exc}"))
            return
        self.commits += 1
        self.jobs += len(batch)
        for fut, ok, value in outcomes:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)


# --- the store -------------------------------------------------------------------------------


_INSERT_MESSAGE = (
    'INSERT INTO "message" ("message_id", "account_id", "bulk_id", "sender", "destination", "text", '
    '"data", "encoding", "sms_count", "state", "status_name", "error_id", "concat_ref", "created_at", '
    '"done_at", "expires_at", "report_unread", "options") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
)
_INSERT_PART = (
    'INSERT INTO "part" ("message_id", "seq", "total", "pdu", "tpdu_length", "state", "attempts", '
    '"next_attempt_at") VALUES (?, ?, ?, ?, ?, \'queued\', 0, ?)'
)


class Store:
    def __init__(self, path: str | Path, *, group_commit_max: int = 256) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        database.init(
            str(self.path),
            pragmas={
                "journal_mode": "wal",
                "synchronous": "normal",
                "foreign_keys": 1,
                "busy_timeout": 10000,
            },
            check_same_thread=False,
        )
        self.db = database
        with self.db.connection_context():
            self.db.create_tables(MODELS, safe=True)
            row = Meta.get_or_none(Meta.key == "schema_version")
            if row is None:
                Meta.create(key="schema_version", value=str(SCHEMA_VERSION))
            elif int(row.value) > SCHEMA_VERSION:
                raise StoreError(f"database schema {row.value} is newer than this simgate ({SCHEMA_VERSION})")
        self.writer = Writer(self.db, group_commit_max)
        self.writer.start()
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="store-checkpoint", daemon=True)
        self._checkpointer.start()

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join(10)
        self.writer.stop()
        with self.db.connection_context():
            self.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        if not self.db.is_closed():
            self.db.close()

    def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database beside the writer (PASSIVE never blocks it).

        With only SQLite's automatic checkpoint the unlucky commit that crosses 1,000 pages pays
        for the whole copy and its fsync: that was the p99 of the accept path (~280 ms). Here
        most of it happens off the request path, every ``CHECKPOINT_INTERVAL`` seconds.
        """
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL):
                try:
                    self.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")
                except pw.OperationalError as exc:  # busy: the next round catches up
                    log.debug("checkpoint skipped: %s", exc)
        finally:
            self.db.close()

    # ---- accounts ----

    def create_account(self, username: str, password_hash: str, now: float) -> AccountRecord:
        def job() -> AccountRecord:
            row = Account.create(username=username, password_hash=password_hash, created_at=now)
            return AccountRecord(row.id, row.username, row.password_hash)

        try:
            return self.writer.run(job)
        except pw.IntegrityError:
            raise ValidationError(f"account {username!r} exists", "username") from None

    def set_password(self, username: str, password_hash: str) -> bool:
        return self.writer.run(
            lambda: Account.update(password_hash=password_hash).where(Account.username == username).execute() == 1
        )

    def delete_account(self, username: str) -> bool:
        return self.writer.run(lambda: Account.delete().where(Account.username == username).execute() == 1)

    def account(self, username: str) -> AccountRecord | None:
        row = Account.get_or_none(Account.username == username)
        return AccountRecord(row.id, row.username, row.password_hash) if row else None

    def accounts(self) -> list[AccountRecord]:
        return [AccountRecord(r.id, r.username, r.password_hash) for r in Account.select().order_by(Account.id)]

    # ---- accepting ----

    def insert_messages(self, messages: Sequence[NewMessage]) -> None:
        """All messages of one request in one transaction: all are accepted, or none.

        This is the hot path of every send request, so it runs fixed SQL text rather than
        building each statement through the ORM (which cost ~10x the SQLite work itself).
        """

        def job() -> None:
            cursor = self.db.cursor()
            for m in messages:
                try:
                    cursor.execute(
                        _INSERT_MESSAGE,
                        (
                            m.message_id, m.account_id, m.bulk_id, m.sender, m.destination, m.text,
                            m.data, m.encoding, m.sms_count, m.state.value, m.status_name, m.error_id,
                            m.concat_ref, m.created_at, m.created_at if m.state.final else None,
                            m.expires_at, m.state.final, json.dumps(m.options),
                        ),
                    )
                except sqlite3.IntegrityError:
                    raise DuplicateMessageIdError(m.message_id) from None
                pk = cursor.lastrowid
                if m.parts:
                    cursor.executemany(
                        _INSERT_PART,
                        [(pk, p.seq, p.total, p.pdu, p.tpdu_length, m.created_at) for p in m.parts],
                    )

        self.writer.run(job)

    def message_id_exists(self, account_id: int, message_id: str) -> bool:
        return (
            Message.select(Message.id)
            .where((Message.account == account_id) & (Message.message_id == message_id))
            .exists()
        )

    def last_concat_ref(self) -> int:
        row = Message.select(Message.concat_ref).order_by(Message.id.desc()).first()
        return row.concat_ref if row else 0

    # ---- dispatching ----

    def claim_next_part(self, now: float) -> PartJob | None:
        """Atomically move the next due part to 'sending' (the in-doubt state) and return it."""

        def job() -> PartJob | None:
            row = (
                Part.select(Part, Message)
                .join(Message)
                .where((Part.state == "queued") & (Part.next_attempt_at <= now))
                .order_by(Part.next_attempt_at, Part.message, Part.seq)
                .first()
            )
            if row is None:
                return None
            claimed = (
                Part.update(state="sending", attempts=Part.attempts + 1)
                .where((Part.id == row.id) & (Part.state == "queued"))
                .execute()
            )
            if claimed != 1:
                return None
            msg = row.message
            if msg.state == MessageState.ACCEPTED.value:
                Message.update(state=MessageState.SENDING.value).where(Message.id == msg.id).execute()
            return PartJob(
                part_id=row.id,
                message_pk=msg.id,
                message_id=msg.message_id,
                destination=msg.destination,
                seq=row.seq,
                total=row.total,
                pdu=row.pdu,
                tpdu_length=row.tpdu_length,
                attempts=row.attempts + 1,
                expires_at=msg.expires_at,
                status_report=json.loads(msg.options).get("status_report", True),
            )

        return self.writer.run(job)

    def next_due_time(self) -> float | None:
        row = Part.select(pw.fn.MIN(Part.next_attempt_at)).where(Part.state == "queued").scalar()
        return float(row) if row is not None else None

    def record_part_sent(self, part_id: int, mr: int | None, now: float, status_report: bool) -> None:
        def job() -> None:
            Part.update(state="sent", mr=mr, sent_at=now, error=None).where(Part.id == part_id).execute()
            part = Part.get_by_id(part_id)
            self._settle_message(part.message_id, now, status_report)
            if mr is not None and status_report:
                self._apply_pending_report(part, now)

        self.writer.run(job)

    def _apply_pending_report(self, part: Part, now: float) -> None:
        destination = part.message.destination
        for pending in PendingReport.select().where(
            (PendingReport.mr == part.mr) & (PendingReport.received_at >= now - REPORT_WINDOW)
        ).order_by(PendingReport.received_at):
            if destination.endswith(pending.suffix):
                pending.delete_instance()
                self._apply_report_to_part(part.id, pending.tp_status, now)
                return

    def record_part_retry(self, part_id: int, error: str, retry_at: float) -> None:
        self.writer.run(
            lambda: Part.update(state="queued", next_attempt_at=retry_at, error=error)
            .where(Part.id == part_id)
            .execute()
        )

    def release_part(self, part_id: int, retry_at: float) -> None:
        """The modem was not reached: back to the queue without counting an attempt."""
        self.writer.run(
            lambda: Part.update(state="queued", next_attempt_at=retry_at, attempts=Part.attempts - 1)
            .where(Part.id == part_id)
            .execute()
        )

    def fail_message(
        self, message_pk: int, state: MessageState, status_name: str, error_id: int, now: float, reason: str
    ) -> None:
        """Give up on every unfinished part of a message (permanent error or validity over)."""

        def job() -> None:
            Part.update(state="expired" if state is MessageState.EXPIRED else "failed", done_at=now, error=reason).where(
                (Part.message == message_pk) & (Part.state.in_(("queued", "sending", "sent")))
            ).execute()
            Message.update(
                state=state.value, status_name=status_name, error_id=error_id, done_at=now, report_unread=True
            ).where((Message.id == message_pk) & (Message.state.not_in(_FINAL_STATES))).execute()

        self.writer.run(job)

    def expire_due(self, now: float) -> list[str]:
        """Messages whose validity passed while parts were still queued: EXPIRED_EXPIRED."""

        def job() -> list[str]:
            rows = list(
                Message.select(Message.id, Message.message_id)
                .where((Message.expires_at <= now) & (Message.state.in_(("accepted", "sending"))))
                .limit(500)
            )
            for row in rows:
                Part.update(state="expired", done_at=now).where(
                    (Part.message == row.id) & (Part.state == "queued")
                ).execute()
                Message.update(
                    state=MessageState.EXPIRED.value,
                    status_name="EXPIRED_EXPIRED",
                    error_id=4101,
                    done_at=now,
                    report_unread=True,
                ).where(Message.id == row.id).execute()
            return [r.message_id for r in rows]

        return self.writer.run(job)

    def recover_in_doubt(self, now: float, resend: bool) -> list[tuple[str, int]]:
        """After a crash, parts left in 'sending' may or may not have reached the network."""

        def job() -> list[tuple[str, int]]:
            rows = list(Part.select(Part, Message).join(Message).where(Part.state == "sending"))
            for row in rows:
                if resend:
                    Part.update(state="queued", next_attempt_at=now, error="in doubt after restart: resent").where(
                        Part.id == row.id
                    ).execute()
                else:
                    Part.update(state="sent", mr=None, sent_at=now, error="in doubt after restart").where(
                        Part.id == row.id
                    ).execute()
                    self._settle_message(row.message_id, now, json.loads(row.message.options).get("status_report", True))
            return [(r.message.message_id, r.seq) for r in rows]

        return self.writer.run(job)

    def _settle_message(self, message_pk: int, now: float, status_report: bool) -> None:
        """Recompute a message's state from its parts (inside a writer job)."""
        msg = Message.get_by_id(message_pk)
        if MessageState(msg.state).final:
            return
        states = [p.state for p in Part.select(Part.state).where(Part.message == message_pk)]
        if any(s in ("queued", "sending") for s in states):
            return
        updates: dict[str, Any] = {}
        if msg.sent_at is None:
            updates["sent_at"] = now
        if all(s == "delivered" for s in states):
            updates.update(state=MessageState.DELIVERED.value, status_name=None, done_at=now, report_unread=True)
        elif not status_report:
            updates.update(state=MessageState.SENT_NO_REPORT.value, done_at=now, report_unread=True)
        else:
            updates.update(state=MessageState.SENT.value)
        Message.update(**updates).where(Message.id == message_pk).execute()

    # ---- status reports ----

    def apply_status_report(self, suffix: str, mr: int, tp_status: int, now: float) -> MessageRecord | None:
        """Match a report to a sent part and apply it, in one writer job (no race with sends).

        Candidates: parts sent to a number ending in ``suffix`` within ``REPORT_WINDOW``; the
        newest with this TP-MR (it wraps every 256 sends), else the newest in-doubt part (no
        TP-MR) for that number. No candidate: kept as pending for a send being recorded now.
        """

        def job() -> MessageRecord | None:
            since = now - REPORT_WINDOW
            base = (
                Part.select(Part.id)
                .join(Message)
                .where((Part.state == "sent") & (Part.sent_at >= since) & (Message.destination.endswith(suffix)))
                .order_by(Part.sent_at.desc(), Part.id.desc())
            )
            row = base.where(Part.mr == mr).first() or base.where(Part.mr.is_null()).first()
            if row is None:
                PendingReport.delete().where(PendingReport.received_at < since).execute()
                PendingReport.create(suffix=suffix, mr=mr, tp_status=tp_status, received_at=now)
                return None
            return self._apply_report_to_part(row.id, tp_status, now)

        return self.writer.run(job)

    def _apply_report_to_part(self, part_id: int, tp_status: int, now: float) -> MessageRecord:
        part = Part.get_by_id(part_id)
        final = state_for_tp_status(tp_status)
        if final is None:  # the SC is still trying: note it, stay pending
            Part.update(tp_status=tp_status).where(Part.id == part_id).execute()
        elif final is MessageState.DELIVERED:
            Part.update(state="delivered", tp_status=tp_status, done_at=now).where(Part.id == part_id).execute()
            self._settle_message(part.message_id, now, True)
        else:
            Part.update(state="failed", tp_status=tp_status, done_at=now).where(Part.id == part_id).execute()
            Message.update(
                state=final.value,
                status_name=STATE_STATUS[final].name,
                error_id=error_for_tp_status(tp_status).id,
                done_at=now,
                report_unread=True,
            ).where((Message.id == part.message_id) & (Message.state.not_in(_FINAL_STATES))).execute()
        return _message_record(Message.get_by_id(part.message_id))

    def pending_reports(self) -> int:
        return PendingReport.select().count()

    # ---- reading ----

    def message(self, account_id: int, message_id: str) -> MessageRecord | None:
        row = Message.get_or_none((Message.account == account_id) & (Message.message_id == message_id))
        return _message_record(row) if row else None

    def message_parts(self, message_pk: int) -> list[dict[str, Any]]:
        return [
            dict(seq=p.seq, state=p.state, mr=p.mr, attempts=p.attempts, error=p.error, tp_status=p.tp_status)
            for p in Part.select().where(Part.message == message_pk).order_by(Part.seq)
        ]

    def take_reports(
        self, account_id: int, *, bulk_id: str | None, message_id: str | None, limit: int
    ) -> list[MessageRecord]:
        """Final messages not yet reported, marked read in the same transaction (each once)."""

        def job() -> list[MessageRecord]:
            query = Message.select().where((Message.account == account_id) & (Message.report_unread == True))  # noqa: E712
            if bulk_id:
                query = query.where(Message.bulk_id == bulk_id)
            if message_id:
                query = query.where(Message.message_id == message_id)
            rows = list(query.order_by(Message.done_at, Message.id).limit(limit))
            if rows:
                Message.update(report_unread=False).where(Message.id.in_([r.id for r in rows])).execute()
            return [_message_record(r) for r in rows]

        return self.writer.run(job)

    def logs(self, account_id: int, flt: LogFilter) -> list[MessageRecord]:
        query = Message.select().where(Message.account == account_id)
        if flt.sender:
            query = query.where(Message.sender == flt.sender)
        if flt.destination:
            query = query.where(Message.destination == flt.destination)
        if flt.bulk_ids:
            query = query.where(Message.bulk_id.in_(flt.bulk_ids))
        if flt.message_ids:
            query = query.where(Message.message_id.in_(flt.message_ids))
        if flt.states:
            query = query.where(Message.state.in_([s.value for s in flt.states]))
        if flt.sent_since is not None:
            query = query.where(Message.created_at >= flt.sent_since)
        if flt.sent_until is not None:
            query = query.where(Message.created_at <= flt.sent_until)
        return [_message_record(r) for r in query.order_by(Message.created_at.desc(), Message.id.desc()).limit(flt.limit)]

    def counts_by_state(self) -> dict[str, int]:
        return {
            r.state: r.n
            for r in Message.select(Message.state, pw.fn.COUNT(Message.id).alias("n")).group_by(Message.state)
        }

    def queued_parts(self) -> int:
        return Part.select().where(Part.state.in_(("queued", "sending"))).count()

    # ---- inbound ----

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
        consumed_parts: Iterable[tuple[str, int, int, int]] = (),
    ) -> InboundRecord:
        def job() -> InboundRecord:
            for sender_, ref, bits, total in consumed_parts:
                InboundPart.delete().where(
                    (InboundPart.sender == sender_)
                    & (InboundPart.ref == ref)
                    & (InboundPart.ref_bits == bits)
                    & (InboundPart.total == total)
                ).execute()
            row = Inbound.create(
                message_id=message_id,
                sender=sender,
                receiver=receiver,
                text=text,
                data=data,
                keyword=keyword,
                clean_text=clean_text,
                sms_count=sms_count,
                complete=complete,
                received_at=received_at,
            )
            return _inbound_record(row)

        return self.writer.run(job)

    def add_inbound_part(
        self, sender: str, ref: int, ref_bits: int, total: int, seq: int, text: str | None, data: bytes | None, now: float
    ) -> list[StoredInboundPart]:
        """Store one part (duplicates ignored) and return every part of that message so far."""

        def job() -> list[StoredInboundPart]:
            InboundPart.insert(
                sender=sender, ref=ref, ref_bits=ref_bits, total=total, seq=seq, text=text, data=data, received_at=now
            ).on_conflict_ignore().execute()
            return self._inbound_parts(sender, ref, ref_bits, total)

        return self.writer.run(job)

    def _inbound_parts(self, sender: str, ref: int, ref_bits: int, total: int) -> list[StoredInboundPart]:
        rows = InboundPart.select().where(
            (InboundPart.sender == sender)
            & (InboundPart.ref == ref)
            & (InboundPart.ref_bits == ref_bits)
            & (InboundPart.total == total)
        ).order_by(InboundPart.seq)
        return [
            StoredInboundPart(r.seq, r.text, bytes(r.data) if r.data is not None else None, r.received_at)
            for r in rows
        ]

    def stale_inbound_groups(self, older_than: float) -> list[tuple[str, int, int, int]]:
        rows = (
            InboundPart.select(InboundPart.sender, InboundPart.ref, InboundPart.ref_bits, InboundPart.total)
            .group_by(InboundPart.sender, InboundPart.ref, InboundPart.ref_bits, InboundPart.total)
            .having(pw.fn.MIN(InboundPart.received_at) <= older_than)
        )
        return [(r.sender, r.ref, r.ref_bits, r.total) for r in rows]

    def inbound_group_parts(self, group: tuple[str, int, int, int]) -> list[StoredInboundPart]:
        return self._inbound_parts(*group)

    def take_inbound(self, account_id: int, limit: int) -> list[InboundRecord]:
        def job() -> list[InboundRecord]:
            seen = InboundRead.select(InboundRead.inbound).where(InboundRead.account == account_id)
            rows = list(Inbound.select().where(Inbound.id.not_in(seen)).order_by(Inbound.received_at, Inbound.id).limit(limit))
            if rows:
                InboundRead.insert_many([dict(account=account_id, inbound=r.id) for r in rows]).execute()
            return [_inbound_record(r) for r in rows]

        return self.writer.run(job)

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
        query = Inbound.select()
        if receiver:
            query = query.where(Inbound.receiver == receiver)
        if keyword:
            query = query.where(Inbound.keyword == keyword)
        if no_keyword:
            query = query.where(Inbound.keyword.is_null())
        if since is not None:
            query = query.where(Inbound.received_at >= since)
        if until is not None:
            query = query.where(Inbound.received_at <= until)
        return [_inbound_record(r) for r in query.order_by(Inbound.received_at.desc(), Inbound.id.desc()).limit(limit)]

    # ---- modem events and housekeeping ----

    def add_modem_event(self, kind: str, detail: str, now: float) -> None:
        self.writer.run(lambda: ModemEvent.create(at=now, kind=kind, detail=detail))

    def modem_events(self, limit: int = 50) -> list[tuple[float, str, str]]:
        return [(r.at, r.kind, r.detail) for r in ModemEvent.select().order_by(ModemEvent.id.desc()).limit(limit)]

    def prune(self, older_than: float) -> int:
        """Drop finished messages, inbound messages and events older than the retention window."""

        def job() -> int:
            n = Message.delete().where((Message.created_at < older_than) & (Message.state.in_(_FINAL_STATES))).execute()
            n += Inbound.delete().where(Inbound.received_at < older_than).execute()
            ModemEvent.delete().where(ModemEvent.at < older_than).execute()
            return n

        return self.writer.run(job)


_FINAL_STATES = tuple(s.value for s in MessageState if s.final)


def epoch(now: Any) -> float:
    """datetime -> float seconds (the store keeps UTC epoch floats: compact and index-friendly)."""
    return now.timestamp() if hasattr(now, "timestamp") else float(now if now is not None else time.time())
