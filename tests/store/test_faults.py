"""Storage faults on real files (issue 10 item 5): every driver error is a StoreError with the
driver's real cause, a held lock does not pin a request thread, and readiness is red while the
database cannot be written."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from gateway.api import build_app
from gateway.clock import ManualClock
from gateway.errors import StoreError
from gateway.service import Gateway
from gateway.store import LogFilter, Store
from tests.api.conftest import ALICE, START, Client, make_config
from tests.hashing import CHEAP_HASHER
from tests.store.messages import new_message

SEND = "/restapi/sms/1/text/single"
ADVANCED = "/restapi/sms/1/text/advanced"
HELD = {"messages": [{"destinations": [{"to": "41793026727", "messageId": "held"}], "text": "hi"}]}


def _client(store: Store) -> Client:
    gw = Gateway(store, make_config(), clock=ManualClock(START), hasher=CHEAP_HASHER)
    if store.account(ALICE[0]) is None:
        gw.create_account(*ALICE)
    return Client(build_app(gw))


def _fill_disk(store: Store) -> None:
    """From now on the file cannot grow: SQLite answers SQLITE_FULL, as on a full disk."""
    pages = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    store.writer.run(lambda: store.db.execute_sql(f"PRAGMA max_page_count={pages}"))


def _free_disk(store: Store) -> None:
    store.writer.run(lambda: store.db.execute_sql("PRAGMA max_page_count=1073741823"))


def test_disk_full_says_disk_full(tmp_path: Path) -> None:
    with Store.open(tmp_path / "simgate.db") as store:
        acc = store.create_account("alice", "h", 0.0).id
        _fill_disk(store)
        big = [new_message(acc, f"m{i}", text="x" * 4000) for i in range(50)]
        with pytest.raises(StoreError) as err:
            store.insert_messages(big)
        assert "database or disk is full" in str(err.value)
        assert "no transaction is active" not in str(err.value)
        assert store.writable() == "database or disk is full"
        assert store.logs(acc, LogFilter()) == []  # all or nothing
        _free_disk(store)
        store.insert_messages(big[:1])
        assert store.writable() is None  # a commit succeeded: healthy again


def test_disk_full_is_a_503_with_the_cause(tmp_path: Path) -> None:
    with Store.open(tmp_path / "simgate.db") as store:
        client = _client(store)
        _fill_disk(store)
        for _ in range(100):  # the free pages left in the file take a few sends
            r = client.post(SEND, {"to": "41793026727", "text": "x" * 1500})
            if r.status != 200:
                break
        assert r.status == 503, r.body
        assert b"database or disk is full" in r.body and b"rollback" not in r.body
        ready = client.get("/health/ready", auth=None)
        assert ready.status == 503 and "database or disk is full" in ready.json["reason"]


def test_start_on_a_full_disk_says_disk_full(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="database or disk is full"):
        Store(tmp_path / "simgate.db", pragmas={"max_page_count": 1})


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[Store, sqlite3.Connection]]:
    """A store whose file another process (here: another connection) holds the write lock of."""
    store = Store.open(tmp_path / "simgate.db", busy_timeout=0.5)
    _client(store)  # alice exists before the lock is taken
    other = sqlite3.connect(tmp_path / "simgate.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield store, other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()
        store.close()


def test_a_held_lock_bounds_the_accept_path_and_readiness(locked: tuple[Store, sqlite3.Connection]) -> None:
    store, other = locked
    client = _client(store)
    t0 = time.monotonic()
    r = client.post(ADVANCED, HELD)
    took = time.monotonic() - t0
    assert r.status == 503 and b"database busy" in r.body, r.body
    assert took < 0.5 + 1.0  # the bound, not the writer's 10 s
    t0 = time.monotonic()
    ready = client.get("/health/ready", auth=None)
    assert time.monotonic() - t0 < 0.5 + 1.0
    assert ready.status == 503 and "database is locked" in ready.json["reason"]
    other.execute("ROLLBACK")  # the other process lets go
    # The refused request was withdrawn, never written: the client's retry is not a duplicate.
    r = client.post(ADVANCED, HELD)
    assert r.status == 200, r.body
    assert r.json["messages"][0]["status"]["groupName"] == "ACCEPTED"  # not REJECTED (duplicate)
    assert client.get("/health/ready", auth=None).status == 200


def _make_read_only(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i refused here: {done.stderr.decode().strip()}")


def _make_writable(path: Path) -> None:
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o600)


@pytest.fixture
def read_only_db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "simgate.db"
    with Store.open(path) as store:
        _client(store)
    _make_read_only(path)
    try:
        yield path
    finally:
        _make_writable(path)


def test_a_read_only_database_at_start_is_503_and_not_ready(read_only_db: Path) -> None:
    with Store.open(read_only_db) as store:  # starts: reads work
        client = _client(store)
        r = client.post(SEND, {"to": "41793026727", "text": "hi"})
        assert r.status == 503, r.body  # was 500
        assert b"readonly" in r.body
        ready = client.get("/health/ready", auth=None)
        assert ready.status == 503 and "readonly" in ready.json["reason"]
        assert client.get("/restapi/sms/1/logs").status == 200  # reads still answer


def test_no_driver_exception_leaves_the_store(read_only_db: Path) -> None:
    with Store.open(read_only_db) as store:
        calls: list[Any] = [
            lambda: store.create_account("bob", "h", 0.0),
            lambda: store.add_modem_event("boot", "", 1.0),
            lambda: store.insert_messages([new_message(1, "m")]),
            lambda: store.set_password("alice", "h2"),
            lambda: store.add_raw_report("00", "x", 1.0),
        ]
        for call in calls:
            with pytest.raises(StoreError, match="readonly"):
                call()
