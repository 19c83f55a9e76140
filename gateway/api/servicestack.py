"""The ServiceStack-style SMS API (specs/servicestack-sendmessage.md): ``SMSSend`` -> ``CommResponse``.

Mounted three times, as ServiceStack serves one request DTO: under ``/api`` (the service's own
routes and the ``/api/SMSSend`` pre-defined route) and under ``/json/reply`` and ``/jsv/reply``
(the pre-defined routes its typed clients use). Paths match case-insensitively, as ServiceStack's
do, and a ``.jsv``/``.json`` suffix picks the answer's format.

Formats: request bodies in JSON, JSV (``text/jsv``) or a form (complex members as JSV text, as
ServiceStack's own HTML forms post them); member names in any case. The answer is JSON unless
``?format=jsv``, the ``.jsv`` suffix, the ``/jsv/reply`` route, ``Accept: text/jsv`` or a JSV
request body asks for JSV. JSON members are camelCase (``commId``), as ServiceStack on .NET Core
writes them and its typed clients read them; JSV members PascalCase, as the seed shows. Refusals are ServiceStack's ``ResponseStatus`` (``ErrorCode``,
``Message``, ``Errors[]`` with ``FieldName``) with its statuses: a client's mistake 400, no or
wrong credentials 401, a bug 500 (modem and database outages 503, as in every dialect).

The ``/immediate`` routes answer only when every part's AT+CMGS outcome is known, or when
``servicestack.immediate_timeout`` seconds have passed; the message is stored first either way,
so a time-out does not lose it (``Status: False`` says it is not sent yet, it still will be).
The service offers no state-change event, so the wait polls the message's state through the
injected clock (``Clock.wait``), bounded by the deadline.
"""
from __future__ import annotations

import difflib
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, parse_qsl

import bottle

from gateway.api import jsv
from gateway.api.http import COMMON_ERRORS, ApiError, Reply, new_dialect_app
from gateway.api.parsing import check_unicode, parse_body, read_body
from gateway.errors import ValidationError
from gateway.service import (
    AcceptedMessage,
    Account,
    Destination,
    Gateway,
    SubmitRequest,
    normalise_number,
)
from gateway.lifecycle import STATE_STATUS, MessageState
from gateway.statuses import MESSAGE_ACCEPTED, Status

log = logging.getLogger(__name__)

FORMAT_KEY = "simgate.servicestack.format"  # environ: the format a path suffix asked for
JSV_TYPE = "text/jsv; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
POLL_SECONDS = 0.05  # how often an /immediate request looks at its message's state
SEND_PATHS = ("/sendmessage", "/send", "/sms/send")

# ServiceStack's ErrorCode for a status (its exception names); field errors carry their own.
ERROR_CODES: dict[int, str] = {
    400: "ArgumentException",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    431: "RequestHeaderFieldsTooLarge",
    500: "Exception",
    501: "NotImplementedException",
    502: "BadGateway",
    503: "ServiceUnavailable",
}
# "SMSModel.To[0].PhoneNumber: required" -> a field error (every parser message names its field).
_FIELD_TEXT = re.compile(r"(?P<field>[A-Za-z][A-Za-z0-9]*(?:(?:\.[A-Za-z0-9]+)|\[\d+\])*): "
                         r"(?P<message>.+)", re.S)
# The core's field names -> this DTO's.
_CORE_FIELDS = {"to": "SMSModel.To", "from": "SMSModel.From.PhoneNumber",
                "text": "SMSModel.MessageBody", "messageId": "SMSModel.To"}
# States whose AT+CMGS outcome is known (every part handed to the network, or refused).
_SENT = frozenset({MessageState.SENT, MessageState.SENT_NO_REPORT, MessageState.DELIVERED})
_WAITING = STATE_STATUS[MessageState.ACCEPTED]  # PENDING_ENROUTE: queued or being sent


class Format(Enum):
    JSON = "json"
    JSV = "jsv"


# --- errors ----------------------------------------------------------------------------------


