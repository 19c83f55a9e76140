"""SQL of the outbound side: accepting, dispatching, status reports, reports and logs."""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Sequence

import peewee as pw

from gateway.errors import DuplicateMessageIdError
from gateway.statuses import STATE_STATUS, MessageState, error_for_tp_status, state_for_tp_status
from gateway.store.models import Tables
from gateway.store.records import LogFilter, MessageRecord, NewMessage, PartJob, message_record
from gateway.store.writer import Writer

REPORT_WINDOW = 3 * 24 * 3600.0  # seconds a status report may trail its send (TP-MR reuse bound)
# An in-doubt part may take a pending report that arrived this recently (a send's longest wait).
IN_DOUBT_WINDOW = 600.0
REPORT_GRACE = 3600.0  # seconds after the validity period before a missing report is given up
FINAL_STATES = tuple(s.value for s in MessageState if s.final)

_INSERT_MESSAGE = (
    'INSERT INTO "message" ("message_id", "account_id", "bulk_id", "sender", "destination", "text", '
    '"data", "encoding", "sms_count", "state", "status_name", "error_id", "concat_ref", "created_at", '
    '"done_at", "expires_at", "report_unread", "options") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
)
_INSERT_PART = (
    'INSERT INTO "part" ("message_id", "seq", "total", "pdu", "tpdu_length", "state", "attempts", '
    '"next_attempt_at") VALUES (?, ?, ?, ?, ?, \'queued\', 0, ?)'
)


