"""SQLite statements keep one shape whatever a client sends (issue 10 item 1).

A log filter with a different number of ids used to compile (and cache, per request thread) a
new statement each time: hundreds of MB for a few hundred requests.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.lifecycle import MessageState
from gateway.store import STATEMENT_CACHE, LogFilter, Store
from tests.store.messages import new_message


def test_item1_log_filters_with_any_number_of_ids_run_one_statement_shape(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "simgate.db")
    try:
        account = store.create_account("alice", "hash", 0.0).id
        store.insert_messages([new_message(account, f"m{i}", bulk_id="b1") for i in range(5)])
        seen: list[str] = []
        execute = store.db.execute_sql

        def recording(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            seen.append(sql)
            return execute(sql, params, *args, **kwargs)

        store.db.execute_sql = recording  # type: ignore[method-assign]
        found = []
        for n in (1, 2, 5, 100):
            ids = tuple(f"m{i}" for i in range(n))
            found.append(len(store.logs(account, LogFilter(message_ids=ids, bulk_ids=("b1", "b2")[: 1 + n % 2],
                                                           states=(MessageState.ACCEPTED,)))))
        assert found == [1, 2, 5, 5]
        assert len(set(seen)) == 1, seen
        assert "json_each" in seen[0]
    finally:
        store.close()


def test_item1_each_connection_caches_a_bounded_number_of_statements(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "simgate.db")
    try:
        assert store.db.connect_params["cached_statements"] == STATEMENT_CACHE <= 128
    finally:
        store.close()
