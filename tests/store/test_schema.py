"""Schema versions: a file written by an older simgate opens, migrated, with its data intact;
undecodable status reports are kept as raw rows (schema 2)."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateway.clock import ManualClock
from gateway.errors import StoreError
from gateway.reports import ReportMatcher
from gateway.lifecycle import MessageState
from gateway.store import SCHEMA_VERSION, Store
from gateway.store.protocol import Storage

V1_DUMP = Path(__file__).parent / "data" / "schema_v1.sql"


def _file_from_dump(path: Path, dump: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(dump.read_text())
    con.close()
    return path


def _version(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
    finally:
        con.close()


def _tables(path: Path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()


def test_a_version_1_file_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = _file_from_dump(tmp_path / "simgate.db", V1_DUMP)
    assert _version(path) == 1 and "rawreport" not in _tables(path) and "raw_report" not in _tables(path)
    with Store.open(path) as store:
        acc = store.account("alice")
        assert acc is not None
        rec = store.message(acc.id, "m1")
        assert rec is not None and rec.state is MessageState.ACCEPTED
        assert store.claim_next_part(1000.0) is not None  # the old queue still works
        kept = store.add_raw_report("07FF", "undecodable: test", 1.0)
        assert store.raw_reports() == [kept]
        # schema 3: parts carry their dedup key, stored messages are remembered
        assert len(store.add_inbound_part("4479", 5, 8, 2, 1, "a", None, 1.0, dedup_key="k1")) == 1
        assert store.add_inbound_part("4479", 5, 8, 2, 2, "b", None, 1.0, dedup_key="k2") != []
        assert store.insert_inbound(message_id="i", sender="4479", receiver="", text="ab", data=None, keyword=None,
                                    clean_text="ab", sms_count=2, complete=True, received_at=2.0,
                                    consumed_parts=[("4479", 5, 8, 2)]) is not None
        assert store.add_inbound_part("4479", 5, 8, 2, 2, "b", None, 3.0, dedup_key="k2") == []
    assert _version(path) == SCHEMA_VERSION == 3 and "inbound_seen" in _tables(path)
    with Store.open(path) as again:  # a second open runs no migration and keeps the row
        assert [r.pdu for r in again.raw_reports()] == ["07FF"]


def test_a_failed_migration_leaves_the_file_at_its_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.store import models

    path = _file_from_dump(tmp_path / "simgate.db", V1_DUMP)

    def broken(t: models.Tables) -> None:
        t.database.create_tables([t.RawReport])
        raise RuntimeError("disk pulled mid-migration")

    monkeypatch.setitem(models.MIGRATIONS, 2, broken)
    with pytest.raises(RuntimeError):
        Store(path)
    assert _version(path) == 1 and "raw_report" not in _tables(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = _file_from_dump(tmp_path / "simgate.db", V1_DUMP)
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_a_fresh_file_is_created_at_the_current_version(tmp_path: Path) -> None:
    Store(tmp_path / "new.db").close()
    assert _version(tmp_path / "new.db") == SCHEMA_VERSION


def test_an_undecodable_status_report_is_kept_not_dropped(store: Storage) -> None:
    clock = ManualClock(datetime(2024, 5, 1, tzinfo=timezone.utc))
    matcher = ReportMatcher(store, clock=clock)  # type: ignore[arg-type]
    matcher.handle_pdu("ZZ")  # not hex
    deliver = "0791448720003023240DD0E474D81C0EBB010000111011315214000BE474D81C0EBB5DE3771B"
    matcher.handle_pdu(deliver)  # decodes, but is an SMS-DELIVER, not a report
    kept = store.raw_reports()
    assert [r.pdu for r in kept] == [deliver, "ZZ"]
    assert kept[1].reason.startswith("undecodable") and "not a status report" in kept[0].reason
    assert kept[0].received_at == clock.now().timestamp()
    assert store.prune(older_than=clock.now().timestamp() + 1) == 0 and store.raw_reports() == []
