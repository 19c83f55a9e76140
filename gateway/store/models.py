"""The tables (peewee models). Only the store package touches them; no row leaves it.

Why a function and not module-level classes: a peewee model is bound to one database through
its class, so module-level models make the database a process singleton (opening a second
``Store`` used to re-point the first one's reads at the second file). ``bind_tables`` builds a
fresh set of classes for one database; each ``Store`` keeps its own in ``store.tables``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import peewee as pw

SCHEMA_VERSION = 3


@dataclass(frozen=True)
class Tables:
    """The model classes of one database. Attributes are peewee ``Model`` subclasses (typed
    ``Any`` because their columns are class attributes a type checker cannot see)."""

    database: pw.SqliteDatabase
    Meta: Any
    Account: Any
    Message: Any
    Part: Any
    Inbound: Any
    InboundRead: Any
    InboundPart: Any
    PendingReport: Any
    ModemEvent: Any
    RawReport: Any
    InboundSeen: Any

    @property
    def all(self) -> tuple[type[pw.Model], ...]:
        """Every model, parents before children (the order ``create_tables`` wants)."""
        return (
            self.Meta, self.Account, self.Message, self.Part, self.Inbound, self.InboundRead,
            self.InboundPart, self.PendingReport, self.ModemEvent, self.RawReport, self.InboundSeen,
        )


def bind_tables(db: pw.SqliteDatabase) -> Tables:
    """A new set of model classes bound to ``db`` (and only to it)."""

    class _Base(pw.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Meta(_Base):
        key = pw.CharField(primary_key=True)
        value = pw.TextField()

    class Account(_Base):
        username = pw.CharField(unique=True)
        password_hash = pw.CharField()
        created_at = pw.FloatField()

    class Message(_Base):
        message_id = pw.CharField()
        account = pw.ForeignKeyField(Account, on_delete="CASCADE")
        bulk_id = pw.CharField(null=True, index=True)
        sender = pw.CharField(null=True)
        destination = pw.CharField()
        text = pw.TextField(null=True)
        data = pw.BlobField(null=True)
        encoding = pw.CharField(default="gsm7")
        sms_count = pw.IntegerField()
        state = pw.CharField(index=True)
        status_name = pw.CharField(null=True)  # a finer catalogue status than the state's default
        error_id = pw.IntegerField(default=0)
        concat_ref = pw.IntegerField(default=0)
        created_at = pw.FloatField(index=True)
        sent_at = pw.FloatField(null=True)
        done_at = pw.FloatField(null=True)
        expires_at = pw.FloatField()
        report_unread = pw.BooleanField(default=False)
        options = pw.TextField(default="{}")

        class Meta:
            indexes = ((("account", "message_id"), True), (("account", "report_unread"), False))

    class Part(_Base):
        message = pw.ForeignKeyField(Message, backref="parts", on_delete="CASCADE")
        seq = pw.IntegerField()
        total = pw.IntegerField()
        pdu = pw.TextField()
        tpdu_length = pw.IntegerField()
        state = pw.CharField(index=True)  # queued | sending | sent | delivered | failed | expired
        mr = pw.IntegerField(null=True)
        attempts = pw.IntegerField(default=0)
        next_attempt_at = pw.FloatField(index=True)
        sent_at = pw.FloatField(null=True)
        done_at = pw.FloatField(null=True)
        tp_status = pw.IntegerField(null=True)
        error = pw.TextField(null=True)

        class Meta:
            indexes = ((("state", "mr"), False),)

    class Inbound(_Base):
        message_id = pw.CharField(unique=True)
        sender = pw.CharField()
        receiver = pw.CharField(default="")
        text = pw.TextField(null=True)
        data = pw.BlobField(null=True)
        keyword = pw.CharField(null=True)
        clean_text = pw.TextField(null=True)
        sms_count = pw.IntegerField(default=1)
        complete = pw.BooleanField(default=True)
        received_at = pw.FloatField(index=True)

    class InboundRead(_Base):
        """Which account has pulled which inbound message (each is returned once per account)."""

        account = pw.ForeignKeyField(Account, on_delete="CASCADE")
        inbound = pw.ForeignKeyField(Inbound, on_delete="CASCADE")

        class Meta:
            indexes = ((("account", "inbound"), True),)

    class InboundPart(_Base):
        """A part of a concatenated inbound SMS waiting for its siblings."""

        sender = pw.CharField()
        ref = pw.IntegerField()
        ref_bits = pw.IntegerField()
        total = pw.IntegerField()
        seq = pw.IntegerField()
        text = pw.TextField(null=True)
        pdu = pw.TextField(null=True)  # the whole SMS-DELIVER, to join raw septets across parts
        data = pw.BlobField(null=True)
        received_at = pw.FloatField()
        dedup_key = pw.TextField(null=True)  # schema 3: becomes an InboundSeen key once assembled

        class Meta:
            indexes = ((("sender", "ref", "ref_bits", "total", "seq"), True),)

    class PendingReport(_Base):
        """A status report that arrived before its part was recorded as sent (fast networks race
        the dispatcher), kept until ``record_part_sent`` finds it or the match window passes."""

        suffix = pw.CharField()
        mr = pw.IntegerField()
        tp_status = pw.IntegerField()
        received_at = pw.FloatField(index=True)

        class Meta:
            indexes = ((("mr", "suffix"), False),)

    class ModemEvent(_Base):
        at = pw.FloatField(index=True)
        kind = pw.CharField()
        detail = pw.TextField(default="")

    class RawReport(_Base):
        """A status report that could not be decoded, kept as received (schema 2): the driver
        deletes it from the SIM once stored, so dropping it would lose it for good."""

        pdu = pw.TextField()
        reason = pw.TextField()
        received_at = pw.FloatField(index=True)

    class InboundSeen(_Base):
        """What was received and stored, by (originator, SCTS, reference, part, content), kept
        for the dedup window (schema 3): a network redelivery, or a crash between storing an
        SMS and ``AT+CMGD``, delivers the same part again after its message was stored."""

        key = pw.CharField(primary_key=True)
        seen_at = pw.FloatField(index=True)

    return Tables(
        database=db, Meta=Meta, Account=Account, Message=Message, Part=Part, Inbound=Inbound,
        InboundRead=InboundRead, InboundPart=InboundPart, PendingReport=PendingReport,
        ModemEvent=ModemEvent, RawReport=RawReport, InboundSeen=InboundSeen,
    )


def _to_v2(t: Tables) -> None:
    t.database.create_tables([t.RawReport])


def _to_v3(t: Tables) -> None:
    t.database.create_tables([t.InboundSeen])
    t.database.execute_sql('ALTER TABLE "inbound_part" ADD COLUMN "dedup_key" TEXT')


MIGRATIONS: dict[int, Callable[[Tables], None]] = {2: _to_v2, 3: _to_v3}
"""``MIGRATIONS[n]`` turns a version n-1 database into version n (run inside one transaction).
A fresh database is created at ``SCHEMA_VERSION`` directly; an existing one only ever changes
through these steps, so each is tested against a file the older version wrote."""