class OutboundStore:
    """Mixed into ``Store``; every method is one read or one writer job."""

    writer: Writer
    db: pw.SqliteDatabase
    tables: Tables

    # ---- accepting ----

    def insert_messages(self, messages: Sequence[NewMessage]) -> None:
        """All messages of one request in one transaction: all are accepted, or none.

        This is the hot path of every send request, so it runs fixed SQL text rather than
        building each statement through the ORM (which cost ~10x the SQLite work itself).
        """

        def job() -> None:
            cursor = self.db.cursor()
            for m in messages:
                try:
                    cursor.execute(
                        _INSERT_MESSAGE,
                        (
                            m.message_id, m.account_id, m.bulk_id, m.sender, m.destination, m.text,
                            m.data, m.encoding, m.sms_count, m.state.value, m.status_name, m.error_id,
                            m.concat_ref, m.created_at, m.created_at if m.state.final else None,
                            m.expires_at, m.state.final, json.dumps(m.options),
                        ),
                    )
                except sqlite3.IntegrityError:
                    raise DuplicateMessageIdError(m.message_id) from None
                pk = cursor.lastrowid
                if m.parts:
                    cursor.executemany(
                        _INSERT_PART,
                        [(pk, p.seq, p.total, p.pdu, p.tpdu_length, m.created_at) for p in m.parts],
                    )

        self.writer.run(job)

    def message_id_exists(self, account_id: int, message_id: str) -> bool:
        return (
            self.tables.Message.select(self.tables.Message.id)
            .where((self.tables.Message.account == account_id) & (self.tables.Message.message_id == message_id))
            .exists()
        )

    def last_concat_ref(self) -> int:
        row = self.tables.Message.select(self.tables.Message.concat_ref).order_by(self.tables.Message.id.desc()).first()
        return row.concat_ref if row else 0

    # ---- dispatching ----

    def claim_next_part(self, now: float) -> PartJob | None:
        """Atomically move the next due part to 'sending' (the in-doubt state) and return it."""

        def job() -> PartJob | None:
            row = (
                self.tables.Part.select(self.tables.Part, self.tables.Message)
                .join(self.tables.Message)
                .where((self.tables.Part.state == "queued") & (self.tables.Part.next_attempt_at <= now))
                .order_by(self.tables.Part.next_attempt_at, self.tables.Part.message, self.tables.Part.seq)
                .first()
            )
            if row is None:
                return None
            claimed = (
                self.tables.Part.update(state="sending", attempts=self.tables.Part.attempts + 1)
                .where((self.tables.Part.id == row.id) & (self.tables.Part.state == "queued"))
                .execute()
            )
            if claimed != 1:
                return None
            msg = row.message
            if msg.state == MessageState.ACCEPTED.value:
                self.tables.Message.update(state=MessageState.SENDING.value).where(self.tables.Message.id == msg.id).execute()
            return PartJob(
                part_id=row.id,
                message_pk=msg.id,
                message_id=msg.message_id,
                destination=msg.destination,
                seq=row.seq,
                total=row.total,
                pdu=row.pdu,
                tpdu_length=row.tpdu_length,
                attempts=row.attempts + 1,
                expires_at=msg.expires_at,
                status_report=json.loads(msg.options).get("status_report", True),
            )

        return self.writer.run(job)

    def next_due_time(self) -> float | None:
        row = self.tables.Part.select(pw.fn.MIN(self.tables.Part.next_attempt_at)).where(self.tables.Part.state == "queued").scalar()
        return float(row) if row is not None else None

    def record_part_sent(self, part_id: int, mr: int | None, now: float, status_report: bool) -> None:
        def job() -> None:
            self.tables.Part.update(state="sent", mr=mr, sent_at=now, error=None).where(self.tables.Part.id == part_id).execute()
            part = self.tables.Part.get_by_id(part_id)
            self._settle_message(part.message_id, now, status_report)
            if status_report:
                self._apply_pending_report(part, now)

        self.writer.run(job)

    def _apply_pending_report(self, part: Any, now: float) -> None:
        """A report that arrived while this part was being sent. An in-doubt part (no TP-MR)
        takes one for its recipient that arrived during the send, whatever its TP-MR."""
        destination = part.message.destination
        if part.mr is None:
            query = self.tables.PendingReport.select().where(self.tables.PendingReport.received_at >= now - IN_DOUBT_WINDOW)
        else:
            query = self.tables.PendingReport.select().where(
                (self.tables.PendingReport.mr == part.mr) & (self.tables.PendingReport.received_at >= now - REPORT_WINDOW)
            )
        for pending in query.order_by(self.tables.PendingReport.received_at):
            if destination.endswith(pending.suffix):
                pending.delete_instance()
                self._apply_report_to_part(part.id, pending.tp_status, now)
                return

    def record_part_retry(self, part_id: int, error: str, retry_at: float) -> None:
        self.writer.run(
            lambda: self.tables.Part.update(state="queued", next_attempt_at=retry_at, error=error)
            .where(self.tables.Part.id == part_id)
            .execute()
        )

    def release_part(self, part_id: int, retry_at: float) -> None:
        """The modem was not reached: back to the queue without counting an attempt."""
        self.writer.run(
            lambda: self.tables.Part.update(state="queued", next_attempt_at=retry_at, attempts=self.tables.Part.attempts - 1)
            .where(self.tables.Part.id == part_id)
            .execute()
        )

    def fail_message(
        self, message_pk: int, state: MessageState, status_name: str, error_id: int, now: float, reason: str
    ) -> None:
        """Give up on every unfinished part of a message (permanent error or validity over)."""

        def job() -> None:
            self.tables.Part.update(state="expired" if state is MessageState.EXPIRED else "failed", done_at=now, error=reason).where(
                (self.tables.Part.message == message_pk) & (self.tables.Part.state.in_(("queued", "sending", "sent")))
            ).execute()
            self.tables.Message.update(
                state=state.value, status_name=status_name, error_id=error_id, done_at=now, report_unread=True
            ).where((self.tables.Message.id == message_pk) & (self.tables.Message.state.not_in(FINAL_STATES))).execute()

        self.writer.run(job)

    def expire_due(self, now: float) -> list[str]:
        """Messages whose validity passed while parts were still queued: EXPIRED_EXPIRED (returned);
        sent ones whose status report is overdue: DELIVERED_TO_OPERATOR."""

        def job() -> list[str]:
            rows = list(
                self.tables.Message.select(self.tables.Message.id, self.tables.Message.message_id)
                .where((self.tables.Message.expires_at <= now) & (self.tables.Message.state.in_(("accepted", "sending"))))
                .limit(500)
            )
            for row in rows:
                self.tables.Part.update(state="expired", done_at=now).where(
                    (self.tables.Part.message == row.id) & (self.tables.Part.state == "queued")
                ).execute()
                self.tables.Message.update(
                    state=MessageState.EXPIRED.value,
                    status_name="EXPIRED_EXPIRED",
                    error_id=4101,
                    done_at=now,
                    report_unread=True,
                ).where(self.tables.Message.id == row.id).execute()
            # Sent, but the report never came (lost in a modem reset, or ds=0 after a reboot):
            # once the SC itself has given up (validity + grace) the honest status is that the
            # operator took the message.
            overdue = list(
                self.tables.Message.select(self.tables.Message.id, self.tables.Message.message_id)
                .where((self.tables.Message.expires_at + REPORT_GRACE <= now) & (self.tables.Message.state == MessageState.SENT.value))
                .limit(500)
            )
            for row in overdue:
                self.tables.Message.update(
                    state=MessageState.SENT_NO_REPORT.value, status_name=None, done_at=now, report_unread=True
                ).where(self.tables.Message.id == row.id).execute()
            return [r.message_id for r in rows]

        return self.writer.run(job)

    def recover_in_doubt(self, now: float, resend: bool) -> list[tuple[str, int]]:
        """After a crash, parts left in 'sending' may or may not have reached the network."""

        def job() -> list[tuple[str, int]]:
            rows = list(self.tables.Part.select(self.tables.Part, self.tables.Message).join(self.tables.Message).where(self.tables.Part.state == "sending"))
            for row in rows:
                if resend:
                    self.tables.Part.update(state="queued", next_attempt_at=now, error="in doubt after restart: resent").where(
                        self.tables.Part.id == row.id
                    ).execute()
                else:
                    self.tables.Part.update(state="sent", mr=None, sent_at=now, error="in doubt after restart").where(
                        self.tables.Part.id == row.id
                    ).execute()
                    self._settle_message(row.message_id, now, json.loads(row.message.options).get("status_report", True))
            return [(r.message.message_id, r.seq) for r in rows]

        return self.writer.run(job)

    def _settle_message(self, message_pk: int, now: float, status_report: bool) -> None:
        """Recompute a message's state from its parts (inside a writer job)."""
        msg = self.tables.Message.get_by_id(message_pk)
        if MessageState(msg.state).final:
            return
        states = [p.state for p in self.tables.Part.select(self.tables.Part.state).where(self.tables.Part.message == message_pk)]
        if any(s in ("queued", "sending") for s in states):
            return
        updates: dict[str, Any] = {}
        if msg.sent_at is None:
            updates["sent_at"] = now
        if all(s == "delivered" for s in states):
            updates.update(state=MessageState.DELIVERED.value, status_name=None, done_at=now, report_unread=True)
        elif not status_report:
            updates.update(state=MessageState.SENT_NO_REPORT.value, done_at=now, report_unread=True)
        else:
            updates.update(state=MessageState.SENT.value)
        self.tables.Message.update(**updates).where(self.tables.Message.id == message_pk).execute()

    # ---- status reports ----

    def apply_status_report(self, suffix: str, mr: int, tp_status: int, now: float) -> MessageRecord | None:
        """Match a report to a sent part and apply it, in one writer job (no race with sends).

        Candidates: parts sent to a number ending in ``suffix`` within ``REPORT_WINDOW``; the
        newest with this TP-MR (it wraps every 256 sends), else the newest in-doubt part (no
        TP-MR) for that number. No candidate: kept as pending for a send being recorded now.
        """

        def job() -> MessageRecord | None:
            since = now - REPORT_WINDOW
            base = (
                self.tables.Part.select(self.tables.Part.id)
                .join(self.tables.Message)
                .where((self.tables.Part.state == "sent") & (self.tables.Part.sent_at >= since) & (self.tables.Message.destination.endswith(suffix)))
                .order_by(self.tables.Part.sent_at.desc(), self.tables.Part.id.desc())
            )
            row = base.where(self.tables.Part.mr == mr).first() or base.where(self.tables.Part.mr.is_null()).first()
            if row is None:
                self.tables.PendingReport.delete().where(self.tables.PendingReport.received_at < since).execute()
                self.tables.PendingReport.create(suffix=suffix, mr=mr, tp_status=tp_status, received_at=now)
                return None
            return self._apply_report_to_part(row.id, tp_status, now)

        return self.writer.run(job)

    def _apply_report_to_part(self, part_id: int, tp_status: int, now: float) -> MessageRecord:
        part = self.tables.Part.get_by_id(part_id)
        final = state_for_tp_status(tp_status)
        if final is None:  # the SC is still trying: note it, stay pending
            self.tables.Part.update(tp_status=tp_status).where(self.tables.Part.id == part_id).execute()
        elif final is MessageState.DELIVERED:
            self.tables.Part.update(state="delivered", tp_status=tp_status, done_at=now).where(self.tables.Part.id == part_id).execute()
            self._settle_message(part.message_id, now, True)
        else:
            self.tables.Part.update(state="failed", tp_status=tp_status, done_at=now).where(self.tables.Part.id == part_id).execute()
            self.tables.Message.update(
                state=final.value,
                status_name=STATE_STATUS[final].name,
                error_id=error_for_tp_status(tp_status).id,
                done_at=now,
                report_unread=True,
            ).where((self.tables.Message.id == part.message_id) & (self.tables.Message.state.not_in(FINAL_STATES))).execute()
        return message_record(self.tables.Message.get_by_id(part.message_id))

    def pending_reports(self) -> int:
        return self.tables.PendingReport.select().count()

    # ---- reading ----

    def message(self, account_id: int, message_id: str) -> MessageRecord | None:
        row = self.tables.Message.get_or_none((self.tables.Message.account == account_id) & (self.tables.Message.message_id == message_id))
        return message_record(row) if row else None

    def message_parts(self, message_pk: int) -> list[dict[str, Any]]:
        return [
            dict(seq=p.seq, state=p.state, mr=p.mr, attempts=p.attempts, error=p.error, tp_status=p.tp_status)
            for p in self.tables.Part.select().where(self.tables.Part.message == message_pk).order_by(self.tables.Part.seq)
        ]

    def take_reports(
        self, account_id: int, *, bulk_id: str | None, message_id: str | None, limit: int
    ) -> list[MessageRecord]:
        """Final messages not yet reported, marked read in the same transaction (each once)."""

        def job() -> list[MessageRecord]:
            query = self.tables.Message.select().where((self.tables.Message.account == account_id) & (self.tables.Message.report_unread == True))  # noqa: E712
            if bulk_id:
                query = query.where(self.tables.Message.bulk_id == bulk_id)
            if message_id:
                query = query.where(self.tables.Message.message_id == message_id)
            rows = list(query.order_by(self.tables.Message.done_at, self.tables.Message.id).limit(limit))
            if rows:
                self.tables.Message.update(report_unread=False).where(self.tables.Message.id.in_([r.id for r in rows])).execute()
            return [message_record(r) for r in rows]

        return self.writer.run(job)

    def logs(self, account_id: int, flt: LogFilter) -> list[MessageRecord]:
        query = self.tables.Message.select().where(self.tables.Message.account == account_id)
        if flt.sender:
            query = query.where(self.tables.Message.sender == flt.sender)
        if flt.destination:
            query = query.where(self.tables.Message.destination == flt.destination)
        if flt.bulk_ids:
            query = query.where(self.tables.Message.bulk_id.in_(flt.bulk_ids))
        if flt.message_ids:
            query = query.where(self.tables.Message.message_id.in_(flt.message_ids))
        if flt.states:
            query = query.where(self.tables.Message.state.in_([s.value for s in flt.states]))
        if flt.sent_since is not None:
            query = query.where(self.tables.Message.created_at >= flt.sent_since)
        if flt.sent_until is not None:
            query = query.where(self.tables.Message.created_at <= flt.sent_until)
        return [message_record(r) for r in query.order_by(self.tables.Message.created_at.desc(), self.tables.Message.id.desc()).limit(flt.limit)]

    def counts_by_state(self) -> dict[str, int]:
        return {
            r.state: r.n
            for r in self.tables.Message.select(self.tables.Message.state, pw.fn.COUNT(self.tables.Message.id).alias("n")).group_by(self.tables.Message.state)
        }

    def queued_parts(self) -> int:
        return self.tables.Part.select().where(self.tables.Part.state.in_(("queued", "sending"))).count()
