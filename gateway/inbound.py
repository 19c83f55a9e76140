"""Inbound SMS: decode, reassemble concatenated parts, split the keyword, store.

Parts are stored as they arrive (the driver deletes them from the SIM only after we return), so a
restart in the middle of a long message loses nothing. A message whose parts do not all arrive is
delivered with what came after ``inbound.reassembly_timeout``, marked incomplete.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Sequence

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import InboundConfig
from gateway.errors import PduError
from gateway.logsafe import NumberPolicy
from gateway.sms import Deliver, decode_pdu, reassemble_text
from gateway.store import InboundRecord, StoredInboundPart
from gateway.store.protocol import InboundStorage

log = logging.getLogger(__name__)

MISSING_MARK = "\u2026"  # where a missing part's text would have been


def split_keyword(text: str | None, keywords: Sequence[str]) -> tuple[str | None, str | None]:
    """First word (upper-cased) is the keyword; the rest is the clean text (spec "cleanText")."""
    if not text:
        return None, text
    words = text.lstrip().split(None, 1)
    if not words:
        return None, text
    first = words[0].upper()
    if keywords and first not in {k.upper() for k in keywords}:
        return None, text
    return first, words[1] if len(words) > 1 else ""


class InboundHandler:
    def __init__(self, store: InboundStorage, config: InboundConfig, *, receiver: str = "", clock: Clock = SYSTEM_CLOCK,
                 numbers: NumberPolicy = NumberPolicy()) -> None:
        self.store = store
        self._number = numbers  # senders in log lines (log.numbers)
        self.config = config
        self.receiver = receiver.lstrip("+")
        self.clock = clock

    def handle_pdu(self, pdu: str) -> InboundRecord | None:
        try:
            sms = decode_pdu(pdu)
        except PduError as exc:
            # Stored anyway (as hex) so nothing the network delivered is dropped silently.
            log.error("undecodable inbound PDU kept as raw data: %s", exc)
            return self._store(sender="unknown", text=None, data=_raw_bytes(pdu), parts=1, complete=False)
        if not isinstance(sms, Deliver):
            log.error("expected an SMS-DELIVER, got %s; ignored", type(sms).__name__)
            return None
        return self.handle(sms, pdu)

    def handle(self, sms: Deliver, pdu: str | None = None) -> InboundRecord | None:
        """Store the SMS (or its part); None when nothing new is complete, including when it
        was received before (a redelivery is dropped here and deleted from the SIM)."""
        sender = sms.sender.number
        key = dedup_key(sms)
        if sms.concat is None or sms.concat.total <= 1:
            rec = self._store(sender=sender, text=sms.text, data=sms.data, parts=1, complete=True, key=key)
            if rec is None:
                log.warning("inbound SMS from %s (SCTS %s) received again: already stored, dropped",
                            self._number(sender), sms.timestamp.isoformat())
            return rec
        c = sms.concat
        now = self.clock.now().timestamp()
        parts = self.store.add_inbound_part(sender, c.ref, c.ref_bits, c.total, c.seq, sms.text, sms.data, now, pdu,
                                            dedup_key=key)
        if not parts:
            log.warning("inbound part %d/%d (ref %d) from %s received again after its message was stored: dropped",
                        c.seq, c.total, c.ref, self._number(sender))
            return None
        log.info("inbound part %d/%d (ref %d) from %s", c.seq, c.total, c.ref, self._number(sender))
        if len(parts) < c.total:
            return None
        return self._assemble((sender, c.ref, c.ref_bits, c.total), parts, complete=True)

    def flush_stale(self) -> list[InboundRecord]:
        """Deliver long messages whose missing parts did not come in time."""
        cutoff = self.clock.now().timestamp() - self.config.reassembly_timeout
        done = []
        for group in self.store.stale_inbound_groups(cutoff):
            parts = self.store.inbound_group_parts(group)
            if parts:
                log.warning("inbound message from %s (ref %d) incomplete: %d of %d parts", self._number(group[0]), group[1], len(parts), group[3])
                done.append(self._assemble(group, parts, complete=False))
        return done

    def _assemble(
        self, group: tuple[str, int, int, int], parts: list[StoredInboundPart], complete: bool
    ) -> InboundRecord | None:
        by_seq = {p.seq: p for p in parts}
        total = group[3]
        if all(p.data is not None and p.text is None for p in parts):
            data = b"".join(by_seq[i].data or b"" for i in range(1, total + 1) if i in by_seq)
            return self._store(group[0], None, data, total, complete, consumed=[group])
        if complete and all(p.pdu for p in parts):
            # Join the raw septets / UTF-16 units: an ESC pair or a surrogate pair that the sender
            # split across two parts comes out whole.
            text = reassemble_text([decode_pdu(p.pdu) for p in parts])  # type: ignore[misc, arg-type]
        else:
            text = "".join((by_seq[i].text or "") if i in by_seq else MISSING_MARK for i in range(1, total + 1))
        return self._store(group[0], text, None, total, complete, consumed=[group])

    def _store(
        self,
        sender: str,
        text: str | None,
        data: bytes | None,
        parts: int,
        complete: bool,
        consumed: Sequence[tuple[str, int, int, int]] = (),
        key: str | None = None,
    ) -> InboundRecord | None:
        keyword, clean = split_keyword(text, self.config.keywords)
        rec = self.store.insert_inbound(
            message_id=str(uuid.uuid4()),
            sender=sender,
            receiver=self.receiver,
            text=text,
            data=data,
            keyword=keyword,
            clean_text=clean,
            sms_count=parts,
            complete=complete,
            received_at=self.clock.now().timestamp(),
            consumed_parts=consumed,
            dedup_key=key,
        )
        if rec is None:
            return None
        log.info("inbound message %s from %s stored (%d parts%s)", rec.message_id, self._number(sender), parts, "" if complete else ", incomplete")
        return rec


def dedup_key(sms: Deliver) -> str:
    """What identifies one received SMS or part across deliveries: originator, SCTS (the SC's
    own time stamp, kept on redelivery), concatenation reference and part, and the content
    (TP-UD as on the wire), so two different texts sent in the same second never collide."""
    c = sms.concat
    ident = "\x1f".join((
        sms.sender.number, sms.timestamp.isoformat(),
        f"{c.ref}/{c.ref_bits}/{c.total}/{c.seq}" if c is not None else "-",
        sms.user_data.hex(), sms.text or "", (sms.data or b"").hex(),
    ))
    return hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _raw_bytes(pdu: str) -> bytes:
    """The PDU's octets when it is hex, else its text as received."""
    try:
        return bytes.fromhex(pdu)
    except ValueError:
        return pdu.encode("utf-8", "replace")
