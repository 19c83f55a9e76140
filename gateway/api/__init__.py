"""The HTTP layer: one root Bottle app, one mounted app per API dialect.

``build_app(gateway)`` is what ``cli.py`` serves with waitress. Adding a dialect is one line in
``DIALECTS``: a prefix and a factory ``(Gateway) -> bottle.Bottle`` built with
``gateway.api.http.new_dialect_app`` (which gives it auth, error shapes and rendering: a mounted
app does not inherit the root's plugins). A dialect app whose ``config`` has
``simgate.case_insensitive`` (ServiceStack's) is also found under its prefix in any case.
"""
from __future__ import annotations

from typing import Callable

import bottle

from gateway.api.admin import build_root_app
from gateway.api.http import mount_dialect
from gateway.api.infobip import build_infobip_app
from gateway.api.oneapi import build_gsma_app, build_oneapi_app
from gateway.api.ozeki import install_ozeki
from gateway.api.servicestack import (
    build_json_reply_app,
    build_jsv_reply_app,
    build_servicestack_app,
)
from gateway.service import Gateway

DIALECTS: tuple[tuple[str, Callable[[Gateway], bottle.Bottle]], ...] = (
    ("/restapi", build_infobip_app),
    ("/api", build_servicestack_app),
    ("/json/reply", build_json_reply_app),
    ("/jsv/reply", build_jsv_reply_app),
    ("/oneapi/sms/1", build_oneapi_app),
    ("/1/smsmessaging", build_gsma_app),
)


def _fold_prefixes(prefixes: tuple[str, ...]) -> Callable[[], None]:
    """A root before_request hook: ``/API/SendMessage`` reaches the ``/api`` mount, ``/API``
    Ozeki's ``/api``."""

    def hook() -> None:
        environ = bottle.request.environ
        path = environ.get("PATH_INFO", "")
        folded = path.lower()
        if folded in prefixes:
            environ["PATH_INFO"] = folded
            return
        for prefix in prefixes:
            if folded.startswith(prefix + "/") and not path.startswith(prefix + "/"):
                environ["PATH_INFO"] = prefix + path[len(prefix):]
                return

    return hook


def build_app(gateway: Gateway) -> bottle.Bottle:
    root = build_root_app(gateway)
    install_ozeki(root, gateway)  # on "/" and "/api": the root app's own routes
    folded: list[str] = []
    for prefix, factory in DIALECTS:
        app = factory(gateway)
        mount_dialect(root, prefix, app)
        if app.config.get("simgate.case_insensitive"):
            folded.append(prefix.lower())
    root.add_hook("before_request", _fold_prefixes(tuple(folded)))
    return root


__all__ = ["DIALECTS", "build_app"]
