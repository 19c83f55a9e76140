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

from gateway.errors import (
    ApiError,
    DuplicateMessageIdError,
    FeatureUnavailableError,
    LoginBusyError,
    ModemError,
    NotFoundError,
    QuotaExceededError,
    StoreError,
    UnexpectedReplyError,
    ValidationError,
)
from gateway.logsafe import shown

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
# Reply -> HTTP answer for the request being served (a dialect with formats beyond JSON and XML,
# ServiceStack's JSV, brings its own; the default negotiates JSON/XML by Accept).
ReplyRenderer = Callable[[Reply], bottle.HTTPResponse]


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


def render_negotiated(reply: Reply) -> bottle.HTTPResponse:
    """The default ``ReplyRenderer``: JSON, or XML when the request's Accept prefers it."""
    return render(reply, bottle.request.get_header("Accept"))


def format_date(moment: datetime | None) -> str | None:
    """``2015-02-12T09:51:43.123+0000``: the spec's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``, in UTC."""
    if moment is None:
        return None
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


# --- plugins and app construction -------------------------------------------------------------


def _describe_request() -> str:
    return f"{bottle.request.method} {bottle.request.fullpath}"


@dataclass(frozen=True)
class ErrorRule:
    """One row of a dialect's exception -> HTTP table: the first row whose ``kind`` matches wins.

    ``level`` is how loudly the refusal is logged (a client's mistake is INFO, an outage a
    WARNING); ``headers`` go with the answer (``Retry-After`` on 503s a client should retry).
    """

    kind: type[BaseException]
    status: int
    level: int = logging.INFO
    headers: Mapping[str, str] = field(default_factory=dict)


# The table every dialect starts from. Order matters: a subclass before its base.
COMMON_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(ValidationError, 400),
    ErrorRule(DuplicateMessageIdError, 400),
    ErrorRule(NotFoundError, 404),
    ErrorRule(QuotaExceededError, 429, logging.INFO, {"Retry-After": "60"}),
    # Not a 401: the credentials may be right, the check was not run; a client told "wrong
    # password" would stop, one told 503 with Retry-After retries.
    ErrorRule(LoginBusyError, 503, logging.WARNING, {"Retry-After": "1"}),
    ErrorRule(FeatureUnavailableError, 501),
    # The modem answered, but not what the network promises: the upstream is at fault.
    ErrorRule(UnexpectedReplyError, 502, logging.WARNING),
    ErrorRule(ModemError, 503, logging.WARNING, {"Retry-After": "30"}),
    ErrorRule(StoreError, 503, logging.WARNING, {"Retry-After": "5"}),
)

INTERNAL_ERROR_TEXT = "internal error; the cause is in the gateway's log"


