"""HTTP plumbing every dialect shares: auth, bodies, errors, content negotiation, dates.

Why one module: each dialect (Infobip-style, OneAPI, Ozeki...) differs in routes and shapes,
but they must all refuse the same bad input the same way (never a bottle HTML page, never a
traceback, never a 500 for a client's mistake). A dialect supplies only its error shape
(``ErrorRenderer``); ``new_dialect_app`` installs the rest. Bottle does not hand a parent's
plugins to a mounted app, so every dialect app gets its own plugins here.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping
from xml.etree import ElementTree

import bottle

from gateway.errors import GatewayError, ModemError, NotFoundError, StoreError, ValidationError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "application/xml; charset=utf-8"

class ApiError(GatewayError):
    """An HTTP-level refusal with the status to answer and a reason a client can act on."""

    def __init__(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = dict(headers or {})


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
        node.text = str(value)


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


# --- request bodies --------------------------------------------------------------------------


def read_body(environ: Mapping[str, Any], limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading them."""
    raw_length = environ.get("CONTENT_LENGTH") or ""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if raw_length.strip():
        try:
            length = int(raw_length)
        except ValueError:
            raise ApiError(400, "Content-Length is not a number") from None
        if length > limit:
            raise ApiError(413, f"request body too large: {length} bytes, at most {limit}")
        data = stream.read(length) if length > 0 else b""
    elif environ.get("wsgi.input_terminated"):
        data = stream.read(limit + 1)
    else:  # PEP 3333: without a length there is no body to read
        return b""
    if len(data) > limit:
        raise ApiError(413, f"request body too large: more than {limit} bytes")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _xml_to_value(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == element.tag for child in children):  # <to><to>a</to><to>b</to></to>
        return [_xml_to_value(child) for child in children]
    result: dict[str, Any] = {}
    for child in children:
        value = _xml_to_value(child)
        if child.tag in result:
            previous = result[child.tag]
            result[child.tag] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            result[child.tag] = value
    return result


