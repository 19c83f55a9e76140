"""HTTP plumbing every dialect shares: errors, auth, content negotiation, rendering, dates out.

Why shared: each dialect (Infobip-style, OneAPI, Ozeki...) differs in routes and shapes, but
they must all refuse bad input the same way (never a bottle HTML page, never a traceback, never
a 500 for a client's mistake). A dialect supplies only its error shape (``ErrorRenderer``);
``new_dialect_app`` installs the rest. Bottle does not hand a parent's plugins to a mounted app,
so every dialect app gets its own plugins here. Reading requests is ``gateway.api.parsing``.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from xml.etree import ElementTree

import bottle

from gateway.errors import ApiError, GatewayError, LoginBusyError, ModemError, NotFoundError, StoreError, ValidationError

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"
# Characters XML 1.0 cannot carry (an inbound SMS may hold any of them): shown as U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Reply:
    """What a route returns: a payload the plugin renders as JSON or XML.

    ``root`` names the XML document element; when it is None the payload must have exactly one
    key, which becomes the root in both renderings (e.g. ``{"requestError": {...}}``).
    """

    payload: Mapping[str, Any]
    root: str | None = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


ErrorRenderer = Callable[[int, str], Reply]


# --- rendering -------------------------------------------------------------------------------


def wants_xml(accept: str | None) -> bool:
    """True when the Accept header prefers application/xml (or text/xml) to JSON."""
    best_json, best_xml = 0.0, 0.0
    for item in (accept or "").split(","):
        kind, _, params = item.strip().partition(";")
        match = re.search(r"q=([0-9.]+)", params)
        try:
            quality = float(match.group(1)) if match else 1.0
        except ValueError:  # a malformed weight is ignored, as if absent
            quality = 1.0
        kind = kind.strip().lower()
        if kind in ("application/xml", "text/xml"):
            best_xml = max(best_xml, quality)
        elif kind in ("application/json", "application/*", "*/*"):
            best_json = max(best_json, quality)
    return best_xml > best_json


def _xml_element(parent: ElementTree.Element, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, (list, tuple)):
        wrapper = ElementTree.SubElement(parent, name)
        for item in value:
            _xml_element(wrapper, name, item)
        return
    node = ElementTree.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _xml_element(node, key, item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    else:
        node.text = _NOT_XML.sub("\ufffd", str(value))


def render_xml(root: str, payload: Mapping[str, Any]) -> bytes:
    """Lists become a wrapper element holding one element per item, both named like the list."""
    element = ElementTree.Element(root)
    for key, value in payload.items():
        _xml_element(element, key, value)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True)


def render(reply: Reply, accept: str | None) -> bottle.HTTPResponse:
    root, payload = reply.root, reply.payload
    if wants_xml(accept):
        if root is None:
            ((root, payload),) = payload.items()
        body, ctype = render_xml(root, payload), XML_TYPE
    else:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        ctype = JSON_TYPE
    headers = {"Content-Type": ctype, **reply.headers}
    return bottle.HTTPResponse(body=body, status=reply.status, headers=headers)


def format_date(moment: datetime | None) -> str | None:
    """``2015-02-12T09:51:43.123+0000``: the spec's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``, in UTC."""
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


# --- plugins and app construction -------------------------------------------------------------


def _describe_request() -> str:
    return f"{bottle.request.method} {bottle.request.fullpath}"


