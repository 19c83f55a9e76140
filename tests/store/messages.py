"""A valid ``MessageRecord`` with defaults, for the store tests."""
from __future__ import annotations

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