def render_error(status: int, text: str) -> Reply:
    """``{"ResponseStatus": {...}}``; a 400 whose text names a field lists it in ``Errors``."""
    code = ERROR_CODES.get(status, "Exception")
    body: dict[str, Any] = {"ErrorCode": code, "Message": text}
    match = _FIELD_TEXT.fullmatch(text) if status == 400 else None
    if match:
        message = match["message"]
        field_code = "NotEmpty" if message.startswith("required") else "InvalidValue"
        body = {"ErrorCode": field_code, "Message": text,
                "Errors": [{"ErrorCode": field_code, "FieldName": match["field"],
                            "Message": message}]}
    elif status == 400 and text.startswith("malformed"):
        body["ErrorCode"] = "SerializationException"
    return Reply({"ResponseStatus": body}, "ErrorResponse")


# --- formats ---------------------------------------------------------------------------------


def _media(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def _query_format(environ: dict[str, Any]) -> Format | None:
    raw = environ.get("QUERY_STRING", "")
    values = parse_qs(raw.encode("latin-1", "replace").decode("utf-8", "replace")).get("format")
    for value in values or ():
        try:
            return Format(value.strip().lower())
        except ValueError:
            continue
    return None


def _accept_format(accept: str | None) -> Format | None:
    best: tuple[float, Format] | None = None
    for item in (accept or "").split(","):
        kind, _, params = item.partition(";")
        kind = kind.strip().lower()
        fmt = {"text/jsv": Format.JSV, "application/json": Format.JSON}.get(kind)
        if fmt is None:
            continue
        weight = re.search(r"q=([0-9.]+)", params)
        try:
            quality = float(weight.group(1)) if weight else 1.0
        except ValueError:
            quality = 1.0
        if best is None or quality > best[0]:
            best = (quality, fmt)
    return best[1] if best else None


def answer_format(environ: dict[str, Any], default: Format) -> Format:
    """ServiceStack's order: ``?format=``, the path's suffix or route, Accept, the body's type."""
    chosen = _query_format(environ) or environ.get(FORMAT_KEY)
    if chosen is None:
        chosen = _accept_format(environ.get("HTTP_ACCEPT"))
    if chosen is None and _media(environ.get("CONTENT_TYPE")) == "text/jsv":
        chosen = Format.JSV
    return chosen or default


def _json_default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return value.hex  # ServiceStack.Text writes a Guid without dashes in JSON too
    raise TypeError(type(value).__name__)


def camel_case(value: Any) -> Any:
    """JSON members as ServiceStack on .NET Core writes them (``commId``, ``responseStatus``),
    which its typed clients read; JSV keeps the DTO's PascalCase, as the seed shows."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: camel_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_case(v) for v in value]
    return value


def renderer_for(default: Format) -> Callable[[Reply], bottle.HTTPResponse]:
    def render(reply: Reply) -> bottle.HTTPResponse:
        fmt = answer_format(bottle.request.environ, default)
        if fmt is Format.JSV:
            body, ctype = jsv.dumps(reply.payload).encode("utf-8"), JSV_TYPE
        else:
            body = json.dumps(camel_case(reply.payload), ensure_ascii=False,
                              separators=(",", ":"), default=_json_default).encode("utf-8")
            ctype = JSON_TYPE
        return bottle.HTTPResponse(body=body, status=reply.status,
                                   headers={"Content-Type": ctype, **reply.headers})

    return render


def read_request(environ: dict[str, Any], default: Format) -> dict[str, Any]:
    """The request DTO's members from a JSON, JSV or form body (an empty body: no members)."""
    ctype = _media(environ.get("CONTENT_TYPE"))
    if not ctype:
        ctype = "text/jsv" if default is Format.JSV else "application/json"
    if ctype == "application/json":
        if not read_length(environ):
            return {}
        value, _ = parse_body({**environ, "CONTENT_TYPE": "application/json"})
    elif ctype == "text/jsv":
        value = _decoded_jsv(read_body(environ))
    elif ctype == "application/x-www-form-urlencoded":
        value = _form(read_body(environ))
    else:
        raise ApiError(415, f"Content-Type must be application/json, text/jsv or "
                            f"application/x-www-form-urlencoded, not {ctype}")
    if not isinstance(value, dict):
        raise ApiError(400, "malformed request: the body must be an SMSSend object")
    return value


def read_length(environ: dict[str, Any]) -> bool:
    return bool(str(environ.get("CONTENT_LENGTH") or "").strip("0 ")) or bool(
        environ.get("wsgi.input_terminated"))


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed request: the body is not UTF-8") from None


def _decoded_jsv(raw: bytes) -> Any:
    text = _text(raw)
    if not text.strip():
        return {}
    try:
        return jsv.loads(text)
    except jsv.JsvError as exc:
        raise ApiError(400, str(exc)) from None


def _form(raw: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(_text(raw), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed request: a form value is not percent-encoded UTF-8") \
            from None
    return dict(pairs)


# --- the DTO ---------------------------------------------------------------------------------


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Members:
    """Typed, case-insensitive access to one DTO object.

    Values arrive typed (JSON) or as text (JSV, forms): a boolean may be ``true`` or ``True``,
    a Guid has dashes or not, and a complex member of a form is JSV text.
    """

    def __init__(self, data: Any, path: str) -> None:
        if isinstance(data, str):
            data = _decoded_jsv(data.encode("utf-8")) if data.strip() else {}
        if not isinstance(data, dict):
            raise ApiError(400, f"{path}: must be an object, not {_short(data)}")
        self.path = path
        self._by_name: dict[str, tuple[str, Any]] = {}
        for key, value in data.items():
            folded = str(key).lower()
            if folded in self._by_name:
                raise ApiError(400, f"{self.name(str(key))}: given twice (member names are "
                                    "case-insensitive)")
            self._by_name[folded] = (str(key), value)
        self._read: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str) -> Any:
        self._read.add(key.lower())
        entry = self._by_name.get(key.lower())
        return None if entry is None else entry[1]

    def refuse_unread(self, known: Iterable[str]) -> None:
        """A misspelt member silently ignored would send an SMS the client did not mean."""
        unknown = sorted(orig for folded, (orig, _) in self._by_name.items()
                         if folded not in self._read)
        if unknown:
            hint = difflib.get_close_matches(unknown[0], list(known), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ApiError(400, f"{self.name(unknown[0][:40])}: unknown member{suggestion}")

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a phone number sent as a JSON number
        if value is None or value == "":
            if required:
                raise ApiError(400, f"{self.name(key)}: required")
            return None
        if not isinstance(value, str):
            raise ApiError(400, f"{self.name(key)}: must be a string, not {_short(value)}")
        check_unicode(value, self.name(key))
        return value

    def boolean(self, key: str) -> bool | None:
        value = self._get(key)
        if isinstance(value, str):
            value = {"true": True, "false": False, "": None}.get(value.strip().lower(), value)
        if value is None or isinstance(value, bool):
            return value
        raise ApiError(400, f"{self.name(key)}: must be true or false, not {_short(value)}")

    def guid(self, key: str) -> uuid.UUID | None:
        value = self._get(key)
        if value is None or value == "":
            return None
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return uuid.UUID(value.strip())
        except ValueError:
            raise ApiError(400, f"{self.name(key)}: must be a Guid (32 hex digits, dashes "
                                f"optional), not {_short(value)}") from None

    def obj(self, key: str) -> Members | None:
        value = self._get(key)
        if value is None or value == "":
            return None
        return Members(value, self.name(key))

    def objects(self, key: str) -> list[Members]:
        value = self._get(key)
        if isinstance(value, str):
            value = _decoded_jsv(value.encode("utf-8")) if value.strip() else None
        if value is None:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise ApiError(400, f"{self.name(key)}: must be a list of objects, not "
                                f"{_short(value)}")
        return [Members(v, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]


@dataclass(frozen=True)
class Contact:
    name: str | None
    phone_number: str | None
    contact_id: uuid.UUID | None


@dataclass(frozen=True)
class SmsSend:
    """The ``SMSSend`` request as this gateway uses it (docs/api.md says what each member does)."""

    sender: Contact | None
    recipients: tuple[Contact, ...]
    body: str
    reply_is_allowed: bool
    reply_is_required: bool
    notes: str | None
    linked_object_id: uuid.UUID | None
    suite_id: uuid.UUID | None
    licensee_id: uuid.UUID | None
    create_references_immediately: bool


CONTACT_MEMBERS = ("Name", "PhoneNumber", "ContactId")
MODEL_MEMBERS = ("From", "To", "MessageBody", "ReplyIsAllowed", "ReplyIsRequired", "Notes",
                 "LinkedObjectId", "SuiteId", "LicenseeId")
SEND_MEMBERS = ("SMSModel", "CreateCommunicationReferencesImmediately")


def _contact(m: Members, *, number_required: bool) -> Contact:
    contact = Contact(m.string("Name"), m.string("PhoneNumber", required=number_required),
                      m.guid("ContactId"))
    m.refuse_unread(CONTACT_MEMBERS)
    if contact.phone_number is not None and number_required:
        try:
            normalise_number(contact.phone_number, m.name("PhoneNumber"))
        except ValidationError as exc:
            raise ApiError(400, f"{m.name('PhoneNumber')}: {_reason(exc)}") from None
    return contact


def _reason(exc: ValidationError) -> str:
    """The core's message without its own leading field name."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    return rest if sep and " " not in head else text


def parse_smssend(data: dict[str, Any]) -> SmsSend:
    root = Members(data, "")
    model = root.obj("SMSModel")
    immediately = bool(root.boolean("CreateCommunicationReferencesImmediately"))
    root.refuse_unread(SEND_MEMBERS)
    if model is None:
        raise ApiError(400, "SMSModel: required")
    sender_m = model.obj("From")
    sender = _contact(sender_m, number_required=False) if sender_m is not None else None
    recipients = tuple(_contact(c, number_required=True) for c in model.objects("To"))
    if not recipients:
        raise ApiError(400, "SMSModel.To: required, at least one SMSContact with a PhoneNumber")
    send = SmsSend(
        sender=sender,
        recipients=recipients,
        body=model.string("MessageBody", required=True) or "",
        reply_is_allowed=bool(model.boolean("ReplyIsAllowed")),
        reply_is_required=bool(model.boolean("ReplyIsRequired")),
        notes=model.string("Notes"),
        linked_object_id=model.guid("LinkedObjectId"),
        suite_id=model.guid("SuiteId"),
        licensee_id=model.guid("LicenseeId"),
        create_references_immediately=immediately,
    )
    model.refuse_unread(MODEL_MEMBERS)
    return send


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the answer says about one destination: its number, message id and status."""

    to: str
    message_id: str
    status: Status
    sent: bool  # its AT+CMGS outcome is known and the network took every part


def comm_response(comm_id: uuid.UUID, outcomes: list[Outcome], *, immediate: bool,
                  timed_out: bool) -> dict[str, Any]:
    """``Status`` is true when every destination was accepted (or, immediately, sent)."""
    refused = [o for o in outcomes if o.status.group_name in ("REJECTED", "UNDELIVERABLE",
                                                              "EXPIRED")]
    if immediate:
        ok = all(o.sent for o in outcomes)
        verb = "sent" if ok else ("not all sent within the time-out; queued ones will still be "
                                  "sent" if timed_out and not refused else "not all sent")
    else:
        ok = not refused
        verb = "accepted" if ok else "not all accepted"
    detail = ", ".join(f"{o.to}: {o.status.name}" for o in outcomes)
    return {"CommId": comm_id, "Reference": ",".join(o.message_id for o in outcomes),
            "Status": ok, "Message": f"{len(outcomes)} message(s) {verb} ({detail})"}


class ServiceStackRoutes:
    def __init__(self, gateway: Gateway, default: Format, immediate_timeout: float) -> None:
        self.gateway = gateway
        self.default = default
        self.immediate_timeout = immediate_timeout

    def send(self, account: Account) -> Reply:
        return self._send(account, immediate=False)

    def send_immediate(self, account: Account) -> Reply:
        return self._send(account, immediate=True)

    def _send(self, account: Account, *, immediate: bool) -> Reply:
        send = parse_smssend(read_request(bottle.request.environ, self.default))
        comm_id = uuid.uuid4()
        request = SubmitRequest(
            destinations=tuple(Destination(c.phone_number or "") for c in send.recipients),
            sender=send.sender.phone_number if send.sender else None,
            text=send.body,
            bulk_id=str(comm_id),
        )
        try:
            accepted = self.gateway.submit(account, request)
        except ValidationError as exc:
            field = _CORE_FIELDS.get(exc.field or "", "SMSModel")
            raise ApiError(400, f"{field}: {_reason(exc)}") from None
        log.info("SMSSend %s: messages %s", comm_id,
                 ", ".join(m.message_id for m in accepted.messages))
        timed_out = False
        if immediate:
            outcomes, timed_out = self._await_sent(account, accepted.messages)
        else:
            outcomes = [Outcome(m.to, m.message_id, m.status, False) for m in accepted.messages]
        body = comm_response(comm_id, outcomes, immediate=immediate, timed_out=timed_out)
        return Reply(body, "CommResponse")

    def _await_sent(self, account: Account,
                    messages: tuple[AcceptedMessage, ...]) -> tuple[list[Outcome], bool]:
        """Each message's outcome once no part waits for the modem, or at the deadline."""
        clock = self.gateway.clock
        deadline = clock.monotonic() + self.immediate_timeout
        never = threading.Event()  # nothing sets it: Clock.wait is the clock's own pause
        pending = {m.message_id: m for m in messages if m.status == MESSAGE_ACCEPTED}
        known = {m.message_id: Outcome(m.to, m.message_id, m.status, False)
                 for m in messages if m.message_id not in pending}
        while True:
            for message_id in list(pending):
                view = self.gateway.message(account, message_id)
                if view is None or view.status == _WAITING:
                    continue
                sent = view.status in {STATE_STATUS[s] for s in _SENT}
                known[message_id] = Outcome(view.to, message_id, view.status, sent)
                del pending[message_id]
                log.info("message %s: %s for SMSSend/immediate", message_id, view.status.name)
            left = deadline - clock.monotonic()
            if not pending or left <= 0:
                break
            clock.wait(never, min(POLL_SECONDS, left))
        for message_id, m in pending.items():
            log.info("message %s: not sent within %.1f s of SMSSend/immediate", message_id,
                     self.immediate_timeout)
            known[message_id] = Outcome(m.to, message_id, _WAITING, False)
        return [known[m.message_id] for m in messages], bool(pending)


# --- the apps --------------------------------------------------------------------------------


def _canonical_paths(app: bottle.Bottle) -> Callable[[], None]:
    """A before_request hook: strip a ``.jsv``/``.json`` suffix (remembering the format) and
    match the path against the app's routes case-insensitively, as ServiceStack does."""

    def hook() -> None:
        environ = bottle.request.environ
        path = environ.get("PATH_INFO", "")
        head, dot, suffix = path.rpartition(".")
        if dot and suffix.lower() in ("jsv", "json") and "/" not in suffix:
            environ[FORMAT_KEY] = Format(suffix.lower())
            path = head
        rules = {r.rule.lower(): r.rule for r in app.routes}
        environ["PATH_INFO"] = rules.get(path.lower().rstrip("/") or "/", path)

    return hook


def _app(gateway: Gateway, default: Format, paths: tuple[tuple[str, str], ...]) -> bottle.Bottle:
    app = new_dialect_app(render_error, gateway.authenticate, COMMON_ERRORS, renderer_for(default))
    app.config["simgate.case_insensitive"] = True
    timeout = gateway.config.servicestack.immediate_timeout
    app.config["servicestack.immediate_timeout"] = timeout
    routes = ServiceStackRoutes(gateway, default, timeout)
    for path, name in paths:
        app.route(path, "POST", getattr(routes, name), name=f"servicestack{path}")
    app.add_hook("before_request", _canonical_paths(app))
    return app


def build_servicestack_app(gateway: Gateway) -> bottle.Bottle:
    """Under ``/api``: the service's routes, their ``/immediate`` variants and ``/SMSSend``."""
    paths = tuple((p, "send") for p in SEND_PATHS) + tuple(
        (p + "/immediate", "send_immediate") for p in SEND_PATHS) + (("/SMSSend", "send"),)
    return _app(gateway, Format.JSON, paths)


def build_json_reply_app(gateway: Gateway) -> bottle.Bottle:
    """Under ``/json/reply``: the pre-defined route of the JSON typed clients."""
    return _app(gateway, Format.JSON, (("/SMSSend", "send"),))


def build_jsv_reply_app(gateway: Gateway) -> bottle.Bottle:
    """Under ``/jsv/reply``: the same in JSV."""
    return _app(gateway, Format.JSV, (("/SMSSend", "send"),))
