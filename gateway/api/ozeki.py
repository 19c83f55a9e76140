"""The Ozeki Phone System HTTP API's ``SendSms`` (specs/ozeki-sendsms.md, ozeki-http-api-notes.md).

Served on the root app at ``/`` and ``/api``, by ``GET`` with a query string or ``POST`` with a
form, parameter names in any case. Ozeki answers everything with HTTP 200 and says what happened
in the XML body's ``Code`` (its status code table, ``STATUS``); so does this module, for every
client mistake. Two answers are not 200, because no Ozeki code says "try again": a modem or
database outage (503 with ``Retry-After``, Code 503) and a bug (500, Code 500); a client that
checks only the HTTP status still sees them fail.

``ApiExtension`` names a configured sender profile (``ozeki.api_extensions``: ``9994`` or
``9994=+447700900001``, the sender used when the request names none). Credentials are the
``Username``/``Password`` parameters of an account, unless ``ozeki.authentication`` is off for a
trusted LAN; then messages belong to the account ``ozeki.account``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping
from urllib.parse import parse_qsl
from xml.etree import ElementTree

import bottle

from gateway.accounts import Account
from gateway.api.http import INTERNAL_ERROR_TEXT
from gateway.api.parsing import read_body
from gateway.config import OzekiConfig
from gateway.errors import (
    ApiError,
    GatewayError,
    LoginBusyError,
    ModemError,
    StoreError,
    ValidationError,
)
from gateway.logsafe import shown
from gateway.service import Destination, Gateway, SubmitRequest, normalise_number
from gateway.statuses import MESSAGE_ACCEPTED

log = logging.getLogger(__name__)

XML_TYPE = "application/xml; charset=utf-8"
COMMAND = "SendSms"
PARAMETERS = ("command", "ApiExtension", "Sender", "Recipient", "Message", "DeliveryReportURL",
              "Username", "Password")
_CANONICAL = {name.lower(): name for name in PARAMETERS}
# The core's field names -> the parameter a 302 names.
_CORE_FIELDS = {"to": "Recipient", "from": "Sender", "text": "Message"}


class Status(Enum):
    """Ozeki's status codes (code, message template) as its manual lists them."""

    OK = (200, "Command successfully executed")
    PARSE_ERROR = (300, "Error occured during parsing message: '{0}'")
    NOT_IMPLEMENTED_COMMAND = (301, "Not implemented command: '{0}'")
    INVALID_PARAMETER = (302, "Missing or invalid parameter '{0}' for command '{1}'")
    INAPPROPRIATE_COMMAND = (303, "Command '{0}' cannot be used here")
    AUTHENTICATION_REQUIRED = (304, "Authentication required")
    AUTHENTICATION_FAILED = (305, "Authentication failed, bad username or password")
    API_EXTENSION_UNAVAILABLE = (401, "API extension '{0}' unavailable, please check "
                                      "configuration or permissions")
    SMS_DESTINATION_NOT_FOUND = (501, "Destination of the SMS is not found")
    # Ours, outside Ozeki's table: see the module docstring.
    UNAVAILABLE = (503, "temporarily unavailable: {0}")
    INTERNAL = (500, INTERNAL_ERROR_TEXT)

    @property
    def code(self) -> int:
        return self.value[0]


class OzekiRefusal(GatewayError):
    """A request this dialect answers with an error ``Code`` (HTTP 200 unless an outage)."""

    def __init__(self, status: Status, *args: str, why: str = "") -> None:
        self.status = status
        self.message = status.value[1].format(*args)
        self.why = why  # for the log only: the template says less than we know
        super().__init__(self.message)


def invalid(parameter: str, why: str = "") -> OzekiRefusal:
    return OzekiRefusal(Status.INVALID_PARAMETER, parameter, COMMAND, why=why)


@dataclass(frozen=True)
class Profile:
    """One ``ApiExtension``: its number and the sender used when a request names none."""

    extension: str
    sender: str | None


def profiles(config: OzekiConfig) -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for entry in config.api_extensions:
        extension, _, sender = entry.partition("=")
        out[extension.strip()] = Profile(extension.strip(), sender.strip() or None)
    return out


def answer(status: Status, message: str, extra: Mapping[str, str] | None = None) -> bottle.HTTPResponse:
    root = ElementTree.Element("Response")
    ElementTree.SubElement(root, "Code").text = str(status.code)
    ElementTree.SubElement(root, "Message").text = message
    for key, value in (extra or {}).items():
        ElementTree.SubElement(root, key).text = value
    body = '<?xml version="1.0" encoding="utf-8"?>' + ElementTree.tostring(root, "unicode")
    http_status = {Status.UNAVAILABLE: 503, Status.INTERNAL: 500}.get(status, 200)
    headers = {"Content-Type": XML_TYPE}
    if status is Status.UNAVAILABLE:
        headers["Retry-After"] = "30"
    return bottle.HTTPResponse(body=body.encode("utf-8"), status=http_status, headers=headers)


