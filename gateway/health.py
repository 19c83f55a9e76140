"""The gateway's health as values: what `/health`, `/health/ready`, `simgate status` and the
systemd STATUS= line are made from. Nothing here knows HTTP or a dialect's key spelling.

Why "ok" means exactly ``ModemState.READY``: it is the only state in which a queued message
can go out. The old check also accepted "sending" and "idle", which are not states the modem
has ever had, so it read like a wider test than it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Mapping, Protocol, Sequence

from gateway.clock import Clock
from gateway.modem.health import ModemHealth, ModemState

HEALTH_EVENTS = 10  # recent modem events shown by /health and `simgate status`


class HealthStatus(Enum):
    OK = "ok"              # the modem is READY: messages go out
    DEGRADED = "degraded"  # messages are accepted and queued, but none goes out now


@dataclass(frozen=True)
class ModemEventLine:
    at: datetime
    kind: str
    detail: str


@dataclass(frozen=True)
class Health:
    """The full report, for authenticated callers; ``summary`` is what anyone may see."""

    status: HealthStatus
    uptime_s: float
    queued_parts: int
    messages: Mapping[str, int] = field(default_factory=dict)
    modem: ModemHealth | None = None  # None: no modem attached (a CLI-only service)
    modem_events: tuple[ModemEventLine, ...] = ()  # newest first

    @property
    def ok(self) -> bool:
        return self.status is HealthStatus.OK

    @property
    def modem_state(self) -> str:
        return self.modem.state.value if self.modem is not None else "absent"


@dataclass(frozen=True)
class Readiness:
    """Ready to accept messages: the database answers and would take a write now. The modem is
    not asked: a gateway whose modem is down still accepts and queues, which is what load
    balancers and systemd should see. A database that reads but cannot write (read-only file,
    disk full, WAL replaced) is not ready: every send would be refused."""

    ready: bool
    reason: str = ""


class HealthSource(Protocol):
    """What a health report reads from the store; each call is one read, no transaction needed."""

    def queued_parts(self) -> int: ...

    def counts_by_state(self) -> Mapping[str, int]: ...

    def modem_events(self, limit: int = 50) -> Sequence[tuple[float, str, str]]: ...


class ReadinessSource(Protocol):
    """What readiness asks of the store: one read, and ``writable()`` (None, or why a write
    would fail now; bounded by the store's busy timeout)."""

    def queued_parts(self) -> int: ...

    def writable(self) -> str | None: ...


class ModemHealthView(Protocol):
    def health(self) -> ModemHealth: ...


def status_of(modem: ModemHealth | None) -> HealthStatus:
    return HealthStatus.OK if modem is not None and modem.state is ModemState.READY else HealthStatus.DEGRADED


def report(store: HealthSource, modem: ModemHealthView | None, *, clock: Clock,
           started_at: datetime, events: int = HEALTH_EVENTS) -> Health:
    state = modem.health() if modem is not None else None
    lines = tuple(ModemEventLine(datetime.fromtimestamp(at, timezone.utc), kind, detail)
                  for at, kind, detail in store.modem_events(events))
    return Health(
        status=status_of(state),
        uptime_s=round((clock.now() - started_at).total_seconds(), 1),
        queued_parts=store.queued_parts(),
        messages=dict(store.counts_by_state()),
        modem=state,
        modem_events=lines,
    )


def readiness(store: ReadinessSource) -> Readiness:
    try:
        store.queued_parts()
        problem = store.writable()
    except Exception as exc:  # noqa: BLE001 - any failure to read is "not ready", with its reason
        return Readiness(False, f"database: {exc}")
    if problem is not None:
        return Readiness(False, f"database not writable: {problem}")
    return Readiness(True)


def status_line(health: Health) -> str:
    """One line for systemd's STATUS=: the modem state and the queue."""
    return f"modem {health.modem_state}, {health.queued_parts} parts queued"


def plain(value: Any) -> Any:
    """A value of this module (dataclasses, Enums, datetimes) as JSON types, keys unchanged."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
