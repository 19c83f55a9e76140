"""SQL of the outbound side: accepting, dispatching, status reports, reports and logs.

The store decides nothing about a message's fate: every state, status and error it writes is an
``Outcome`` that ``gateway.lifecycle`` returned, and report matching and expiry are lifecycle
functions called here, inside the writer's transaction, on candidates these queries select.
"""
from __future__ import annotations

import functools
import json
import operator
import sqlite3
from typing import Any, Sequence

import peewee as pw

from gateway import lifecycle
from gateway.errors import DuplicateMessageIdError
from gateway.lifecycle import (
    InDoubtPolicy,
    MessageState,
    Outcome,
    PartState,
    ReportCandidate,
)
from gateway.store.models import Tables
from gateway.store.records import LogFilter, MessageRecord, NewMessage, PartJob, message_record
from gateway.store.writer import Writer

FINAL_STATES = tuple(s.value for s in lifecycle.FINAL_STATES)  # as stored
_QUEUED, _SENDING, _SENT = PartState.QUEUED.value, PartState.SENDING.value, PartState.SENT.value

_INSERT_MESSAGE = (
    'INSERT INTO "message" ("message_id", "account_id", "bulk_id", "sender", "destination", "text", '
    '"data", "encoding", "sms_count", "state", "status_name", "error_id", "concat_ref", "created_at", '
    '"done_at", "expires_at", "report_unread", "options") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
)
_INSERT_PART = (
    'INSERT INTO "part" ("message_id", "seq", "total", "pdu", "tpdu_length", "state", "attempts", '
    '"next_attempt_at") VALUES (?, ?, ?, ?, ?, ?, 0, ?)'
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
                        [(pk, p.seq, p.total, p.pdu, p.tpdu_length, _QUEUED, m.created_at) for p in m.parts],
                    )

        self.writer.run(job)

    def existing_message_ids(self, account_id: int, message_ids: Sequence[str]) -> set[str]:
        """Which of these caller-supplied ids the account already has: one statement of fixed
        shape whatever the number of ids (a JSON array through json_each), so no statement
        cache grows with the request sizes clients choose."""
        cursor = self.db.execute_sql(
            'SELECT "message_id" FROM "message" WHERE "account_id" = ? '
            'AND "message_id" IN (SELECT "value" FROM json_each(?))',
            (account_id, json.dumps(list(message_ids))),
        )
        return {row[0] for row in cursor.fetchall()}

    def last_concat_ref(self) -> int:
        row = self.tables.Message.select(self.tables.Message.concat_ref).order_by(self.tables.Message.id.desc()).first()
        return row.concat_ref if row else 0

    # ---- dispatching ----

    def claim_next_part(self, now: float) -> PartJob | None:
        """Atomically move the next due part to 'sending' (the in-doubt state) and return it."""
        t = self.tables

        def job() -> PartJob | None:
            row = (
                t.Part.select(t.Part, t.Message)
                .join(t.Message)
                .where((t.Part.state == _QUEUED) & (t.Part.next_attempt_at <= now))
                .order_by(t.Part.next_attempt_at, t.Part.message, t.Part.seq)
                .first()
            )
            if row is None:
                return None
            claimed = (
                t.Part.update(state=_SENDING, attempts=t.Part.attempts + 1)
                .where((t.Part.id == row.id) & (t.Part.state == _QUEUED))
                .execute()
            )
            if claimed != 1:
                return None
            msg = row.message
            if msg.state == MessageState.ACCEPTED.value:
                self._persist(msg.id, lifecycle.sending(), now)
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
        t = self.tables
        row = t.Part.select(pw.fn.MIN(t.Part.next_attempt_at)).where(t.Part.state == _QUEUED).scalar()
        return float(row) if row is not None else None

    def record_part_sent(self, part_id: int, mr: int | None, now: float, status_report: bool) -> None:
        """The modem took the part (``mr`` None: assumed sent, outcome in doubt)."""
        t = self.tables

        def job() -> None:
            t.Part.update(state=_SENT, mr=mr, sent_at=now, error=None).where(t.Part.id == part_id).execute()
            part = t.Part.get_by_id(part_id)
            self._settle_message(part.message_id, now, status_report)
            self._match_held_reports(part.message.destination, now)

        self.writer.run(job)

    def record_part_retry(self, part_id: int, error: str, retry_at: float) -> None:
        t = self.tables

        def job() -> None:
            t.Part.update(state=_QUEUED, next_attempt_at=retry_at, error=error).where(t.Part.id == part_id).execute()
            self._match_held_reports(t.Part.get_by_id(part_id).message.destination, None)

        self.writer.run(job)

    def release_part(self, part_id: int, retry_at: float) -> None:
        """The modem was not reached: back to the queue without counting an attempt."""
        t = self.tables

        def job() -> None:
            t.Part.update(state=_QUEUED, next_attempt_at=retry_at, attempts=t.Part.attempts - 1).where(
                t.Part.id == part_id
            ).execute()
            self._match_held_reports(t.Part.get_by_id(part_id).message.destination, None)

        self.writer.run(job)

    def fail_message(self, message_pk: int, outcome: Outcome, now: float, reason: str) -> None:
        """End a message with a final ``outcome`` (refused for good, or validity over): every
        unfinished part takes the state the lifecycle gives it."""
        t = self.tables

        def job() -> None:
            t.Part.update(state=lifecycle.part_state_for(outcome).value, done_at=now, error=reason).where(
                (t.Part.message == message_pk) & (t.Part.state.in_((_QUEUED, _SENDING, _SENT)))
            ).execute()
            self._persist(message_pk, outcome, now)
            self._match_held_reports(t.Message.get_by_id(message_pk).destination, now)

        self.writer.run(job)

    def expire_due(self, now: float) -> list[str]:
        """Let time act (``lifecycle.lapse``): messages past their validity with parts unsent end
        EXPIRED_EXPIRED (their ids are returned); sent ones whose report is overdue end
        DELIVERED_TO_OPERATOR."""
        t = self.tables

        def job() -> list[str]:
            lapsing = functools.reduce(operator.or_, [
                (t.Message.state == state.value) & (t.Message.expires_at <= cutoff)
                for state, cutoff in lifecycle.expiry_cutoffs(now).items()
            ])
            rows = list(
                t.Message.select(t.Message.id, t.Message.message_id, t.Message.state, t.Message.expires_at)
                .where(lapsing)
                .limit(500)
            )
            expired: list[str] = []
            for row in rows:
                outcome = lifecycle.lapse(MessageState(row.state), row.expires_at, now)
                if outcome is None:
                    continue
                t.Part.update(state=lifecycle.part_state_for(outcome).value, done_at=now).where(
                    (t.Part.message == row.id) & (t.Part.state == _QUEUED)
                ).execute()
                self._persist(row.id, outcome, now)
                if outcome.state is MessageState.EXPIRED:
                    expired.append(row.message_id)
            return expired

        return self.writer.run(job)

    def recover_in_doubt(self, now: float, policy: InDoubtPolicy) -> list[tuple[str, int]]:
        """After a crash, parts left in 'sending' may or may not have reached the network: each
        becomes what ``lifecycle.in_doubt(policy)`` says."""
        t = self.tables
        becomes = lifecycle.in_doubt(policy)

        def job() -> list[tuple[str, int]]:
            rows = list(t.Part.select(t.Part, t.Message).join(t.Message).where(t.Part.state == _SENDING))
            for row in rows:
                if becomes is PartState.QUEUED:
                    t.Part.update(state=_QUEUED, next_attempt_at=now, error="in doubt after restart: resent").where(
                        t.Part.id == row.id
                    ).execute()
                else:
                    t.Part.update(state=_SENT, mr=None, sent_at=now, error="in doubt after restart").where(
                        t.Part.id == row.id
                    ).execute()
                    self._settle_message(row.message_id, now, json.loads(row.message.options).get("status_report", True))
            for destination in {r.message.destination for r in rows}:
                self._match_held_reports(destination, now)
            return [(r.message.message_id, r.seq) for r in rows]

        return self.writer.run(job)

    def _persist(self, message_pk: int, outcome: Outcome, now: float, **extra: Any) -> None:
        """Write an Outcome (inside a writer job). A final message never changes again, and a
        final outcome is reported once (``report_unread``)."""
        t = self.tables
        fields: dict[str, Any] = dict(
            state=outcome.state.value, status_name=outcome.status_name, error_id=outcome.error_id, **extra
        )
        if outcome.final:
            fields.update(done_at=now, report_unread=True)
        t.Message.update(**fields).where((t.Message.id == message_pk) & (t.Message.state.not_in(FINAL_STATES))).execute()

    def _settle_message(self, message_pk: int, now: float, status_report: bool) -> None:
        """Recompute a message's state from its parts (inside a writer job)."""
        t = self.tables
        msg = t.Message.get_by_id(message_pk)
        if MessageState(msg.state).final:
            return
        parts = [PartState(p.state) for p in t.Part.select(t.Part.state).where(t.Part.message == message_pk)]
        outcome = lifecycle.settle(parts, status_report=status_report)
        if outcome is None:
            return
        self._persist(message_pk, outcome, now, **({"sent_at": now} if msg.sent_at is None else {}))

    # ---- status reports ----

    def apply_status_report(self, suffix: str, mr: int, tp_status: int, now: float) -> MessageRecord | None:
        """Match a report to a part (``lifecycle.match_report``) and apply it, in one writer job
        (no race with sends). No owner yet: held as pending (None is returned) until a send to
        that number is recorded, or ``REPORT_WINDOW`` passes."""
        t = self.tables

        def job() -> MessageRecord | None:
            part_id = lifecycle.match_report(mr, now, self._report_candidates(suffix, mr, now))
            if part_id is None:
                t.PendingReport.delete().where(t.PendingReport.received_at < now - lifecycle.REPORT_WINDOW).execute()
                t.PendingReport.create(suffix=suffix, mr=mr, tp_status=tp_status, received_at=now)
                return None
            return self._apply_report_to_part(part_id, tp_status, now)

        return self.writer.run(job)

    def _report_candidates(self, suffix: str, mr: int, received_at: float) -> list[ReportCandidate]:
        """Parts to numbers ending in ``suffix`` that ``match_report`` may pick: sent with this
        TP-MR, sent in doubt (no TP-MR) and still in their window, or still sending. Three
        queries, each served by the (state, mr) index."""
        t = self.tables
        to_number = t.Message.destination.endswith(suffix)
        fields = (t.Part.id, t.Part.state, t.Part.mr, t.Part.sent_at, t.Message.expires_at)
        wheres = (
            (t.Part.state == _SENT) & (t.Part.mr == mr) & (t.Part.sent_at >= received_at - lifecycle.REPORT_WINDOW),
            (t.Part.state == _SENT) & t.Part.mr.is_null()
            & (t.Message.expires_at >= received_at - lifecycle.REPORT_GRACE),
            t.Part.state == _SENDING,
        )
        return [
            ReportCandidate(r.id, PartState(r.state), r.mr, r.sent_at, r.message.expires_at)
            for where in wheres
            for r in t.Part.select(*fields).join(t.Message).where(where & to_number)
        ]

    def _match_held_reports(self, destination: str, now: float | None) -> None:
        """Reports held for this number get another match now that a part to it left
        'sending' (its TP-MR is known, or it will not be sent yet): inside a writer job."""
        t = self.tables
        held = list(
            t.PendingReport.select()
            .where(pw.fn.substr(destination, pw.fn.length(t.PendingReport.suffix) * -1) == t.PendingReport.suffix)
            .order_by(t.PendingReport.received_at, t.PendingReport.id)
        )
        for pending in held:
            part_id = lifecycle.match_report(
                pending.mr, pending.received_at, self._report_candidates(pending.suffix, pending.mr, pending.received_at)
            )
            if part_id is not None:
                pending.delete_instance()
                self._apply_report_to_part(part_id, pending.tp_status, pending.received_at if now is None else now)

    def _apply_report_to_part(self, part_id: int, tp_status: int, now: float) -> MessageRecord:
        t = self.tables
        effect = lifecycle.report(tp_status)
        part = t.Part.get_by_id(part_id)
        if effect.part is PartState.SENT:  # the SC is still trying: note it, stay pending
            t.Part.update(tp_status=tp_status).where(t.Part.id == part_id).execute()
        else:
            t.Part.update(state=effect.part.value, tp_status=tp_status, done_at=now).where(t.Part.id == part_id).execute()
            if effect.message is None:
                self._settle_message(part.message_id, now, True)
            else:
                self._persist(part.message_id, effect.message, now)
        return message_record(t.Message.get_by_id(part.message_id))

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
        # Id lists and states go in as one JSON array each (json_each), so the statement has one
        # shape whatever the number of ids: no per-length statement to compile and cache.
        if flt.bulk_ids:
            query = query.where(self.tables.Message.bulk_id.in_(_json_values(flt.bulk_ids)))
        if flt.message_ids:
            query = query.where(self.tables.Message.message_id.in_(_json_values(flt.message_ids)))
        if flt.states:
            query = query.where(self.tables.Message.state.in_(_json_values([s.value for s in flt.states])))
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
        return self.tables.Part.select().where(self.tables.Part.state.in_((_QUEUED, _SENDING))).count()


def _json_values(values: Sequence[str]) -> pw.Node:
    """``(SELECT value FROM json_each(?))`` with the values as one JSON array parameter."""
    return pw.NodeList((pw.SQL("SELECT value FROM json_each(?)", (json.dumps(list(values)),)),), parens=True)