class ApiPlugin:
    """Outermost plugin: maps every error to the dialect's shape and renders replies.

    The one place per dialect where exceptions become HTTP statuses: a client's mistake is a
    4xx with a reason, a modem or database outage a 503, anything unexpected a generic 500 whose
    traceback goes only to the log.
    """

    name = "simgate-api"
    api = 2

    def __init__(self, errors: ErrorRenderer) -> None:
        self.errors = errors

    def error_reply(self, status: int, text: str,
                    headers: Mapping[str, str] | None = None) -> Reply:
        reply = self.errors(status, text)
        return Reply(reply.payload, reply.root, status, {**reply.headers, **(headers or {})})

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                out = callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except ApiError as exc:
                log.log(logging.WARNING if exc.status == 401 else logging.INFO,
                        "%d on %s: %s", exc.status, _describe_request(), exc.text)
                out = self.error_reply(exc.status, exc.text, exc.headers)
            except ValidationError as exc:
                log.info("400 on %s: %s", _describe_request(), exc)
                out = self.error_reply(400, str(exc))
            except NotFoundError as exc:
                out = self.error_reply(404, str(exc))
            except LoginBusyError as exc:  # before AuthError: not a 401, the login was unchecked
                log.warning("503 on %s: %s", _describe_request(), exc)
                out = self.error_reply(503, str(exc), {"Retry-After": "1"})
            except (ModemError, StoreError) as exc:
                log.warning("503 on %s: %s", _describe_request(), exc)
                out = self.error_reply(503, f"temporarily unavailable: {exc}")
            except Exception:
                log.exception("unexpected error on %s", _describe_request())
                out = self.error_reply(500, "internal error; the cause is in the gateway's log")
            if isinstance(out, Reply):
                return render(out, bottle.request.get_header("Accept"))
            return out

        return wrapper


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep and username else None


class BasicAuthPlugin:
    """HTTP Basic on every route not configured ``auth=False``; passes ``account=`` on."""

    name = "simgate-basic-auth"
    api = 2

    def __init__(self, authenticate: Callable[[str, str, str], Any], realm: str = "simgate") -> None:
        self.authenticate = authenticate
        self.challenge = {"WWW-Authenticate": f'Basic realm="{realm}"'}

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if route.config.get("auth") is False:
            return callback

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            credentials = parse_basic_auth(bottle.request.get_header("Authorization"))
            if credentials is None:
                raise ApiError(401, "HTTP Basic credentials are required", self.challenge)
            # REMOTE_ADDR, never X-Forwarded-For: the throttle key must not be client-chosen.
            account = self.authenticate(*credentials, bottle.request.environ.get("REMOTE_ADDR", ""))
            if account is None:
                raise ApiError(401, "invalid username or password", self.challenge)
            return callback(*args, account=account, **kwargs)

        return wrapper


def new_dialect_app(errors: ErrorRenderer,
                    authenticate: Callable[[str, str, str], Any] | None) -> bottle.Bottle:
    """A Bottle app whose every answer, bottle's own 404/405/500 included, has ``errors``' shape."""
    app = bottle.Bottle()
    app.uninstall(True)  # bottle's JSON and template plugins: we render ourselves
    api = ApiPlugin(errors)
    app.install(api)
    if authenticate is not None:
        app.install(BasicAuthPlugin(authenticate))

    def error_page(res: bottle.HTTPError) -> bytes:
        if res.status_code >= 500:
            log.error("%d on %s: %s\n%s", res.status_code, _describe_request(), res.body,
                      res.traceback or "")
            text = "internal error; the cause is in the gateway's log"
        else:
            log.info("%d on %s: %s", res.status_code, _describe_request(), res.body)
            texts = {404: f"no such resource: {_describe_request()}",
                     405: f"method {bottle.request.method} is not allowed here"}
            text = texts.get(res.status_code, str(res.body))
        out = render(api.error_reply(res.status_code, text), bottle.request.get_header("Accept"))
        for key, value in out.headerlist:
            bottle.response.set_header(key, value)
        return out.body  # type: ignore[no-any-return]

    app.default_error_handler = error_page  # type: ignore[method-assign]
    return app


def mount_dialect(root: bottle.Bottle, prefix: str, app: bottle.Bottle) -> None:
    """Mount ``app`` under ``prefix`` as a WSGI app, so it answers its own 404s and 405s."""
    root.mount(prefix.rstrip("/") + "/", app.wsgi)
