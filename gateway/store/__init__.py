"""Every SQL statement simgate runs, behind one writer thread with group commit.

``Store`` opens the database (WAL, foreign keys), runs the writer and the checkpointer, and
combines the outbound and inbound query sets. Reads use each thread's own connection (WAL lets
them run beside the writer). No peewee row leaves this package: callers get frozen dataclasses
from ``gateway.store.records``.
"""
from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import peewee as pw

from gateway.errors import StoreError, ValidationError
from gateway.store.files import FileWatch, prepare_private
from gateway.store.inbound import InboundStore
from gateway.lifecycle import REPORT_WINDOW
from gateway.store.models import MIGRATIONS, SCHEMA_VERSION, Tables, bind_tables
from gateway.store.outbound import FINAL_STATES, OutboundStore
from gateway.store.records import (
    AccountRecord,
    InboundRecord,
    LogFilter,
    MessageRecord,
    NewMessage,
    NewPart,
    PartJob,
    RawReportRecord,
    StoredInboundPart,
)
from gateway.store.writer import Writer, WriterObserver, driver_cause, is_driver_error

__all__ = [
    "AccountRecord", "InboundRecord", "LogFilter", "MessageRecord", "NewMessage", "NewPart", "PartJob",
    "REPORT_WINDOW", "RawReportRecord", "SCHEMA_VERSION", "STATEMENT_CACHE", "Store", "StoredInboundPart", "Tables", "Writer", "WriterObserver",
]

log = logging.getLogger(__name__)
CHECKPOINT_INTERVAL = 0.5
# How long a request thread may wait on the database (a read's lock, a write's turn) before the
# caller gets StoreError (503): a held lock must not pin every worker (issue 10 item 5).
REQUEST_BUSY_TIMEOUT = 2.0
# The public methods an HTTP request reaches: their writes are withdrawn, not waited for, when
# the writer cannot start them within the busy timeout.
REQUEST_PATH = ("insert_messages", "take_reports", "take_inbound", "create_account", "set_password",
                "delete_account")
# Compiled statements each connection keeps (one connection per request thread): every query
# has a fixed shape, so this bounds memory rather than tuning speed (issue 10 item 1).
STATEMENT_CACHE = 64
F = TypeVar("F", bound=Callable[..., Any])


