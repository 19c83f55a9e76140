"""The Infobip-style "SMS API v1" dialect (specs/infobip-style-sms-api-v1.md).

Each route parses, calls the Gateway, renders.

Mounted under ``/restapi``. Every route needs HTTP Basic credentials; every refusal has the
shape ``{"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": ...}}}``.

Multi-message requests (``text/multi``, ``binary/multi``, ``text/advanced``) make one
``Gateway.submit`` per message object, so they are all-or-nothing per message object only: the
request is checked completely before anything is stored, and if a later message object is still
refused, the 400 names it and lists the messageIds already accepted before it.
"""
from __future__ import annotations

import logging
import math
import re
import uuid
from dataclasses import replace
from typing import Any

import bottle

from gateway.api.http import ApiError, Reply, format_date, new_dialect_app
from gateway.api.parsing import Fields, Query, parse_body
from gateway.errors import ValidationError
from gateway.service import (
    MAX_DESTINATIONS,
    Account,
    Accepted,
    Destination,
    Gateway,
    LogQuery,
    ReceivedMessage,
    SentMessage,
    SubmitRequest,
    normalise_number,
)
from gateway.statuses import ErrorInfo, Status

log = logging.getLogger(__name__)

SERVICE_EXCEPTIONS: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "GENERAL_ERROR",
    501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
}
# Fields of the spec we do not implement yet: refused loudly rather than silently ignored.
UNSUPPORTED = ("notifyUrl", "notifyContentType", "callbackData", "sendAt")
MAX_VALIDITY_MINUTES = 48 * 60  # the spec: "longer than 48h ... automatically set to 48h"
UDH_PRESENT = 0x40  # esmClass bit: the payload starts with a user data header
MAX_ID_LENGTH = 100  # client-chosen messageId / bulkId


def render_error(status: int, text: str) -> Reply:
    code = SERVICE_EXCEPTIONS.get(status, "GENERAL_ERROR")
    return Reply({"requestError": {"serviceException": {"messageId": code, "text": text}}})


# --- rendering -------------------------------------------------------------------------------


def status_json(status: Status) -> dict[str, Any]:
    out: dict[str, Any] = {
        "groupId": status.group_id,
        "groupName": status.group_name,
        "id": status.id,
        "name": status.name,
        "description": status.description,
    }
    if status.action:
        out["action"] = status.action
    return out


def error_json(error: ErrorInfo) -> dict[str, Any]:
    return {
        "groupId": error.group_id,
        "groupName": error.group_name,
        "id": error.id,
        "name": error.name,
        "description": error.description,
        "permanent": error.permanent,
    }


def send_response(bulk_id: str | None, accepted: list[Accepted]) -> dict[str, Any]:
    out: dict[str, Any] = {"bulkId": bulk_id} if bulk_id else {}
    out["messages"] = [
        {"to": m.to, "status": status_json(m.status), "smsCount": m.sms_count,
         "messageId": m.message_id}
        for batch in accepted
        for m in batch.messages
    ]
    return out


def report_json(m: SentMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"bulkId": m.bulk_id} if m.bulk_id else {}
    out.update(
        messageId=m.message_id,
        to=m.to,
        sentAt=format_date(m.sent_at),
        doneAt=format_date(m.done_at),
        smsCount=m.sms_count,
        price={"pricePerMessage": m.price.price_per_message, "currency": m.price.currency},
        status=status_json(m.status),
        error=error_json(m.error),
    )
    return out


def log_json(m: SentMessage) -> dict[str, Any]:
    report = report_json(m)
    head = {"bulkId": report.pop("bulkId")} if "bulkId" in report else {}
    return {
        **head,
        "messageId": m.message_id,
        "to": m.to,
        "from": m.sender,
        "text": m.text,
        "sentAt": report["sentAt"],
        "doneAt": report["doneAt"],
        "smsCount": m.sms_count,
        "mccmnc": m.mccmnc,
        "price": report["price"],
        "status": report["status"],
        "error": report["error"],
    }


def received_json(m: ReceivedMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"messageId": m.message_id, "from": m.sender, "to": m.to, "text": m.text,
                           "cleanText": m.clean_text}
    if m.keyword is not None:
        out["keyword"] = m.keyword
    out.update(receivedAt=format_date(m.received_at), smsCount=m.sms_count)
    return out


# --- parsing ---------------------------------------------------------------------------------


def _refuse_unsupported(f: Fields) -> None:
    for key in UNSUPPORTED:
        if f.present(key):
            raise ApiError(400, f"{f.name(key)}: not supported yet by this gateway; remove it")


