"""The outbound message lifecycle: its states, its outcomes and every rule that moves a message.

Why one module: a message's state, the catalogue status it shows and its error used to be chosen
in four places (store, dispatcher, service, reports), so two layers could disagree about the same
event. Here every rule is a pure function of values, with no SQLite and no clock: the store calls
them inside the writer's transaction and persists the ``Outcome`` they return; the dispatcher and
the service ask them instead of naming statuses. ``Outcome`` values are built only from the
named catalogue entries in ``gateway.statuses`` (nothing else spells a status name or error id).
docs/statuses.md is the prose of this module; tests/test_lifecycle.py is its table.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Sequence

from gateway import statuses as cat
from gateway.statuses import ErrorInfo, Status, error_by_id, error_for_tp_status

# Seconds a status report may trail its send: TP-MR is one octet and wraps every 256 sends, so an
# older part with the same TP-MR is only a candidate within this bound.
REPORT_WINDOW = 3 * 24 * 3600.0
# A send's longest wait (AT+CMGS with its retries): how far a report may outrun the recording of
# its own send, and how long before its recording an in-doubt send may have reached the network.
IN_DOUBT_WINDOW = 600.0
# Seconds after the validity period before a missing report is given up: by then the SC itself
# has stopped trying, so the honest status is that the operator took the message.
REPORT_GRACE = 3600.0
# National and international forms of one number share their last digits (a report's recipient
# is often in the other form than the number we sent to).
SUFFIX_DIGITS = 9


class PartState(str, Enum):
    """One PDU of a message. ``sending`` is the in-doubt state: claimed, outcome not recorded."""

    QUEUED = "queued"  # waiting for its turn (or its retry time)
    SENDING = "sending"  # handed to the modem; after a crash nobody knows whether it went out
    SENT = "sent"  # the modem answered +CMGS (TP-MR kept) or the send was assumed sent (no TP-MR)
    DELIVERED = "delivered"  # its status report said "received by SME"
    FAILED = "failed"  # refused, given up, or reported undeliverable
    EXPIRED = "expired"  # its message's validity ended first

    @property
    def unsent(self) -> bool:
        """Still ours to send: a message with such a part is not settled yet."""
        return self in (PartState.QUEUED, PartState.SENDING)


class MessageState(str, Enum):
    """Internal lifecycle of an outbound message (DESIGN.md "Message lifecycle")."""

    ACCEPTED = "accepted"  # stored, answered 200, parts queued
    SENDING = "sending"  # a part is being handed to the modem (in doubt after a crash)
    SENT = "sent"  # every part has a TP-MR, waiting for status reports
    SENT_NO_REPORT = "sent_no_report"  # every part sent, no status report requested (or it never came)
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset(
    {
        MessageState.SENT_NO_REPORT,
        MessageState.DELIVERED,
        MessageState.UNDELIVERABLE,
        MessageState.EXPIRED,
        MessageState.REJECTED,
    }
)
_FAILED = frozenset({MessageState.UNDELIVERABLE, MessageState.EXPIRED, MessageState.REJECTED})
FINAL_STATES: tuple[MessageState, ...] = tuple(s for s in MessageState if s.final)
OPEN_STATES: tuple[MessageState, ...] = tuple(s for s in MessageState if not s.final)

# The catalogue status each state shows unless its Outcome records a finer one
# (UNDELIVERABLE_REJECTED_OPERATOR after a permanent +CMS, REJECTED_MESSAGE_TOO_LONG...).
STATE_STATUS: dict[MessageState, Status] = {
    MessageState.ACCEPTED: cat.PENDING_ENROUTE,
    MessageState.SENDING: cat.PENDING_ENROUTE,
    MessageState.SENT: cat.PENDING_WAITING_DELIVERY,
    MessageState.SENT_NO_REPORT: cat.DELIVERED_TO_OPERATOR,
    MessageState.DELIVERED: cat.DELIVERED_TO_HANDSET,
    MessageState.UNDELIVERABLE: cat.UNDELIVERABLE_NOT_DELIVERED,
    MessageState.EXPIRED: cat.EXPIRED_EXPIRED,
    MessageState.REJECTED: cat.REJECTED_SYSTEM_ERROR,
}
# Which status groups a state may show: an Outcome outside its group is a bug, refused at once.
_STATE_GROUP: dict[MessageState, str] = {s: st.group_name for s, st in STATE_STATUS.items()}


class InDoubtPolicy(str, Enum):
    """What becomes of a part whose AT+CMGS outcome is unknown (``sending.in_doubt``; the
    config reads the same strings as ever and hands this Enum on)."""

    ASSUME_SENT = "assume_sent"  # never risks a duplicate (its report may still prove it)
    RESEND = "resend"  # never risks a loss (the recipient may get it twice)


class RejectReason(Enum):
    """Why a message was refused before anything was queued."""

    MESSAGE_TOO_LONG = "message_too_long"
    DUPLICATE_MESSAGE_ID = "duplicate_message_id"


_REJECT_STATUS: dict[RejectReason, Status] = {
    RejectReason.MESSAGE_TOO_LONG: cat.REJECTED_MESSAGE_TOO_LONG,
    RejectReason.DUPLICATE_MESSAGE_ID: cat.REJECTED_DUPLICATE_MESSAGE_ID,
}


@dataclass(frozen=True)
class Outcome:
    """Where a message stands: its state, the catalogue status it shows and its error.

    Built only from catalogue entries; a status outside the state's group is refused, so a row
    can never say ``delivered`` and show UNDELIVERABLE_*.
    """

    state: MessageState
    status: Status
    error: ErrorInfo = cat.NO_ERROR

    def __post_init__(self) -> None:
        if cat.STATUSES.get(self.status.name) != self.status:
            raise ValueError(f"{self.status.name}: not a catalogue status")
        if error_by_id(self.error.id) != self.error:
            raise ValueError(f"error {self.error.id}: not a catalogue error")
        if self.status.group_name != _STATE_GROUP[self.state]:
            raise ValueError(f"state {self.state.value} cannot show {self.status.name}")

    @property
    def final(self) -> bool:
        return self.state.final

    @property
    def status_name(self) -> str | None:
        """The status to persist. A message that ended undelivered names its status in its row
        (what reports and logs are asked about); on the way to delivery the state's own status
        is implied (None), so old rows and a bare state change read the same."""
        if self.state in _FAILED or self.status != STATE_STATUS[self.state]:
            return self.status.name
        return None

    @property
    def error_id(self) -> int:
        return self.error.id


def outcome_of(state: MessageState, status_name: str | None, error_id: int) -> Outcome:
    """Read a persisted Outcome back (the inverse of ``status_name``/``error_id``)."""
    status = cat.STATUSES[status_name] if status_name else STATE_STATUS[state]
    return Outcome(state, status, error_by_id(error_id) if error_id else cat.NO_ERROR)


def states_in_group(group_name: str) -> tuple[MessageState, ...]:
    """The states whose messages show a status of this catalogue group (exact, because an
    Outcome never leaves its state's group). ACCEPTED: none, it exists only in send answers."""
    return tuple(s for s in MessageState if _STATE_GROUP[s] == group_name)


def submit_status(outcome: Outcome) -> Status:
    """The status a send answer shows: MESSAGE_ACCEPTED for what was queued (the spec's
    ACCEPTED group exists only in that answer), the rejection for what was not."""
    return cat.MESSAGE_ACCEPTED if outcome.state is MessageState.ACCEPTED else outcome.status


# ---- transitions ----

def accepted() -> Outcome:
    return Outcome(MessageState.ACCEPTED, STATE_STATUS[MessageState.ACCEPTED])


def sending() -> Outcome:
    """A part of the message was claimed for the modem."""
    return Outcome(MessageState.SENDING, STATE_STATUS[MessageState.SENDING])


def rejected(reason: RejectReason) -> Outcome:
    return Outcome(MessageState.REJECTED, _REJECT_STATUS[reason])


def refused(*, permanent: bool, error_id: int) -> Outcome:
    """The modem refused a part for good (``permanent``: the network said so), or it failed
    transiently ``sending.max_attempts`` times. ``error_id`` comes from the +CMS table."""
    status = cat.UNDELIVERABLE_REJECTED_OPERATOR if permanent else cat.UNDELIVERABLE_NOT_DELIVERED
    return Outcome(MessageState.UNDELIVERABLE, status, error_by_id(error_id))


def unknown_error() -> ErrorInfo:
    """The error of a refusal no table explains (a bare ``ERROR``)."""
    return cat.EC_UNKNOWN_ERROR


def expired() -> Outcome:
    """The validity period ended before the message could be sent."""
    return Outcome(MessageState.EXPIRED, cat.EXPIRED_EXPIRED, cat.EC_VALIDITY_EXPIRED)


def report_overdue() -> Outcome:
    """Sent, but the report never came and the SC has given up: the operator took it."""
    return Outcome(MessageState.SENT_NO_REPORT, STATE_STATUS[MessageState.SENT_NO_REPORT])


def delivered() -> Outcome:
    return Outcome(MessageState.DELIVERED, STATE_STATUS[MessageState.DELIVERED])


def settle(parts: Iterable[PartState], *, status_report: bool) -> Outcome | None:
    """A message's state recomputed from its parts' (of a message not final yet).

    None while a part is still unsent: the message keeps its state.
    """
    states = list(parts)
    if any(p.unsent for p in states):
        return None
    if states and all(p is PartState.DELIVERED for p in states):
        return delivered()
    if not status_report:
        return Outcome(MessageState.SENT_NO_REPORT, STATE_STATUS[MessageState.SENT_NO_REPORT])
    return Outcome(MessageState.SENT, STATE_STATUS[MessageState.SENT])


def part_state_for(outcome: Outcome) -> PartState:
    """What the unfinished parts of a message that ended with ``outcome`` become."""
    return PartState.EXPIRED if outcome.state is MessageState.EXPIRED else PartState.FAILED


def in_doubt(policy: InDoubtPolicy) -> PartState:
    """What a part whose send outcome is unknown becomes (at once, or after a crash)."""
    return PartState.QUEUED if policy is InDoubtPolicy.RESEND else PartState.SENT


@dataclass(frozen=True)
class ReportEffect:
    """What one status report does: the part's new state, and a final Outcome for the whole
    message when the report ends it (None: settle the message from its parts)."""

    part: PartState
    message: Outcome | None = None


def report(tp_status: int) -> ReportEffect:
    """TS 23.040 9.2.3.15 TP-Status: 0x00-0x1F completed, 0x20-0x3F the SC is still trying
    (noted, nothing changes), 0x40 and up the SC gave up (0x46: the validity period ended)."""
    if tp_status <= 0x1F:
        return ReportEffect(PartState.DELIVERED)
    if tp_status <= 0x3F:
        return ReportEffect(PartState.SENT)
    error = error_for_tp_status(tp_status)
    if tp_status == 0x46:
        return ReportEffect(PartState.EXPIRED, Outcome(MessageState.EXPIRED, cat.EXPIRED_EXPIRED, error))
    return ReportEffect(PartState.FAILED, Outcome(MessageState.UNDELIVERABLE, cat.UNDELIVERABLE_NOT_DELIVERED, error))


# ---- expiry ----

def expiry_cutoffs(now: float) -> dict[MessageState, float]:
    """For each state that can lapse, the ``expires_at`` at or before which it lapses now.

    The store selects candidates with these (a query the index serves) and ``lapse`` decides.
    """
    return {
        MessageState.ACCEPTED: now,
        MessageState.SENDING: now,
        MessageState.SENT: now - REPORT_GRACE,
    }


def lapse(state: MessageState, expires_at: float, now: float) -> Outcome | None:
    """What time alone does to a message: unsent past its validity -> EXPIRED_EXPIRED; sent and
    still without its report past validity + grace -> DELIVERED_TO_OPERATOR; else None."""
    cutoff = expiry_cutoffs(now).get(state)
    if cutoff is None or expires_at > cutoff:
        return None
    return expired() if state is not MessageState.SENT else report_overdue()


# ---- status report matching ----

def number_suffix(number: str) -> str:
    digits = "".join(c for c in number if c.isdigit())
    return digits[-SUFFIX_DIGITS:] if digits else number


@dataclass(frozen=True)
class ReportCandidate:
    """A part a status report for its recipient might be about (``sent`` or still ``sending``)."""

    part_id: int
    state: PartState
    mr: int | None  # None: sent in doubt (or not sent yet)
    sent_at: float | None  # when its send was recorded; None while sending
    expires_at: float  # its message's validity end

    def could_own(self, received_at: float) -> bool:
        """The part's send had begun when the report came (a stale held report is not taken
        by a part sent long after it)."""
        return self.sent_at is not None and self.sent_at - IN_DOUBT_WINDOW <= received_at


def match_report(mr: int, received_at: float, candidates: Sequence[ReportCandidate]) -> int | None:
    """The part a report with TP-MR ``mr`` belongs to, or None: hold it pending.

    1. The newest sent part with this TP-MR within ``REPORT_WINDOW`` (TP-MR wraps every 256).
    2. While a part to this number is still ``sending`` its TP-MR is not known yet: the report
       may be its own, so it is held until that part's send is recorded (issue 9 item 4: an
       older in-doubt part took a racing report and the real owner stayed pending).
    3. Else the newest in-doubt part (sent, no TP-MR) whose own window holds the report: from its
       send until the SC gives up on it (validity + grace), not a flat three days.
    """
    sent = [c for c in candidates if c.state is PartState.SENT and c.could_own(received_at)]
    by_mr = [c for c in sent if c.mr == mr and c.sent_at >= received_at - REPORT_WINDOW]  # type: ignore[operator]
    if by_mr:
        return _newest(by_mr).part_id
    if any(c.state is PartState.SENDING for c in candidates):
        return None
    doubtful = [c for c in sent if c.mr is None and received_at <= c.expires_at + REPORT_GRACE]
    return _newest(doubtful).part_id if doubtful else None


def _newest(candidates: Sequence[ReportCandidate]) -> ReportCandidate:
    return max(candidates, key=lambda c: (c.sent_at or 0.0, c.part_id))


def pending_lapsed(received_at: float, now: float) -> bool:
    """A held report no part can own any more: dropped."""
    return received_at < now - REPORT_WINDOW
