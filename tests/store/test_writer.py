"""The SQLite store's single writer: group commit, savepoints, failures (not part of the
backend-neutral contract)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest

from gateway.store import LogFilter, Store
from tests.store.messages import insert_concurrently, new_message

WAIT = 10.0  # seconds: only a hung test ever waits this long


class CountingObserver:
    """Records each commit's size and lets a test wait until N jobs are queued."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self._depth = 0
        self._cond = threading.Condition()

    def queued(self, depth: int) -> None:
        with self._cond:
            self._depth = max(self._depth, depth)  # notifications from racing threads may reorder
            self._cond.notify_all()

    def committed(self, jobs: int) -> None:
        self.batches.append(jobs)

    def wait_queued(self, n: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._depth >= n, WAIT)


@pytest.fixture
def observed(tmp_path: Path) -> Iterator[tuple[Store, CountingObserver]]:
    obs = CountingObserver()
    s = Store.open(tmp_path / "simgate.db", observer=obs, group_commit_max=256)
    try:
        yield s, obs
    finally:
        s.close()


def _block_writer(store: Store) -> tuple[threading.Event, threading.Thread]:
    """A job that holds the writer (inside its transaction) until the returned event is set."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        assert release.wait(WAIT)

    t = threading.Thread(target=store.writer.run, args=(hold,))
    t.start()
    assert entered.wait(WAIT)
    return release, t


def test_writes_queued_behind_a_busy_writer_share_one_commit(observed: tuple[Store, CountingObserver]) -> None:
    store, obs = observed
    account = store.create_account("alice", "h", 0.0).id
    obs.batches.clear()
    release, holder = _block_writer(store)
    n = 16
    writers = [
        threading.Thread(target=store.insert_messages, args=([new_message(account, f"m{i}")],)) for i in range(n)
    ]
    for t in writers:
        t.start()
    assert obs.wait_queued(n)  # all n are waiting behind the held commit
    release.set()
    for t in [holder, *writers]:
        t.join(WAIT)
    assert obs.batches == [1, n]  # the holder alone, then exactly one commit carried all n
    assert len(store.logs(account, LogFilter(limit=100))) == n


def test_a_batch_is_capped_at_group_commit_max(tmp_path: Path) -> None:
    obs = CountingObserver()
    with Store.open(tmp_path / "simgate.db", observer=obs, group_commit_max=4) as store:
        account = store.create_account("alice", "h", 0.0).id
        obs.batches.clear()
        release, holder = _block_writer(store)
        writers = [
            threading.Thread(target=store.insert_messages, args=([new_message(account, f"m{i}")],)) for i in range(10)
        ]
        for t in writers:
            t.start()
        assert obs.wait_queued(10)
        release.set()
        for t in [holder, *writers]:
            t.join(WAIT)
        assert obs.batches == [1, 4, 4, 2]


def test_one_failing_job_does_not_undo_its_batch(observed: tuple[Store, CountingObserver]) -> None:
    """Each job runs in its own savepoint: a duplicate in one request fails that request only."""
    store, obs = observed
    account = store.create_account("alice", "h", 0.0).id
    store.insert_messages([new_message(account, "dup")])
    obs.batches.clear()
    release, holder = _block_writer(store)
    errors: list[BaseException] = []

    def insert(mid: str) -> None:
        try:
            store.insert_messages([new_message(account, mid)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=insert, args=(mid,)) for mid in ("a", "dup", "b")]
    for t in writers:
        t.start()
    assert obs.wait_queued(3)
    release.set()
    for t in [holder, *writers]:
        t.join(WAIT)
    assert obs.batches == [1, 3] and len(errors) == 1
    assert {r.message_id for r in store.logs(account, LogFilter())} == {"a", "b", "dup"}


def test_concurrent_writers_all_commit(observed: tuple[Store, CountingObserver]) -> None:
    store, obs = observed
    account = store.create_account("alice", "h", 0.0).id
    assert insert_concurrently(store, account) == []
    assert len(store.logs(account, LogFilter(limit=1000))) == 400
    assert sum(obs.batches) == store.writer.jobs == 401  # the account and 400 messages
