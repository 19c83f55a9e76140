"""SQL of the inbound side: received messages, their parts, who has read them."""
from __future__ import annotations

from typing import Iterable

import peewee as pw

from gateway.store.models import Tables
from gateway.store.records import InboundRecord, StoredInboundPart, inbound_record
from gateway.store.writer import Writer


INBOUND_DEDUP_WINDOW = 3 * 24 * 3600.0  # seconds a received SMS is remembered (SC redelivery)


class InboundStore:
    """Mixed into ``Store``; every method is one read or one writer job."""

    writer: Writer
    db: pw.SqliteDatabase
    tables: Tables

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
        dedup_key: str | None = None,
    ) -> InboundRecord | None:
        t = self.tables

        def job() -> InboundRecord | None:
            if dedup_key is not None and self._seen(dedup_key, received_at):
                return None
            keys = [dedup_key] if dedup_key is not None else []
            for sender_, ref, bits, total in consumed_parts:
                group = (
                    (t.InboundPart.sender == sender_)
                    & (t.InboundPart.ref == ref)
                    & (t.InboundPart.ref_bits == bits)
                    & (t.InboundPart.total == total)
                )
                waiting = list(t.InboundPart.select(t.InboundPart.dedup_key).where(group))
                if not waiting:
                    return None  # assembled and stored already (a redelivered last part)
                keys += [r.dedup_key for r in waiting if r.dedup_key is not None]
                t.InboundPart.delete().where(group).execute()
            if keys:
                t.InboundSeen.insert_many(
                    [dict(key=k, seen_at=received_at) for k in keys]
                ).on_conflict_replace().execute()
            row = t.Inbound.create(
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
        pdu: str | None = None, dedup_key: str | None = None,
    ) -> list[StoredInboundPart]:
        """Store one part (duplicates ignored) and return every part of that message so far;
        ``[]`` when the part belongs to a message already stored (``dedup_key`` seen)."""

        def job() -> list[StoredInboundPart]:
            if dedup_key is not None and self._seen(dedup_key, now):
                return []
            self.tables.InboundPart.insert(
                sender=sender, ref=ref, ref_bits=ref_bits, total=total, seq=seq, text=text, data=data, received_at=now,
                pdu=pdu, dedup_key=dedup_key,
            ).on_conflict_ignore().execute()
            return self._inbound_parts(sender, ref, ref_bits, total)

        return self.writer.run(job)

    def _seen(self, key: str, now: float) -> bool:
        seen = self.tables.InboundSeen
        return seen.select().where((seen.key == key) & (seen.seen_at >= now - INBOUND_DEDUP_WINDOW)).exists()

    def _inbound_parts(self, sender: str, ref: int, ref_bits: int, total: int) -> list[StoredInboundPart]:
        rows = self.tables.InboundPart.select().where(
            (self.tables.InboundPart.sender == sender)
            & (self.tables.InboundPart.ref == ref)
            & (self.tables.InboundPart.ref_bits == ref_bits)
            & (self.tables.InboundPart.total == total)
        ).order_by(self.tables.InboundPart.seq)
        return [
            StoredInboundPart(r.seq, r.text, bytes(r.data) if r.data is not None else None, r.received_at, r.pdu)
            for r in rows
        ]

    def stale_inbound_groups(self, older_than: float) -> list[tuple[str, int, int, int]]:
        rows = (
            self.tables.InboundPart.select(self.tables.InboundPart.sender, self.tables.InboundPart.ref, self.tables.InboundPart.ref_bits, self.tables.InboundPart.total)
            .group_by(self.tables.InboundPart.sender, self.tables.InboundPart.ref, self.tables.InboundPart.ref_bits, self.tables.InboundPart.total)
            .having(pw.fn.MIN(self.tables.InboundPart.received_at) <= older_than)
        )
        return [(r.sender, r.ref, r.ref_bits, r.total) for r in rows]

    def inbound_group_parts(self, group: tuple[str, int, int, int]) -> list[StoredInboundPart]:
        return self._inbound_parts(*group)

    def take_inbound(self, account_id: int, limit: int) -> list[InboundRecord]:
        def job() -> list[InboundRecord]:
            seen = self.tables.InboundRead.select(self.tables.InboundRead.inbound).where(self.tables.InboundRead.account == account_id)
            rows = list(self.tables.Inbound.select().where(self.tables.Inbound.id.not_in(seen)).order_by(self.tables.Inbound.received_at, self.tables.Inbound.id).limit(limit))
            if rows:
                self.tables.InboundRead.insert_many([dict(account=account_id, inbound=r.id) for r in rows]).execute()
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
        query = self.tables.Inbound.select()
        if receiver:
            query = query.where(self.tables.Inbound.receiver == receiver)
        if keyword:
            query = query.where(self.tables.Inbound.keyword == keyword)
        if no_keyword:
            query = query.where(self.tables.Inbound.keyword.is_null())
        if since is not None:
            query = query.where(self.tables.Inbound.received_at >= since)
        if until is not None:
            query = query.where(self.tables.Inbound.received_at <= until)
        return [inbound_record(r) for r in query.order_by(self.tables.Inbound.received_at.desc(), self.tables.Inbound.id.desc()).limit(limit)]