def parse_body(environ: Mapping[str, Any], limit: int = MAX_BODY_BYTES) -> tuple[Any, bool]:
    """Decode a JSON or XML request body; returns ``(value, from_xml)``.

    XML carries no types, so callers treat its values leniently (see ``Fields``).
    """
    ctype = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/xml", "text/xml"):
        shown = ctype or "none"
        raise ApiError(415, f"Content-Type must be application/json or application/xml, not {shown}")
    raw = read_body(environ, limit)
    if not raw.strip():
        raise ApiError(400, "the request body is empty")
    if ctype == "application/json":
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant), False
        except UnicodeDecodeError:
            raise ApiError(400, "the request body is not UTF-8") from None
        except RecursionError:
            raise ApiError(400, "the JSON body is nested too deeply") from None
        except ValueError as exc:
            raise ApiError(400, f"malformed JSON: {exc}") from None
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise ApiError(400, "XML bodies with a DOCTYPE or entities are refused")
    try:
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError as exc:
        raise ApiError(400, f"malformed XML: {exc}") from None
    value = _xml_to_value(root)
    return (value if isinstance(value, dict) else {}), True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """Typed access to one request object; every error names the field by its full path."""

    def __init__(self, data: Any, path: str = "", *, xml: bool = False) -> None:
        if not isinstance(data, dict):
            raise ApiError(400, f"{path or 'the request body'} must be an object")
        self.data = data
        self.path = path
        self.xml = xml

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def present(self, key: str) -> bool:
        return self.data.get(key) not in (None, "") if self.xml else self.data.get(key) is not None

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None or (self.xml and value == "" and not required):
            if required:
                raise ApiError(400, f"{self.name(key)}: required")
            return None
        if not isinstance(value, str):
            raise ApiError(400, f"{self.name(key)}: must be a string, not {_short(value)}")
        check_unicode(value, self.name(key))
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str]:
        """A string or an array of strings (the spec allows both for ``to``)."""
        value = self.data.get(key)
        if value is None or value == [] or value == "":
            if required:
                raise ApiError(400, f"{self.name(key)}: required, at least one entry")
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ApiError(400, f"{self.name(key)}: must be a string or an array of strings, not {_short(value)}")
        for i, item in enumerate(items):
            check_unicode(item, f"{self.name(key)}[{i}]")
        return items

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if self.xml and isinstance(value, str):
            value = {"true": True, "false": False, "": None}.get(value.lower(), value)
        if value is None or isinstance(value, bool):
            return value
        raise ApiError(400, f"{self.name(key)}: must be true or false, not {_short(value)}")

    def integer(self, key: str, *, low: int | None = None, high: int | None = None) -> int | None:
        value = self.data.get(key)
        if self.xml and isinstance(value, str):
            value = None if value == "" else (int(value) if re.fullmatch(r"-?\d{1,18}", value) else value)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(400, f"{self.name(key)}: must be an integer, not {_short(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ApiError(400, f"{self.name(key)}: must be {low} to {high}, not {value}")
        return value

    def obj(self, key: str) -> Fields | None:
        value = self.data.get(key)
        if value is None or (self.xml and value == ""):
            return None
        return Fields(value, self.name(key), xml=self.xml)

    def objects(self, key: str) -> list[Fields]:
        """An array of objects; in XML a single element arrives as one object, so wrap it."""
        value = self.data.get(key)
        if value is None or value == []:
            raise ApiError(400, f"{self.name(key)}: required, at least one entry")
        if self.xml and isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise ApiError(400, f"{self.name(key)}: must be an array of objects, not {_short(value)}")
        return [Fields(v, f"{self.name(key)}[{i}]", xml=self.xml) for i, v in enumerate(value)]


def check_unicode(value: str, name: str) -> None:
    """Lone surrogates survive json.loads but no SMS alphabet or database can hold them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"{name}: contains an invalid (lone surrogate) character") from None


# --- query parameters and dates --------------------------------------------------------------


class Query:
    """Typed access to query-string parameters (UTF-8 decoded), naming the parameter on error."""

    def __init__(self, request: bottle.BaseRequest) -> None:
        self._params = request.query.decode("utf-8")

    def text(self, name: str) -> str | None:
        value = self._params.get(name)
        return value if value not in (None, "") else None

    def values(self, name: str) -> tuple[str, ...]:
        """Repeated and comma-separated values (``bulkId=a,b&bulkId=c``)."""
        out: list[str] = []
        for raw in self._params.getall(name):
            out.extend(v.strip() for v in raw.split(",") if v.strip())
        return tuple(out)

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not re.fullmatch(r"\s*\d{1,9}\s*", value):
            raise ApiError(400, f"{name}: {_short(value)} is not a positive integer")
        return int(value)

    def date(self, name: str) -> datetime | None:
        value = self.text(name)
        return parse_date(value, name) if value is not None else None


_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?:(?P<z>Z)|(?P<sign>[+\- ])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?"
)


def parse_date(value: str, name: str) -> datetime:
    """``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` and ISO 8601 variants; no zone means UTC.

    A space where the offset sign belongs is read as '+': an unencoded '+' in a query string
    arrives as a space (``sentSince=2015-02-22T17:42:05.390+01:00``).
    """
    match = _DATE.fullmatch(value.strip())
    if not match:
        raise ApiError(400, f"{name}: {_short(value)} is not a date like 2015-02-12T09:51:43.123+0100")
    g = match.groupdict()
    try:
        offset = timedelta(0)
        if g["sign"]:
            offset = timedelta(hours=int(g["oh"]), minutes=int(g["om"] or 0))
            if g["sign"] == "-":
                offset = -offset
        micro = int((g["f"] or "0")[:6].ljust(6, "0"))
        moment = datetime(
            int(g["y"]), int(g["mo"]), int(g["d"]), int(g["h"] or 0), int(g["mi"] or 0), int(g["s"] or 0),
            micro, tzinfo=timezone(offset),
        )
    except ValueError as exc:
        raise ApiError(400, f"{name}: {_short(value)} is not a valid date ({exc})") from None
    return moment.astimezone(timezone.utc)


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

    def error_reply(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> Reply:
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
    """HTTP Basic on every route not configured ``auth=False``; passes ``account=`` to the callback."""

    name = "simgate-basic-auth"
    api = 2

    def __init__(self, authenticate: Callable[[str, str], Any], realm: str = "simgate") -> None:
        self.authenticate = authenticate
        self.challenge = {"WWW-Authenticate": f'Basic realm="{realm}"'}

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if route.config.get("auth") is False:
            return callback

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            credentials = parse_basic_auth(bottle.request.get_header("Authorization"))
            if credentials is None:
                raise ApiError(401, "HTTP Basic credentials are required", self.challenge)
            account = self.authenticate(*credentials)
            if account is None:
                raise ApiError(401, "invalid username or password", self.challenge)
            return callback(*args, account=account, **kwargs)

        return wrapper


def new_dialect_app(errors: ErrorRenderer, authenticate: Callable[[str, str], Any] | None) -> bottle.Bottle:
    """A Bottle app whose every answer, bottle's own 404/405/500 included, is in ``errors``' shape."""
    app = bottle.Bottle()
    app.uninstall(True)  # bottle's JSON and template plugins: we render ourselves
    api = ApiPlugin(errors)
    app.install(api)
    if authenticate is not None:
        app.install(BasicAuthPlugin(authenticate))

    def error_page(res: bottle.HTTPError) -> bytes:
        if res.status_code >= 500:
            log.error("%d on %s: %s\n%s", res.status_code, _describe_request(), res.body, res.traceback or "")
            text = "internal error; the cause is in the gateway's log"
        else:
            log.info("%d on %s: %s", res.status_code, _describe_request(), res.body)
            text = {404: f"no such resource: {_describe_request()}",
                    405: f"method {bottle.request.method} is not allowed here"}.get(res.status_code, str(res.body))
        out = render(api.error_reply(res.status_code, text), bottle.request.get_header("Accept"))
        for key, value in out.headerlist:
            bottle.response.set_header(key, value)
        return out.body  # type: ignore[no-any-return]

    app.default_error_handler = error_page  # type: ignore[method-assign]
    return app


def mount_dialect(root: bottle.Bottle, prefix: str, app: bottle.Bottle) -> None:
    """Mount ``app`` under ``prefix`` as a WSGI app, so it answers its own 404s and 405s."""
    root.mount(prefix.rstrip("/") + "/", app.wsgi)