def _destinations(f: Fields, advanced: bool) -> tuple[Destination, ...]:
    if advanced:
        dests = []
        for d in f.objects("destinations"):
            to = d.string("to", required=True) or ""
            message_id = d.string("messageId", max_length=MAX_ID_LENGTH, identifier=True)
            d.refuse_unread()
            dests.append(Destination(_check_number(to, d.name("to")), message_id))
        return tuple(dests)
    numbers = f.strings("to", required=True)
    return tuple(Destination(_check_number(n, f"{f.name('to')}[{i}]"))
                 for i, n in enumerate(numbers))


def _check_number(number: str, name: str) -> str:
    """Refuse a bad number before any message object of the request is stored."""
    try:
        normalise_number(number, name)
    except ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    return number


def _validity_minutes(f: Fields) -> int | None:
    millis = f.integer("validityPeriod", low=1, high=10**15)
    if millis is None:
        return None
    return min(MAX_VALIDITY_MINUTES, max(1, math.ceil(millis / 60_000)))


def _binary(f: Fields) -> tuple[bytes, int, bytes | None]:
    """(data, TP-DCS, UDH without its length octet) from ``binary{hex, dataCoding, esmClass}``."""
    b = f.obj("binary")
    if b is None:
        raise ApiError(400, f"{f.name('binary')}: required")
    hex_text = b.string("hex", required=True) or ""
    digits = re.sub(r"\s+", "", hex_text)
    if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", digits):
        raise ApiError(400, f"{b.name('hex')}: must be pairs of hex digits like \"0f c2 4a\"")
    data = bytes.fromhex(digits)
    data_coding = b.integer("dataCoding", low=0, high=255)
    esm_class = b.integer("esmClass", low=0, high=255) or 0
    udh = None
    if esm_class & UDH_PRESENT:
        length = data[0]
        if length + 1 > len(data):
            raise ApiError(400, f"{b.name('hex')}: esmClass says a UDH is present, but its "
                                f"length octet ({length}) overruns the {len(data)} octets")
        udh, data = data[1:length + 1], data[length + 1:]
        _check_udh(udh, b.name("hex"))
    b.refuse_unread()
    return data, (data_coding if data_coding is not None else 0), udh


def _check_udh(udh: bytes, name: str) -> None:
    """Each information element (IEI, length, data) must fit the header exactly (TS 23.040
    9.2.3.24): a malformed header accepted here would only fail later, at the modem."""
    at = 0
    while at < len(udh):
        if at + 2 > len(udh) or at + 2 + udh[at + 1] > len(udh):
            raise ApiError(400, f"{name}: the user data header's element at octet {at + 1} "
                                "overruns the header")
        at += 2 + udh[at + 1]


def parse_message(f: Fields, *, binary: bool = False, advanced: bool = False) -> SubmitRequest:
    """One message object of any send route -> SubmitRequest (bulk id is set by the route)."""
    _refuse_unsupported(f)
    destinations = _destinations(f, advanced)
    text, data, data_coding, udh = None, None, None, None
    if binary:
        data, data_coding, udh = _binary(f)
    else:
        text = f.string("text", required=True)
    language = f.obj("language") or f
    language_code = language.string("languageCode")
    single_shift, locking_shift = language.boolean("singleShift"), language.boolean("lockingShift")
    if language is not f:
        language.refuse_unread()
    request = SubmitRequest(
        destinations=destinations,
        sender=f.string("from"),
        text=text,
        data=data,
        data_coding=data_coding,
        udh=udh,
        flash=bool(f.boolean("flash")),
        validity_minutes=_validity_minutes(f),
        transliteration=(f.string("transliteration") or "").upper() or None,
        language_code=language_code.upper() if language_code else None,
        single_shift=single_shift,
        locking_shift=locking_shift,
    )
    f.refuse_unread()
    return request


def _count(destinations: Any) -> int:
    """How many destinations an object names before it is parsed (a lone ``to`` string is one)."""
    if isinstance(destinations, (list, dict)):
        return len(destinations) if isinstance(destinations, list) else 1
    return 1 if destinations else 0


def parse_send(body: Any, xml: bool, *, multi: bool, binary: bool = False,
               advanced: bool = False) -> tuple[list[SubmitRequest], str | None]:
    """The message objects of a send request and the client's bulkId (advanced only)."""
    root = Fields(body, xml=xml)
    if not (multi or advanced):
        return [parse_message(root, binary=binary)], None
    _refuse_unsupported(root)
    objects = root.objects("messages")
    # The cap is per request, not per message object: six objects must not carry 60,000.
    total = sum(_count(m.data.get("destinations") or m.data.get("to")) for m in objects)
    if total > MAX_DESTINATIONS:
        raise ApiError(400, f"messages: at most {MAX_DESTINATIONS} destinations per request "
                            f"in all, not {total}")
    messages = [parse_message(m, binary=binary, advanced=advanced) for m in objects]
    bulk_id = root.string("bulkId", max_length=MAX_ID_LENGTH, identifier=True) if advanced else None
    root.refuse_unread()
    return messages, bulk_id


# --- routes ----------------------------------------------------------------------------------


