"""A valid ``MessageRecord`` with defaults, for the store tests."""
from __future__ import annotations

import threading
from typing import Any

from gateway.store import MessageRecord, NewPart


def new_message(account_id: int, message_id: str, parts: int = 1, **kw: Any) -> MessageRecord:
    base = dict(
        message_id=message_id,
        account_id=account_id,
        bulk_id=None,
        sender="InfoSMS",
        destination="41793026727",
        text="hello",
        data=None,
        encoding="gsm7",
        sms_count=parts,
        concat_ref=7,
        created_at=1000.0,
        expires_at=5000.0,
        parts=tuple(NewPart(i, parts, f"00PDU{i}", 10 + i) for i in range(1, parts + 1)),
        options={"status_report": True},
    )
    base.update(kw)
    return MessageRecord(**base)


def insert_concurrently(store: Any, account_id: int, *, threads: int = 8, each: int = 50) -> list[BaseException]:
    """``threads`` threads each insert ``each`` one-message requests; the errors they met."""
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(each):
                store.insert_messages([new_message(account_id, f"t{n}-{i}")])
        except BaseException as exc:  # noqa: BLE001 - reported to the test, not swallowed
            errors.append(exc)

    started = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join(30)
    return errors
