"""A store owns its database: several may be open in one process, and none starts a thread
before it is asked to (issue 8 item 4)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gateway.errors import StoreError
from gateway.store import Store


def _writer_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("store-")}


def test_two_stores_open_at_once_each_use_their_own_file(tmp_path: Path) -> None:
    a = Store.open(tmp_path / "a.db")
    b = Store.open(tmp_path / "b.db")  # used to re-point a's reads at b.db
    try:
        assert a.db is not b.db and a.tables.Account is not b.tables.Account
        a.create_account("alice", "ha", 0.0)
        b.create_account("bob", "hb", 0.0)
        assert [r.username for r in a.accounts()] == ["alice"]
        assert [r.username for r in b.accounts()] == ["bob"]
        a.add_modem_event("boot", "a", 1.0)
        assert [e[2] for e in a.modem_events()] == ["a"] and b.modem_events() == []
    finally:
        b.close()
        a.close()
    # what each wrote is in its own file, read back by a fresh store
    with Store.open(tmp_path / "a.db") as again_a, Store.open(tmp_path / "b.db") as again_b:
        assert [r.username for r in again_a.accounts()] == ["alice"]
        assert [r.username for r in again_b.accounts()] == ["bob"]


def test_closing_one_store_leaves_the_other_working(tmp_path: Path) -> None:
    a = Store.open(tmp_path / "a.db")
    b = Store.open(tmp_path / "b.db")
    a.close()
    try:
        b.create_account("bob", "hb", 0.0)
        assert b.account("bob") is not None
        with pytest.raises(StoreError, match="closed"):
            a.create_account("alice", "ha", 0.0)
    finally:
        b.close()


def test_the_constructor_starts_no_thread(tmp_path: Path) -> None:
    before = _writer_threads()
    s = Store(tmp_path / "a.db")
    try:
        assert _writer_threads() == before
        assert s.accounts() == []  # reads need no thread
        with pytest.raises(StoreError, match="not started"):
            s.create_account("alice", "h", 0.0)
        s.start()
        s.create_account("alice", "h", 0.0)
        assert s.account("alice") is not None
    finally:
        s.close()
    assert _writer_threads() == before
