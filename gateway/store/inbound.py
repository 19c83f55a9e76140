"""SQL of the inbound side: received messages, their parts, who has read them."""
from __future__ import annotations

from typing import Iterable

import peewee as pw

from gateway.store.models import Inbound, InboundPart, InboundRead
from gateway.store.records import InboundRecord, StoredInboundPart, inbound_record
from gateway.store.writer import Writer


class InboundStore:
    """Mixed into ``Store``; every method is one read or one writer job."""

    writer: Writer
    db: pw.SqliteDatabase

    # ---- inbound ----

    def insert_inbound(
        self,
        *,
        message_id: str,
        sender: str,
        receiver: str,
        text: str | None,
        data: bytes | None,
        keyword: str | None,
        clean_text: str | None,
        sms_count: int,
        complete: bool,
        received_at: float,
        consumed_parts: Iterable[tuple[str, int, int, int]] = (),
    ) -> InboundRecord:
        def job() -> InboundRecord:
            for sender_, ref, bits, total in consumed_parts:
                InboundPart.delete().where(
                    (InboundPart.sender == sender_)
                    & (InboundPart.ref == ref)
                    & (InboundPart.ref_bits == bits)
                    & (InboundPart.total == total)
                ).execute()
            row = Inbound.create(
                message_id=message_id,
                sender=sender,
                receiver=receiver,
                text=text,
                data=data,
                keyword=keyword,
                clean_text=clean_text,
                sms_count=sms_count,
                complete=complete,
                received_at=received_at,
            )
            return inbound_record(row)

        return self.writer.run(job)

    def add_inbound_part(
        self, sender: str, ref: int, ref_bits: int, total: int, seq: int, text: str | None, data: bytes | None, now: float,
        pdu: str | None = None,
    ) -> list[StoredInboundPart]:
        """Store one part (duplicates ignored) and return every part of that message so far."""

        def job() -> list[StoredInboundPart]:
            InboundPart.insert(
                sender=sender, ref=ref, ref_bits=ref_bits, total=total, seq=seq, text=text, data=data, received_at=now,
                pdu=pdu,
            ).on_conflict_ignore().execute()
            return self._inbound_parts(sender, ref, ref_bits, total)

        return self.writer.run(job)

    def _inbound_parts(self, sender: str, ref: int, ref_bits: int, total: int) -> list[StoredInboundPart]:
        rows = InboundPart.select().where(
            (InboundPart.sender == sender)
            & (InboundPart.ref == ref)
            & (InboundPart.ref_bits == ref_bits)
            & (InboundPart.total == total)
        ).order_by(InboundPart.seq)
        return [
            StoredInboundPart(r.seq, r.text, bytes(r.data) if r.data is not None else None, r.received_at, r.pdu)
            for r in rows
        ]

    def stale_inbound_groups(self, older_than: float) -> list[tuple[str, int, int, int]]:
        rows = (
            InboundPart.select(InboundPart.sender, InboundPart.ref, InboundPart.ref_bits, InboundPart.total)
            .group_by(InboundPart.sender, InboundPart.ref, InboundPart.ref_bits, InboundPart.total)
            .having(pw.fn.MIN(InboundPart.received_at) <= older_than)
        )
        return [(r.sender, r.ref, r.ref_bits, r.total) for r in rows]

    def inbound_group_parts(self, group: tuple[str, int, int, int]) -> list[StoredInboundPart]:
        return self._inbound_parts(*group)

    def take_inbound(self, account_id: int, limit: int) -> list[InboundRecord]:
        def job() -> list[InboundRecord]:
            seen = InboundRead.select(InboundRead.inbound).where(InboundRead.account == account_id)
            rows = list(Inbound.select().where(Inbound.id.not_in(seen)).order_by(Inbound.received_at, Inbound.id).limit(limit))
            if rows:
                InboundRead.insert_many([dict(account=account_id, inbound=r.id) for r in rows]).execute()
            return [inbound_record(r) for r in rows]

        return self.writer.run(job)

    def inbound_logs(
        self,
        *,
        receiver: str | None = None,
        keyword: str | None = None,
        no_keyword: bool = False,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
    ) -> list[InboundRecord]:
        query = Inbound.select()
        if receiver:
            query = query.where(Inbound.receiver == receiver)
        if keyword:
            query = query.where(Inbound.keyword == keyword)
        if no_keyword:
            query = query.where(Inbound.keyword.is_null())
        if since is not None:
            query = query.where(Inbound.received_at >= since)
        if until is not None:
            query = query.where(Inbound.received_at <= until)
        return [inbound_record(r) for r in query.order_by(Inbound.received_at.desc(), Inbound.id.desc()).limit(limit)]