class ApiPlugin:
    """Outermost plugin: maps every error to the dialect's shape and renders replies.

    The one place per dialect where exceptions become HTTP statuses, by the dialect's
    ``ErrorRule`` table: a client's mistake is a 4xx with a reason, a modem or database outage a
    503, anything unexpected a generic 500 whose traceback goes only to the log. Routes raise;
    they never pick a status for a domain error themselves.
    """

    name = "simgate-api"
    api = 2

    def __init__(self, errors: ErrorRenderer, table: tuple[ErrorRule, ...] = COMMON_ERRORS,
                 renderer: ReplyRenderer = render_negotiated) -> None:
        self.errors = errors
        self.table = table
        self.renderer = renderer

    def error_reply(self, status: int, text: str,
                    headers: Mapping[str, str] | None = None) -> Reply:
        reply = self.errors(status, text)
        return Reply(reply.payload, reply.root, status, {**reply.headers, **(headers or {})})

    def reply_for(self, exc: Exception) -> Reply:
        """The answer for an exception a route raised, logged once, bounded."""
        if isinstance(exc, ApiError):
            level = logging.WARNING if exc.status in (401, 503) else logging.INFO
            log.log(level, "%d on %s: %s", exc.status, _describe_request(), shown(exc.text, 300))
            return self.error_reply(exc.status, exc.text, exc.headers)
        for rule in self.table:
            if isinstance(exc, rule.kind):
                log.log(rule.level, "%d on %s: %s", rule.status, _describe_request(),
                        shown(str(exc), 300))
                text = str(exc)
                if rule.status == 503 and not isinstance(exc, LoginBusyError):
                    text = f"temporarily unavailable: {text}"
                return self.error_reply(rule.status, text, rule.headers)
        log.error("unexpected error on %s", _describe_request(), exc_info=exc)
        return self.error_reply(500, INTERNAL_ERROR_TEXT)

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                out = callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except Exception as exc:
                out = self.reply_for(exc)
            if isinstance(out, Reply):
                return self.renderer(out)
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
                    authenticate: Callable[[str, str, str], Any] | None,
                    table: tuple[ErrorRule, ...] = COMMON_ERRORS,
                    renderer: ReplyRenderer = render_negotiated) -> bottle.Bottle:
    """A Bottle app whose every answer, bottle's own 404/405/500 included, has ``errors``' shape."""
    app = bottle.Bottle()
    app.uninstall(True)  # bottle's JSON and template plugins: we render ourselves
    api = ApiPlugin(errors, table, renderer)
    app.install(api)
    if authenticate is not None:
        app.install(BasicAuthPlugin(authenticate))

    def error_page(res: bottle.HTTPError) -> bytes:
        if res.status_code >= 500:
            log.error("%d on %s: %s\n%s", res.status_code, _describe_request(), res.body,
                      res.traceback or "")
            text = INTERNAL_ERROR_TEXT
        else:
            log.info("%d on %s: %s", res.status_code, _describe_request(), res.body)
            texts = {404: f"no such resource: {_describe_request()}",
                     405: f"method {bottle.request.method} is not allowed here"}
            text = texts.get(res.status_code, str(res.body))
        out = api.renderer(api.error_reply(res.status_code, text))
        for key, value in out.headerlist:
            bottle.response.set_header(key, value)
        return out.body  # type: ignore[no-any-return]

    app.default_error_handler = error_page  # type: ignore[method-assign]
    return app


MOUNTS_KEY = "simgate.dialects"  # root.config: ((prefix, ApiPlugin), ...) of mounted dialects


def mount_dialect(root: bottle.Bottle, prefix: str, app: bottle.Bottle) -> None:
    """Mount ``app`` under ``prefix`` as a WSGI app, so it answers its own 404s and 405s.

    The prefix and the dialect's error shape are recorded on ``root`` so that answers the HTTP
    server writes itself (a body over the cap, broken chunking: ``gateway.api.server``) have
    the shape of the dialect the request was for.
    """
    root.mount(prefix.rstrip("/") + "/", _pep3333_path(app))
    plugin = api_plugin(app)
    if plugin is not None:
        root.config[MOUNTS_KEY] = (*root.config.get(MOUNTS_KEY, ()),
                                   (prefix.rstrip("/") + "/", plugin))


def _pep3333_path(app: bottle.Bottle) -> Callable[..., Any]:
    """``app.wsgi`` given PATH_INFO as PEP 3333 has it (UTF-8 bytes as latin-1 characters).

    The parent Bottle hands a mounted app PATH_INFO already decoded from UTF-8, and the mounted
    app decodes it again: ``/restapi/%E2%80%A8`` (U+2028) was a 500 (latin-1 cannot encode it)
    and ``/restapi/%C3%A9`` lost its ``é``. Re-encoded here, each app decodes it once.
    """

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        decoded = environ.get("PATH_INFO", "")
        environ["PATH_INFO"] = decoded.encode("utf-8", "surrogateescape").decode("latin-1")
        try:
            return app.wsgi(environ, start_response)
        finally:
            environ["PATH_INFO"] = decoded

    return wsgi


def api_plugin(app: bottle.Bottle) -> ApiPlugin | None:
    """The ``ApiPlugin`` ``new_dialect_app`` installed on ``app`` (None on a plain Bottle app)."""
    return next((p for p in app.plugins if isinstance(p, ApiPlugin)), None)


def error_shape_for(root: bottle.Bottle, path: str) -> ApiPlugin | None:
    """The error shape of the dialect mounted at the longest prefix of ``path``, else the root's."""
    best: tuple[int, ApiPlugin] | None = None
    for prefix, plugin in root.config.get(MOUNTS_KEY, ()):
        if (path.startswith(prefix) or path == prefix.rstrip("/")) and (
                best is None or len(prefix) > best[0]):
            best = (len(prefix), plugin)
    return best[1] if best is not None else api_plugin(root)