def read_parameters(environ: Mapping[str, Any]) -> dict[str, str]:
    """Query string and form body, names folded to the manual's spelling; a name given twice
    (in any case, or in both) is refused: which of the two was meant is a guess."""
    pairs = _pairs(str(environ.get("QUERY_STRING", "")).encode("latin-1", "replace"), "query")
    if environ.get("REQUEST_METHOD") == "POST":
        ctype = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        try:
            raw = read_body(environ)
        except ApiError as exc:
            raise OzekiRefusal(Status.PARSE_ERROR, exc.text) from None
        if raw.strip():
            if ctype not in ("application/x-www-form-urlencoded", ""):
                raise OzekiRefusal(Status.PARSE_ERROR, f"the body must be a form "
                                   f"(application/x-www-form-urlencoded), not {ctype}")
            pairs += _pairs(raw, "form body")
    out: dict[str, str] = {}
    for name, value in pairs:
        key = _CANONICAL.get(name.lower(), name)
        if key in out:
            raise invalid(key, "given twice")
        out[key] = value
    return out


def _pairs(raw: bytes, where: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise OzekiRefusal(Status.PARSE_ERROR, f"the {where} is not percent-encoded UTF-8") \
            from None


class OzekiEndpoint:
    """The callback of ``/`` and ``/api``."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.config = gateway.config.ozeki
        self.authentication = self.config.authentication
        self.profiles = profiles(self.config)

    def __call__(self) -> bottle.HTTPResponse:
        try:
            return self._handle(read_parameters(bottle.request.environ))
        except OzekiRefusal as exc:
            log.info("Ozeki %d: %s%s", exc.status.code, shown(exc.message, 200),
                     f" ({shown(exc.why, 200)})" if exc.why else "")
            return answer(exc.status, exc.message)
        except (ModemError, StoreError, LoginBusyError) as exc:
            log.warning("Ozeki 503: %s", shown(str(exc), 200))
            return answer(Status.UNAVAILABLE, Status.UNAVAILABLE.value[1].format(exc))
        except Exception as exc:
            log.error("unexpected error on Ozeki %s", bottle.request.method, exc_info=exc)
            return answer(Status.INTERNAL, INTERNAL_ERROR_TEXT)

    def _account(self, params: Mapping[str, str]) -> Account:
        if not self.authentication:
            account = self.gateway.accounts.find(self.config.account)
            if account is None:
                raise OzekiRefusal(Status.AUTHENTICATION_FAILED,
                                   why=f"ozeki.account {self.config.account!r} does not exist")
            return account
        username, password = params.get("Username", ""), params.get("Password", "")
        if not username or not password:
            raise OzekiRefusal(Status.AUTHENTICATION_REQUIRED)
        found = self.gateway.authenticate(username, password,
                                          bottle.request.environ.get("REMOTE_ADDR", ""))
        if found is None:
            raise OzekiRefusal(Status.AUTHENTICATION_FAILED, why=f"user {shown(username, 64)}")
        return found

    def _handle(self, params: dict[str, str]) -> bottle.HTTPResponse:
        command = params.get("command", "")
        if not command:
            raise OzekiRefusal(Status.INVALID_PARAMETER, "command", "")
        account = self._account(params)
        if command.lower() != COMMAND.lower():
            raise OzekiRefusal(Status.NOT_IMPLEMENTED_COMMAND, command)
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise invalid(unknown[0], "unknown parameter")
        extension = params.get("ApiExtension", "").strip()
        if not extension:
            raise invalid("ApiExtension")
        profile = self.profiles.get(extension)
        if profile is None:
            raise OzekiRefusal(Status.API_EXTENSION_UNAVAILABLE, extension)
        if params.get("DeliveryReportURL"):
            raise invalid("DeliveryReportURL", "delivery report notifications are not "
                                               "supported yet")
        recipient = params.get("Recipient", "").strip()
        if not recipient:
            raise invalid("Recipient")
        try:
            normalise_number(recipient, "Recipient")
        except ValidationError as exc:
            raise OzekiRefusal(Status.SMS_DESTINATION_NOT_FOUND, why=str(exc)) from None
        text = params.get("Message", "")
        if not text:
            raise invalid("Message")
        request = SubmitRequest(destinations=(Destination(recipient),),
                                sender=params.get("Sender") or profile.sender, text=text)
        try:
            accepted = self.gateway.submit(account, request)
        except ValidationError as exc:
            raise invalid(_CORE_FIELDS.get(exc.field or "", "Message"), str(exc)) from None
        [message] = accepted.messages
        if message.status != MESSAGE_ACCEPTED:
            raise invalid("Message", f"message {message.message_id}: {message.status.name}")
        log.info("message %s accepted by Ozeki SendSms (ApiExtension %s)", message.message_id,
                 extension)
        return answer(Status.OK, Status.OK.value[1], {"SmsId": message.message_id})


def install_ozeki(root: bottle.Bottle, gateway: Gateway) -> None:
    """``/`` and ``/api`` on the root app, GET and POST (the root app has no auth plugin)."""
    endpoint = OzekiEndpoint(gateway)
    for path in ("/", "/api"):
        root.route(path, ["GET", "POST"], endpoint, name=f"ozeki{path}")
