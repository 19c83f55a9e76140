"""GSMA OneAPI outbound SMS (specs/oneapi-outbound-sms.md, specs/oneapi-gsma-notes.md).

Mounted twice: ``/oneapi/sms/1`` as the seed shows it and ``/1/smsmessaging`` as the GSMA
OneAPI SMS API names it, each with ``POST /outbound/{senderAddress}/requests`` and
``GET /outbound/{senderAddress}/requests/{requestId}/deliveryInfos``. Bodies are JSON (the
``outboundSMSMessageRequest`` wrapper, or flat as oneapi-python sends it) or a form.

``clientCorrelator`` is the request's id (its ``requestId``) and its idempotency key per
account: the messages of a request are stored under the bulk id ``oneapi-<correlator>``, so the
same correlator again, also after a restart, finds them in the store and answers the same
``resourceURL`` without sending anything; with a different message, addresses or sender it is
a 400 (SVC0005). The seed makes the correlator mandatory; on the GSMA paths it is optional (a
request without one gets a new id, and no idempotency). A lock per routes object serialises
the look-up and the submit, so two concurrent requests with one correlator send once.

Refusals are the OneAPI envelope ``{"requestError": {"serviceException"|"policyException":
{"messageId", "text", "variables"}}}``.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, quote

import bottle

from gateway.api.http import ApiError, Reply, new_dialect_app
from gateway.api.parsing import MAX_BODY_BYTES, read_body
from gateway.errors import EncodingError, ValidationError
from gateway.service import (
    Account,
    Destination,
    Gateway,
    LogQuery,
    SentMessage,
    SubmitRequest,
    normalise_number,
)
from gateway.sms import SubmitOptions, plan_text
from gateway.statuses import Status

log = logging.getLogger(__name__)

BULK_PREFIX = "oneapi-"
MAX_CORRELATOR = 64
_CORRELATOR = re.compile(r"[A-Za-z0-9._:~-]{1,%d}" % MAX_CORRELATOR)
MAX_ADDRESSES = 100
# The core's field names -> this dialect's.
_CORE_FIELDS = {"to": "address", "from": "senderName", "text": "message"}
# Catalogue status -> GSMA deliveryStatus.
_DELIVERY_STATUS = {
    "DELIVERED_TO_HANDSET": "DeliveredToTerminal",
    "DELIVERED_TO_OPERATOR": "DeliveredToNetwork",
    "PENDING_WAITING_DELIVERY": "DeliveredToNetwork",
    "PENDING_ENROUTE": "MessageWaiting",
    "MESSAGE_ACCEPTED": "MessageWaiting",
}
_GROUP_DELIVERY_STATUS = {"UNDELIVERABLE": "DeliveryImpossible", "REJECTED": "DeliveryImpossible",
                          "EXPIRED": "DeliveryImpossible"}
_SERVICE_IDS = {400: "SVC0002", 404: "SVC0002"}


class OneApiRefusal(ApiError):
    """A refusal with its own OneAPI message id (SVC0005, POL0001 ...) and variables."""

    def __init__(self, status: int, message_id: str, text: str, variables: list[str]) -> None:
        super().__init__(status, text)
        self.message_id = message_id
        self.variables = variables


def _envelope(kind: str, message_id: str, text: str, variables: list[str]) -> dict[str, Any]:
    return {"requestError": {kind: {"messageId": message_id, "text": text,
                                    "variables": variables}}}


def render_error(status: int, text: str) -> Reply:
    """A serviceException: SVC0002 (invalid input) for a client's mistake, SVC0001 otherwise;
    a text ``part: why`` names the part in ``variables``."""
    message_id = _SERVICE_IDS.get(status, "SVC0001")
    match = re.fullmatch(r"([A-Za-z][\w.\[\]]*): (.+)", text, re.S) if status == 400 else None
    if match:
        return Reply(_envelope("serviceException", message_id,
                               f"Invalid input value for message part %1: {match[2]}",
                               [match[1]]))
    return Reply(_envelope("serviceException", message_id, text, []))


@dataclass(frozen=True)
class Outbound:
    """One ``outboundSMSMessageRequest`` as this gateway uses it."""

    addresses: tuple[str, ...]  # tel: URIs as given
    message: str
    sender_address: str
    sender_name: str | None
    correlator: str | None

    def fingerprint(self) -> tuple[tuple[str, ...], str, str | None]:
        """What must match for a repeated correlator to be the same request."""
        numbers = tuple(sorted(normalise_number(_tel(a)) for a in self.addresses))
        return numbers, self.message, self.sender()

    def sender(self) -> str | None:
        return self.sender_name or _tel(self.sender_address) or None


def _tel(uri: str) -> str:
    return uri[4:] if uri[:4].lower() == "tel:" else uri


def _read(environ: Mapping[str, Any]) -> dict[str, Any]:
    ctype = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    raw = read_body(environ, MAX_BODY_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not UTF-8") from None
    if ctype == "application/json":
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise ApiError(400, "the request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "the request body must be a JSON object")
        inner = value.get("outboundSMSMessageRequest", value)
        if not isinstance(inner, dict):
            raise ApiError(400, "outboundSMSMessageRequest: must be an object")
        if inner is not value and len(value) > 1:
            raise ApiError(400, "only outboundSMSMessageRequest may be at the top level")
        return inner
    if ctype == "application/x-www-form-urlencoded":
        out: dict[str, Any] = {}
        try:
            pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "the form is not percent-encoded UTF-8") from None
        for key, value in pairs:
            if key == "address":
                out.setdefault("address", []).append(value)
            elif key in out:
                raise ApiError(400, f"{key}: given twice")
            else:
                out[key] = value
        return out
    raise ApiError(415, f"Content-Type must be application/json or "
                        f"application/x-www-form-urlencoded, not {ctype or 'none'}")


def _string(data: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ApiError(400, f"{key}: required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{key}: must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"{key}: contains an invalid character") from None
    return value


KNOWN = {"address", "clientCorrelator", "outboundSMSTextMessage", "message", "senderAddress",
         "senderName", "receiptRequest", "notifyURL", "callbackData", "moResponseKey"}


def parse_outbound(data: Mapping[str, Any], url_sender: str, *,
                   correlator_required: bool) -> Outbound:
    unknown = sorted(str(k) for k in data if k not in KNOWN)
    if unknown:
        raise ApiError(400, f"{unknown[0][:40]}: unknown member")
    for key in ("receiptRequest", "notifyURL", "callbackData"):
        if data.get(key) not in (None, "", {}):
            raise ApiError(400, f"{key}: delivery notifications are not supported yet; poll "
                                "deliveryInfos")
    addresses = data.get("address")
    if isinstance(addresses, str):
        addresses = [addresses]
    if not addresses:
        raise ApiError(400, "address: required, at least one tel: URI")
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ApiError(400, "address: must be a list of tel: URIs")
    if len(addresses) > MAX_ADDRESSES:
        raise OneApiRefusal(400, "POL0003", "Too many addresses specified in message part %1",
                            ["address"])
    for i, address in enumerate(addresses):
        try:
            normalise_number(_tel(address), f"address[{i}]")
        except ValidationError:
            raise OneApiRefusal(400, "SVC0004", "No valid addresses provided in message part "
                                "%1", [f"address[{i}]"]) from None
    text_part = data.get("outboundSMSTextMessage")
    if text_part is not None:
        if not isinstance(text_part, dict):
            raise ApiError(400, "outboundSMSTextMessage: must be an object")
        message = _string(text_part, "message", required=True)
    else:
        message = _string(data, "message", required=True)
    sender_address = _string(data, "senderAddress", required=True) or ""
    if _tel(sender_address) != _tel(url_sender):
        raise ApiError(400, f"senderAddress: {sender_address!r} is not the senderAddress of "
                            f"the URL ({url_sender!r})")
    correlator = _string(data, "clientCorrelator", required=correlator_required)
    if correlator is not None and not _CORRELATOR.fullmatch(correlator):
        raise ApiError(400, f"clientCorrelator: 1-{MAX_CORRELATOR} letters, digits or ._:~-")
    return Outbound(tuple(addresses), message or "", sender_address,
                    _string(data, "senderName"), correlator)


class OneApiRoutes:
    def __init__(self, gateway: Gateway, *, correlator_required: bool,
                 success_status: int) -> None:
        self.gateway = gateway
        self.correlator_required = correlator_required
        self.success_status = success_status
        self.allow_concatenated = gateway.config.oneapi.allow_concatenated
        self._lock = threading.Lock()  # one look-up-then-submit at a time: one send per key

    def _resource(self, sender: str, request_id: str) -> str:
        base = bottle.request.urlparts
        script = bottle.request.environ.get("SCRIPT_NAME", "").rstrip("/")
        return (f"{base.scheme}://{base.netloc}{script}/outbound/{quote(sender, safe='')}"
                f"/requests/{quote(request_id, safe='')}")

    def _check_length(self, message: str) -> None:
        if self.allow_concatenated:
            return
        try:
            count = plan_text(message, SubmitOptions(max_parts=255)).sms_count
        except EncodingError as exc:
            raise ApiError(400, f"message: {exc}") from None
        if count > 1:
            raise OneApiRefusal(400, "POL0001", "A policy error occurred. Error code is %1",
                                [f"the message needs {count} SMS; this gateway sends one per "
                                 "message here (oneapi.allow_concatenated)"])

    def send(self, sender: str, account: Account) -> Reply:
        request = parse_outbound(_read(bottle.request.environ), sender,
                                 correlator_required=self.correlator_required)
        self._check_length(request.message)
        request_id = request.correlator or uuid.uuid4().hex
        bulk_id = BULK_PREFIX + request_id
        with self._lock:
            if request.correlator is not None:
                earlier = self._messages(account, bulk_id)
                if earlier:
                    self._same_request(request, earlier)
                    log.info("clientCorrelator %s again: messages %s, nothing sent",
                             request.correlator, ", ".join(m.message_id for m in earlier))
                    return self._created(sender, request_id)
            submit = SubmitRequest(
                destinations=tuple(Destination(_tel(a)) for a in request.addresses),
                sender=request.sender(), text=request.message, bulk_id=bulk_id)
            try:
                accepted = self.gateway.submit(account, submit)
            except ValidationError as exc:
                field = _CORE_FIELDS.get(exc.field or "", "message")
                raise ApiError(400, f"{field}: {exc}") from None
        log.info("OneAPI request %s: messages %s", request_id,
                 ", ".join(m.message_id for m in accepted.messages))
        return self._created(sender, request_id)

    def _created(self, sender: str, request_id: str) -> Reply:
        return Reply({"resourceReference": {"resourceURL": self._resource(sender, request_id)}},
                     status=self.success_status)

    def _messages(self, account: Account, bulk_id: str) -> list[SentMessage]:
        return self.gateway.logs(account, LogQuery(bulk_ids=(bulk_id,), limit=MAX_ADDRESSES))

    @staticmethod
    def _same_request(request: Outbound, earlier: list[SentMessage]) -> None:
        before = (tuple(sorted(m.to for m in earlier)), earlier[0].text, earlier[0].sender)
        if before != request.fingerprint():
            raise OneApiRefusal(400, "SVC0005", "Correlator %1 specified in message part %2 "
                                "is a duplicate (an earlier request with other addresses, "
                                "message or sender used it)",
                                [request.correlator or "", "clientCorrelator"])

    def delivery_infos(self, sender: str, request_id: str, account: Account) -> Reply:
        messages = self._messages(account, BULK_PREFIX + request_id)
        if not messages:
            raise ApiError(404, f"requestId: no request {request_id!r} of this account")
        infos = [{"address": f"tel:+{m.to}", "deliveryStatus": delivery_status(m.status)}
                 for m in messages]
        return Reply({"deliveryInfoList": {
            "deliveryInfo": infos,
            "resourceURL": self._resource(sender, request_id) + "/deliveryInfos"}})


def delivery_status(status: Status) -> str:
    return _DELIVERY_STATUS.get(status.name) or _GROUP_DELIVERY_STATUS.get(
        status.group_name, "DeliveryUncertain")


def _refusals(callback: Callable[..., Reply]) -> Callable[..., Reply]:
    """A ``OneApiRefusal`` carries its own id (a policyException for POL*)."""

    def wrapper(*args: Any, **kwargs: Any) -> Reply:
        try:
            return callback(*args, **kwargs)
        except OneApiRefusal as exc:
            kind = "policyException" if exc.message_id.startswith("POL") else "serviceException"
            log.info("%d %s on %s: %s %s", exc.status, exc.message_id,
                     bottle.request.path, exc.text, exc.variables)
            return Reply(_envelope(kind, exc.message_id, exc.text, exc.variables),
                         status=exc.status)

    return wrapper


def _app(gateway: Gateway, *, correlator_required: bool, success_status: int) -> bottle.Bottle:
    app = new_dialect_app(render_error, gateway.authenticate)
    routes = OneApiRoutes(gateway, correlator_required=correlator_required,
                          success_status=success_status)
    app.route("/outbound/<sender>/requests", "POST", _refusals(routes.send), name="oneapi.send")
    app.route("/outbound/<sender>/requests/", "POST", _refusals(routes.send),
              name="oneapi.send_slash")
    app.route("/outbound/<sender>/requests/<request_id>/deliveryInfos", "GET",
              _refusals(routes.delivery_infos), name="oneapi.delivery_infos")
    app.config["oneapi.allow_concatenated"] = routes.allow_concatenated
    return app


def build_oneapi_app(gateway: Gateway) -> bottle.Bottle:
    """``/oneapi/sms/1``: the seed's form (clientCorrelator mandatory, 200 on success)."""
    return _app(gateway, correlator_required=True, success_status=200)


def build_gsma_app(gateway: Gateway) -> bottle.Bottle:
    """``/1/smsmessaging``: the GSMA form (clientCorrelator optional, 201 Created)."""
    return _app(gateway, correlator_required=False, success_status=201)
