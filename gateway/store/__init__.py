"""Every SQL statement simgate runs, behind one writer thread with group commit.

``Store`` opens the database (WAL, foreign keys), runs the writer and the checkpointer, and
combines the outbound and inbound query sets. Reads use each thread's own connection (WAL lets
them run beside the writer). No peewee row leaves this package: callers get frozen dataclasses
from ``gateway.store.records``.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import peewee as pw

from gateway.errors import StoreError, ValidationError
from gateway.store.inbound import InboundStore
from gateway.store.models import MIGRATIONS, SCHEMA_VERSION, Tables, bind_tables
from gateway.store.outbound import FINAL_STATES, REPORT_WINDOW, OutboundStore
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
from gateway.store.writer import Writer, WriterObserver

__all__ = [
    "AccountRecord", "InboundRecord", "LogFilter", "MessageRecord", "NewMessage", "NewPart", "PartJob",
    "REPORT_WINDOW", "RawReportRecord", "SCHEMA_VERSION", "Store", "StoredInboundPart", "Tables", "Writer", "WriterObserver",
]

log = logging.getLogger(__name__)
CHECKPOINT_INTERVAL = 0.5


class Store(OutboundStore, InboundStore):
    """One SQLite file: its own peewee database, its own model classes, its own writer thread.

    Several stores may be open in one process (each reads and writes only its own file). The
    constructor opens the file and checks the schema but starts no thread: ``start()`` (or
    ``Store.open``) starts the writer and the checkpointer, ``close()`` stops them.
    """

    def __init__(
        self, path: str | Path, *, group_commit_max: int = 256, observer: WriterObserver | None = None
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = pw.SqliteDatabase(
            str(self.path),
            pragmas={
                "journal_mode": "wal",
                "synchronous": "normal",
                "foreign_keys": 1,
                "busy_timeout": 10000,
            },
            check_same_thread=False,
        )
        self.tables = bind_tables(self.db)
        with self.db.connection_context():
            self._prepare_schema()
        self.writer = Writer(self.db, group_commit_max, observer=observer, name=f"store-writer {self.path.name}")
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    def _prepare_schema(self) -> None:
        """Create a fresh database at ``SCHEMA_VERSION``, or migrate an older one step by step."""
        t = self.tables
        with self.db.atomic("IMMEDIATE"):
            row = t.Meta.get_or_none(t.Meta.key == "schema_version") if self.db.table_exists("meta") else None
            if row is None:
                self.db.create_tables(t.all, safe=True)
                t.Meta.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()
                return
            found = int(row.value)
            if found > SCHEMA_VERSION:
                raise StoreError(f"database schema {found} is newer than this simgate ({SCHEMA_VERSION})")
            for version in range(found + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](t)
                log.info("database %s migrated to schema %d", self.path, version)
            if found < SCHEMA_VERSION:
                t.Meta.update(value=str(SCHEMA_VERSION)).where(t.Meta.key == "schema_version").execute()

    @classmethod
    def open(
        cls, path: str | Path, *, group_commit_max: int = 256, observer: WriterObserver | None = None
    ) -> Store:
        """A store on ``path`` with its threads running: what every caller but a test wants."""
        store = cls(path, group_commit_max=group_commit_max, observer=observer)
        store.start()
        return store

    def start(self) -> None:
        """Start the writer and the checkpointer (once)."""
        self.writer.start()
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
            return n

        return self.writer.run(job)