class Store(OutboundStore, InboundStore):
    """One SQLite file: its own peewee database, its own model classes, its own writer thread.

    Several stores may be open in one process (each reads and writes only its own file). The
    constructor opens the file and checks the schema but starts no thread: ``start()`` (or
    ``Store.open``) starts the writer and the checkpointer, ``close()`` stops them.
    """

    def __init__(
        self, path: str | Path, *, group_commit_max: int = 256, observer: WriterObserver | None = None,
        busy_timeout: float = REQUEST_BUSY_TIMEOUT, pragmas: Mapping[str, Any] | None = None,
    ) -> None:
        """``busy_timeout``: how long a request thread waits for a lock another process holds
        (reads, and a write's wait to be started); ``pragmas`` are added to the defaults (tests
        use ``max_page_count`` to fill the "disk")."""
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        prepare_private(self.path)
        self._watch = FileWatch(self.path)
        self.db = pw.SqliteDatabase(
            str(self.path),
            pragmas={
                "journal_mode": "wal",
                "synchronous": "normal",
                "foreign_keys": 1,
                "busy_timeout": int(busy_timeout * 1000),
                **(pragmas or {}),
            },
            check_same_thread=False,
            cached_statements=STATEMENT_CACHE,
        )
        self.tables = bind_tables(self.db)
        try:
            with self.db.connection_context():
                self._prepare_schema()
        except (sqlite3.Error, pw.PeeweeException) as exc:
            raise StoreError(f"cannot open the database {self.path}: {driver_cause(exc)}") from exc
        self.writer = Writer(self.db, group_commit_max, observer=observer, name=f"store-writer {self.path.name}",
                             precheck=self._watch.check)
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    def _prepare_schema(self) -> None:
        """Create a fresh database at ``SCHEMA_VERSION``, or migrate an older one step by step.

        A current database is only read here, so a read-only file still opens: the gateway
        then starts, says why it is not ready, and answers sends 503 instead of not starting.
        """
        if self._schema_version() == SCHEMA_VERSION:
            return
        t = self.tables
        with self.db.atomic("IMMEDIATE"):
            found = self._schema_version()
            if found is None:
                self.db.create_tables(t.all, safe=True)
                t.Meta.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()
                return
            if found > SCHEMA_VERSION:
                raise StoreError(f"database schema {found} is newer than this simgate ({SCHEMA_VERSION})")
            for version in range(found + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](t)
                log.info("database %s migrated to schema %d", self.path, version)
            t.Meta.update(value=str(SCHEMA_VERSION)).where(t.Meta.key == "schema_version").execute()

    def _schema_version(self) -> int | None:
        if not self.db.table_exists("meta"):
            return None
        row = self.tables.Meta.get_or_none(self.tables.Meta.key == "schema_version")
        return int(row.value) if row is not None else None

    @classmethod
    def open(cls, path: str | Path, **options: Any) -> Store:
        """A store on ``path`` with its threads running: what every caller but a test wants.
        ``options`` are the constructor's."""
        store = cls(path, **options)
        store.start()
        return store

    def start(self) -> None:
        """Start the writer and the checkpointer (once)."""
        self.writer.start()
        self._watch.arm()  # the writer's connection now holds the database and its WAL open
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name=f"store-checkpoint {self.path.name}", daemon=True
        )
        self._checkpointer.start()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
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
        account = self.tables.Account

        def job() -> AccountRecord:
            row = account.create(username=username, password_hash=password_hash, created_at=now)
            return AccountRecord(row.id, row.username, row.password_hash)

        try:
            return self.writer.run(job)
        except pw.IntegrityError:
            raise ValidationError(f"account {username!r} exists", "username") from None

    def set_password(self, username: str, password_hash: str) -> bool:
        account = self.tables.Account
        return self.writer.run(
            lambda: account.update(password_hash=password_hash).where(account.username == username).execute() == 1
        )

    def delete_account(self, username: str) -> bool:
        account = self.tables.Account
        return self.writer.run(lambda: account.delete().where(account.username == username).execute() == 1)

    def account(self, username: str) -> AccountRecord | None:
        account = self.tables.Account
        row = account.get_or_none(account.username == username)
        return AccountRecord(row.id, row.username, row.password_hash) if row else None

    def accounts(self) -> list[AccountRecord]:
        account = self.tables.Account
        return [AccountRecord(r.id, r.username, r.password_hash) for r in account.select().order_by(account.id)]

    # ---- undecodable status reports ----

    def add_raw_report(self, pdu: str, reason: str, now: float) -> RawReportRecord:
        raw = self.tables.RawReport

        def job() -> RawReportRecord:
            row = raw.create(pdu=pdu, reason=reason, received_at=now)
            return RawReportRecord(row.id, row.pdu, row.reason, row.received_at)

        return self.writer.run(job)

    def raw_reports(self, limit: int = 50) -> list[RawReportRecord]:
        raw = self.tables.RawReport
        rows = raw.select().order_by(raw.received_at.desc(), raw.id.desc()).limit(limit)
        return [RawReportRecord(r.id, r.pdu, r.reason, r.received_at) for r in rows]

    # ---- modem events and housekeeping ----

    def add_modem_event(self, kind: str, detail: str, now: float) -> None:
        event = self.tables.ModemEvent
        self.writer.run(lambda: event.create(at=now, kind=kind, detail=detail))

    def modem_events(self, limit: int = 50) -> list[tuple[float, str, str]]:
        event = self.tables.ModemEvent
        return [(r.at, r.kind, r.detail) for r in event.select().order_by(event.id.desc()).limit(limit)]

    def prune(self, older_than: float) -> int:
        """Drop finished messages, inbound messages, events and undecodable reports older than
        the retention window."""
        t = self.tables

        def job() -> int:
            n = t.Message.delete().where(
                (t.Message.created_at < older_than) & (t.Message.state.in_(FINAL_STATES))
            ).execute()
            n += t.Inbound.delete().where(t.Inbound.received_at < older_than).execute()
            t.ModemEvent.delete().where(t.ModemEvent.at < older_than).execute()
            t.RawReport.delete().where(t.RawReport.received_at < older_than).execute()
            t.InboundSeen.delete().where(t.InboundSeen.seen_at < older_than).execute()
            return n

        return self.writer.run(job)

    # ---- health ----

    def writable(self) -> str | None:
        """Why a write would fail now, or None. Cheap enough for every ``/health/ready``: the
        writer's last failure if no commit succeeded since, else a write probe that is rolled
        back (it takes the write lock for microseconds, waiting at most ``busy_timeout``)."""
        if (fault := self._watch.check()) is not None:
            return fault
        if (failure := self.writer.failure) is not None:
            return failure
        try:
            conn = self.db.connection()
            if self.db.in_transaction():
                return None  # a caller inside a transaction: the probe would join it
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
            finally:
                conn.execute("ROLLBACK")
        except (sqlite3.Error, pw.PeeweeException) as exc:
            return driver_cause(exc)
        return None


def _guarded(name: str, fn: F, *, bounded: bool) -> F:
    """``fn`` with every driver error turned into StoreError carrying the driver's real cause
    (the API answers StoreError 503); request-path writes also get the bounded wait."""

    @functools.wraps(fn)
    def guarded(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            if bounded:
                with self.writer.bounded(self.busy_timeout):
                    return fn(self, *args, **kwargs)
            return fn(self, *args, **kwargs)
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            cause = driver_cause(exc)
            log.warning("database error in %s: %s", name, cause)
            raise StoreError(f"database error: {cause}") from exc

    return guarded  # type: ignore[return-value]


def _guard_contract() -> None:
    from gateway.store.protocol import Storage

    names = {
        name for klass in Storage.__mro__ if klass.__module__ == "gateway.store.protocol"
        for name, value in vars(klass).items() if callable(value) and not name.startswith("_")
    }
    for name in sorted(names - {"writable", "start"}):
        setattr(Store, name, _guarded(name, getattr(Store, name), bounded=name in REQUEST_PATH))


_guard_contract()
