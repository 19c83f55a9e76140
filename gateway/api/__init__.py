"""The HTTP layer: one root Bottle app, one mounted app per API dialect.

``build_app(gateway)`` is what ``cli.py`` serves with waitress. Adding a dialect is one line in
``DIALECTS``: a prefix and a factory ``(Gateway) -> bottle.Bottle`` built with
``gateway.api.http.new_dialect_app`` (which gives it auth, error shapes and rendering: a mounted
app does not inherit the root's plugins).
"""
from __future__ import annotations

from typing import Callable

import bottle

from gateway.api.admin import build_root_app
from gateway.api.http import mount_dialect
from gateway.api.infobip import build_infobip_app
from gateway.service import Gateway

DIALECTS: tuple[tuple[str, Callable[[Gateway], bottle.Bottle]], ...] = (
    ("/restapi", build_infobip_app),
)


def build_app(gateway: Gateway) -> bottle.Bottle:
    root = build_root_app(gateway)
    for prefix, factory in DIALECTS:
        mount_dialect(root, prefix, factory(gateway))
    return root


__all__ = ["DIALECTS", "build_app"]