class InfobipRoutes:
    """The route callbacks; each receives ``account`` from the Basic auth plugin."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def _send(self, account: Account, *, multi: bool, binary: bool = False,
              advanced: bool = False) -> Reply:
        body, xml = parse_body(bottle.request.environ)
        requests, bulk_id = parse_send(body, xml, multi=multi, binary=binary, advanced=advanced)
        if multi or advanced:
            if bulk_id is None and sum(len(r.destinations) for r in requests) > 1:
                bulk_id = str(uuid.uuid4())
            requests = [replace(r, bulk_id=bulk_id) for r in requests]
        accepted: list[Accepted] = []
        for index, req in enumerate(requests):
            try:
                accepted.append(self.gateway.submit(account, req))
            except ValidationError as exc:
                where = f"messages[{index}]: " if (multi or advanced) else ""
                done = [m.message_id for a in accepted for m in a.messages]
                kept = f"; the messages before it were accepted: {', '.join(done)}" if done else ""
                raise ApiError(400, f"{where}{exc}{kept}") from None
        if not (multi or advanced):
            bulk_id = accepted[0].bulk_id
        return Reply(send_response(bulk_id, accepted), "SMSResponse")

    def text_single(self, account: Account) -> Reply:
        return self._send(account, multi=False)

    def text_multi(self, account: Account) -> Reply:
        return self._send(account, multi=True)

    def binary_single(self, account: Account) -> Reply:
        return self._send(account, multi=False, binary=True)

    def binary_multi(self, account: Account) -> Reply:
        return self._send(account, multi=True, binary=True)

    def text_advanced(self, account: Account) -> Reply:
        return self._send(account, multi=False, advanced=True)

    def reports(self, account: Account) -> Reply:
        q = Query(bottle.request)
        rows = self.gateway.reports(account, bulk_id=q.text("bulkId"),
                                    message_id=q.text("messageId"), limit=q.integer("limit"))
        return Reply({"results": [report_json(m) for m in rows]}, "SMSReportResponse")

    def logs(self, account: Account) -> Reply:
        q = Query(bottle.request)
        for unsupported in ("mcc", "mnc"):
            if q.text(unsupported):
                raise ApiError(400, f"{unsupported}: filtering by network is not supported "
                                    "(a SIM gateway does not learn the destination's network)")
        query = LogQuery(
            sender=q.text("from"),
            to=q.text("to"),
            bulk_ids=q.values("bulkId"),
            message_ids=q.values("messageId"),
            general_status=q.text("generalStatus"),
            sent_since=q.date("sentSince"),
            sent_until=q.date("sentUntil"),
            limit=q.integer("limit"),
        )
        rows = self.gateway.logs(account, query)
        return Reply({"results": [log_json(m) for m in rows]}, "SMSLogsResponse")

    def inbox_reports(self, account: Account) -> Reply:
        q = Query(bottle.request)
        rows = self.gateway.inbox(account, q.integer("limit"))
        return Reply({"results": [received_json(m) for m in rows]}, "MOReportResponse")

    def inbox_logs(self, account: Account) -> Reply:
        q = Query(bottle.request)
        keyword = q.text("keyword")
        no_keyword = keyword is not None and keyword.upper() == "NO_KEYWORD"
        rows = self.gateway.inbox_logs(
            account,
            to=q.text("to"),
            keyword=None if no_keyword else keyword,
            no_keyword=no_keyword,
            received_since=q.date("receivedSince"),
            received_until=q.date("receivedUntil"),
            limit=q.integer("limit"),
        )
        return Reply({"results": [received_json(m) for m in rows]}, "MOLogsResponse")

    def balance(self, account: Account) -> Reply:
        balance = self.gateway.balance(account)
        return Reply({"balance": balance.balance, "currency": balance.currency}, "AccountBalance")


ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/sms/1/text/single", "text_single"),
    ("POST", "/sms/1/text/multi", "text_multi"),
    ("POST", "/sms/1/binary/single", "binary_single"),
    ("POST", "/sms/1/binary/multi", "binary_multi"),
    ("POST", "/sms/1/text/advanced", "text_advanced"),
    ("GET", "/sms/1/reports", "reports"),
    ("GET", "/sms/1/logs", "logs"),
    ("GET", "/sms/1/inbox/reports", "inbox_reports"),
    ("GET", "/sms/1/inbox/logs", "inbox_logs"),
    ("GET", "/account/1/balance", "balance"),
)


def build_infobip_app(gateway: Gateway) -> bottle.Bottle:
    """The dialect as its own Bottle app (routes relative to its mount point, ``/restapi``)."""
    app = new_dialect_app(render_error, gateway.authenticate)
    routes = InfobipRoutes(gateway)
    for method, path, name in ROUTES:
        app.route(path, method, getattr(routes, name), name=f"infobip.{name}")
    return app
