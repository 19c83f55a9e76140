"""One thread owns every write; callers wait for the commit that contains their work.

Why one writer: SQLite allows one writer at a time; many threads each committing their own row
fight over the lock and the fsyncs (DESIGN.md "Performance notes"). Accepting threads hand a
closure to ``Writer`` and wait for the commit that contains it: durable before the 200, and one
fsync (``synchronous=FULL``) for many messages.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol, TypeVar

import peewee as pw

from gateway.errors import StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

_STOP = object()


class WriterObserver(Protocol):
    """Told what the writer does, for metrics and for tests that must see a batch form.

    ``queued`` runs on the caller's thread right after a job is queued, with the number of jobs
    now waiting (the one being committed not counted); ``committed`` runs on the writer thread
    after each successful commit with the number of jobs it carried. Both must be quick and
    must not call the writer.
    """

    def queued(self, depth: int) -> None: ...

    def committed(self, jobs: int) -> None: ...


_FOLLOW_UP = ("no transaction is active", "no such savepoint")


def driver_cause(exc: BaseException) -> str:
    """The driver's own words for what went wrong first, e.g. "database or disk is full".

    Why walk the chain: when SQLite rolls a transaction back by itself (disk full, I/O error),
    the rollback that follows fails with "cannot rollback - no transaction is active", and that
    follow-up is what propagates, with the real cause only in its ``__context__``.
    """
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    drivers = [e for e in chain if isinstance(e, (sqlite3.Error, pw.PeeweeException))]
    for err in reversed(drivers):  # the earliest raised comes last in the chain
        if not any(f in str(err) for f in _FOLLOW_UP):
            return str(err) or type(err).__name__
    return str(drivers[-1] if drivers else exc) or type(exc).__name__


def is_driver_error(exc: BaseException) -> bool:
    return isinstance(exc, (sqlite3.Error, pw.PeeweeException))


class Writer:
    """One thread owns every write; each job runs in its own savepoint inside a shared commit.

    A caller may bound its wait (``bounded``): a job still queued when the bound passes is
    withdrawn (never runs) and the caller gets StoreError, so a request thread is not held
    while another process keeps the database locked. A job already running is waited for:
    it holds the lock, so it ends soon, and abandoning it would make its outcome unknown.
    """

    def __init__(
        self, db: pw.SqliteDatabase, max_batch: int = 256, *, observer: WriterObserver | None = None,
        name: str = "store-writer", busy_timeout: float = 10.0,
        precheck: Callable[[], str | None] | None = None,
    ) -> None:
        """``precheck`` runs on the writer thread before each commit: a reason (not None) fails
        the batch with StoreError(reason) without touching the database."""
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._observer = observer
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._failure: str | None = None
        self._precheck = precheck
        self._ready = threading.Event()
        self._start_error: str | None = None
        self.commits = 0
        self.jobs = 0

    @property
    def failure(self) -> str | None:
        """Why the last commit failed, while no commit has succeeded since (None: healthy)."""
        return self._failure

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and return once its connection is open (its errors raise here)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise StoreError("the database writer did not start")
        if self._start_error is not None:
            self._thread.join(timeout)
            raise StoreError(f"cannot open the database for writing: {self._start_error}")

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    @contextmanager
    def bounded(self, seconds: float) -> Iterator[None]:
        """Within this block, this thread waits at most ``seconds`` for a queued job to start."""
        previous = getattr(self._local, "limit", None)
        self._local.limit = seconds
        try:
            yield
        finally:
            self._local.limit = previous

    def run(self, fn: Callable[[], T]) -> T:
        if not self._thread.is_alive():
            state = "closed" if self._thread.ident is not None else "not started (Store.open or start())"
            raise StoreError(f"the store is {state}")
        fut: Future[T] = Future()
        self._queue.put((fn, fut))
        if self._observer is not None:
            self._observer.queued(self._queue.qsize())
        limit = getattr(self._local, "limit", None)
        if limit is None:
            return fut.result()
        try:
            return fut.result(limit)
        except FutureTimeout:
            if fut.cancel():  # still queued: withdrawn, it will never run
                cause = self._failure or "the write lock was not obtained"
                raise StoreError(f"database busy: not written within {limit:g} s ({cause})") from None
            return fut.result()  # running: it holds the lock, its outcome is near

    def _run(self) -> None:
        try:
            self._connect()
        except Exception as exc:  # noqa: BLE001 - reported by start() on the caller's thread
            self._start_error = driver_cause(exc)
            self._db.close()
            return
        finally:
            self._ready.set()
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

    def _connect(self) -> None:
        self._db.connect(reuse_if_open=True)
        self._db.execute_sql("PRAGMA synchronous=FULL")
        # The writer waits longer for the lock than request threads do: its jobs include
        # recording sends, which must not fail because another process held the lock briefly.
        self._db.execute_sql(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        # The checkpointer thread copies the WAL into the database off the request path; the
        # writer's own automatic checkpoint then only finishes the remainder and lets the WAL
        # restart, so it cannot grow without bound under continuous load.
        self._db.execute_sql("PRAGMA journal_size_limit=67108864")
        self._db.execute_sql("SELECT count(*) FROM sqlite_master")  # opens the WAL file now

    def _commit(self, batch: list[tuple[Callable[[], Any], Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        if self._precheck is not None and (reason := self._precheck()) is not None:
            self._fail(batch, StoreError(reason))
            return
        try:
            with self._db.atomic("IMMEDIATE"):
                for fn, fut in batch:
                    if not fut.set_running_or_notify_cancel():
                        continue  # its caller gave up waiting before it started
                    try:
                        with self._db.atomic():  # savepoint: one job's failure is its own
                            outcomes.append((fut, True, fn()))
                    except Exception as exc:  # noqa: BLE001 - handed to the caller, not swallowed
                        if not self._in_transaction():
                            raise  # SQLite rolled the whole batch back (disk full, I/O error)
                        outcomes.append((fut, False, exc))
        except Exception as exc:  # the commit itself failed: nobody's work is durable
            cause = driver_cause(exc)
            self._failure = cause
            log.error("commit of %d jobs failed: %s", len(batch), cause)
            self._fail(batch, StoreError(f"database write failed: {cause}"))
            return
        self._failure = None
        self.commits += 1
        self.jobs += len(outcomes)
        if self._observer is not None:
            self._observer.committed(len(outcomes))
        for fut, ok, value in outcomes:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    @staticmethod
    def _fail(batch: list[tuple[Callable[[], Any], Future[Any]]], error: StoreError) -> None:
        for _fn, fut in batch:
            try:
                fut.set_exception(error)
            except InvalidStateError:  # cancelled by its caller meanwhile, or finished
                pass

    def _in_transaction(self) -> bool:
        try:
            return bool(self._db.connection().in_transaction)
        except Exception:  # noqa: BLE001 - a connection that cannot say is not in one
            return False
