"""One thread owns every write; callers wait for the commit that contains their work.

Why one writer: SQLite allows one writer at a time; many threads each committing their own row
fight over the lock and the fsyncs (DESIGN.md "Performance notes"). Accepting threads hand a
closure to ``Writer`` and wait for the commit that contains it: durable before the 200, and one
fsync (``synchronous=FULL``) for many messages.
"""
from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, Protocol, TypeVar

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


class Writer:
    """One thread owns every write; each job runs in its own savepoint inside a shared commit."""

    def __init__(
        self, db: pw.SqliteDatabase, max_batch: int = 256, *, observer: WriterObserver | None = None,
        name: str = "store-writer",
    ) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._observer = observer
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
            state = "closed" if self._thread.ident is not None else "not started (Store.open or start())"
            raise StoreError(f"the store is {state}")
        fut: Future[T] = Future()
        self._queue.put((fn, fut))
        if self._observer is not None:
            self._observer.queued(self._queue.qsize())
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
        if self._observer is not None:
            self._observer.committed(len(batch))
        for fut, ok, value in outcomes:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
