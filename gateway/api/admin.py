"""Operational routes on the root app: ``GET /health`` and ``GET /health/ready``.

Both answer without credentials, for probes and systemd: anonymously ``/health`` says only
whether messages go out and the modem's state; with valid Basic credentials it adds the queue,
message counts, the modem's identity (IMEI, IMSI, ICCID are nobody else's business) and its
recent events. Wrong credentials are a 401, not a silent downgrade, so a typo is noticed.

The service returns ``gateway.health`` values with snake_case fields; this module is where they
get the root app's spelling (camelCase, as the dialects use).

The root app is not a dialect, so its own refusals (an unknown top-level path) use a small neutral
JSON shape: ``{"error": {"status": 404, "text": "..."}}``.
"""
from __future__ import annotations

import logging
from dataclasses import fields, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Mapping

import bottle

from gateway.api.http import Reply, new_dialect_app, parse_basic_auth
from gateway.errors import ApiError
from gateway.health import Health
from gateway.service import Gateway

log = logging.getLogger(__name__)

CHALLENGE = {"WWW-Authenticate": 'Basic realm="simgate"'}
RENAMED = {"uptime_s": "uptime"}  # keys the body had before Health was a value


def render_error(status: int, text: str) -> Reply:
    return Reply({"error": {"status": status, "text": text}})


def camel(name: str) -> str:
    name = RENAMED.get(name, name)
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def rendered(value: Any) -> Any:
    """A health value as JSON types with the root app's key spelling."""
    if is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): rendered(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Mapping):
        return {str(k): rendered(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rendered(v) for v in value]
    return value


def health_body(report: Health, *, detailed: bool) -> dict[str, Any]:
    if not detailed:
        return {"status": report.status.value, "modem": {"state": report.modem_state}}
    body = rendered(report)
    body["modem"] = rendered(report.modem) if report.modem is not None else {"state": "absent"}
    return body


def build_root_app(gateway: Gateway) -> bottle.Bottle:
    """The root app: health here, dialects mounted on it by ``gateway.api.build_app``."""
    app = new_dialect_app(render_error, authenticate=None)

    def caller_is_authenticated() -> bool:
        header = bottle.request.get_header("Authorization")
        if not header:
            return False
        credentials = parse_basic_auth(header)
        account = gateway.authenticate(*credentials, bottle.request.environ.get("REMOTE_ADDR", "")) \
            if credentials else None
        if account is None:
            raise ApiError(401, "invalid username or password", CHALLENGE)
        return True

    def health() -> Reply:
        detailed = caller_is_authenticated()
        report = gateway.health()
        return Reply(health_body(report, detailed=detailed), "health", status=200 if report.ok else 503)

    def ready() -> Reply:
        answer = gateway.readiness()
        return Reply(rendered(answer), "ready", status=200 if answer.ready else 503)

    app.route("/health", "GET", health, name="admin.health")
    app.route("/health/ready", "GET", ready, name="admin.ready")
    return app
