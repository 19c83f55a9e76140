"""The database's files: private modes (issue 10 item 13), and a WAL deleted or replaced under
the running gateway stops acceptance with the reason in health and the log (item 6)."""
from __future__ import annotations

import logging
import os
import shutil
import stat
from pathlib import Path

import pytest

from gateway.errors import StoreError
from gateway.store import LogFilter, Store
from tests.store.messages import new_message
from tests.store.test_faults import SEND, _client


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_database_wal_and_shm_are_0600_in_a_0700_dir(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a typical default: would give 0644 files and 0755 directories
    try:
        path = tmp_path / "state" / "nested" / "simgate.db"
        with Store.open(path) as store:
            store.create_account("alice", "h", 0.0)
            assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
            assert {f.name: _mode(f) for f in path.parent.iterdir()} == {
                "simgate.db": 0o600, "simgate.db-wal": 0o600, "simgate.db-shm": 0o600,
            }
            assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700
    finally:
        os.umask(old)


def test_files_an_older_simgate_left_0644_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "simgate.db"
    Store(path).close()
    os.chmod(path, 0o644)
    with Store.open(path) as store:
        store.create_account("alice", "h", 0.0)
        assert _mode(path) == 0o600 and _mode(Path(f"{path}-wal")) == 0o600


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_wal_deleted_or_replaced_stops_acceptance(tmp_path: Path, how: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "simgate.db"
    wal = Path(f"{path}-wal")
    with Store.open(path) as store:
        client = _client(store)
        assert client.post(SEND, {"to": "41793026727", "text": "before"}).status == 200
        if how == "deleted":
            wal.unlink()
        else:
            shutil.copy(wal, tmp_path / "copy")
            os.replace(tmp_path / "copy", wal)
        with caplog.at_level(logging.CRITICAL, logger="gateway.store"):
            r = client.post(SEND, {"to": "41793026727", "text": "after"})
        assert r.status == 503 and b"WAL file" in r.body and how.encode() in r.body, r.body
        assert any("WAL file" in rec.getMessage() and how in rec.getMessage() for rec in caplog.records)
        ready = client.get("/health/ready", auth=None)
        assert ready.status == 503 and "WAL file" in ready.json["reason"] and how in ready.json["reason"]
        with pytest.raises(StoreError, match="restart simgate"):
            store.insert_messages([new_message(1, "later")])
        assert store.writable() is not None  # it stays refused: only a restart reopens the files
        assert [m.text for m in store.logs(1, LogFilter())] == ["before"]


def test_the_assembled_runtime_creates_its_state_dir_0700(tmp_path: Path) -> None:
    from gateway.config import Config
    from gateway.runtime import assemble
    from tests.hashing import CHEAP_HASHER

    old = os.umask(0o022)
    try:
        state = tmp_path / "state"
        runtime = assemble(Config(state_dir=str(state)), hasher=CHEAP_HASHER)
        try:
            assert _mode(state) == 0o700 and _mode(state / "simgate.db") == 0o600
        finally:
            runtime.stop()
    finally:
        os.umask(old)
