"""Operational routes on the root app: ``GET /health`` (no credentials, for probes and systemd).

The root app is not a dialect, so its own refusals (an unknown top-level path) use a small neutral
JSON shape: ``{"error": {"status": 404, "text": "..."}}``.
"""
from __future__ import annotations

import logging

import bottle

from gateway.api.http import Reply, new_dialect_app
from gateway.service import Gateway

log = logging.getLogger(__name__)


def render_error(status: int, text: str) -> Reply:
    return Reply({"error": {"status": status, "text": text}})


def build_root_app(gateway: Gateway) -> bottle.Bottle:
    """The root app: health here, dialects mounted on it by ``gateway.api.build_app``."""
    app = new_dialect_app(render_error, authenticate=None)

    def health() -> Reply:
        report = gateway.health()
        status = 200 if report.get("status") == "ok" else 503
        return Reply(report, "health", status=status)

    app.route("/health", "GET", health, name="admin.health")
    return app
