"""Issue 10's input and injection reproductions, one test per defect, named after it.

Each test sends what a hostile or careless client sent and asserts the dialect's own 4xx; every
one of them failed on the code before the fix (a 500, a 200 or Python's exception text).
"""
from __future__ import annotations

import json
import logging

import pytest

from gateway.api.parsing import MAX_QUERY_VALUES
from tests.api.conftest import Client, Response
from tests.api.test_infobip import ADVANCED, BINARY, INBOX, INBOX_LOGS, LOGS, MULTI, REPORTS, SINGLE, assert_error

GET_ROUTES = (LOGS, REPORTS, INBOX, INBOX_LOGS)
TO = "41793026727"


def raw_get(client: Client, path: str, query_string: str) -> Response:
    """A GET with the query string exactly as sent on the wire (no urlencode in between)."""
    original = client.app

    def with_query(environ: dict, start_response):  # type: ignore[no-untyped-def]
        environ["QUERY_STRING"] = query_string
        return original(environ, start_response)

    client.app = with_query
    try:
        return client.get(path)
    finally:
        client.app = original


@pytest.mark.parametrize("path", GET_ROUTES)
def test_item7_invalid_utf8_in_a_query_string_is_a_400_not_a_500(client: Client, path: str) -> None:
    assert_error(raw_get(client, path, "x=%ff"), 400, "BAD_REQUEST", "UTF-8")


def test_item7_valid_utf8_in_a_query_string_still_works(client: Client) -> None:
    r = raw_get(client, LOGS, "from=J%C3%BCrg")
    assert r.status == 200 and r.json == {"results": []}


def _utf16_xml(text_element: str) -> bytes:
    doc = ('<?xml version="1.0" encoding="UTF-16"?>'
           '<!DOCTYPE request [<!ENTITY a "AAAAAAAAAA">]>'
           f'<request><from>InfoSMS</from><to>{TO}</to><text>{text_element}</text></request>')
    return doc.encode("utf-16")


def test_item8_xml_declared_utf16_with_entities_is_refused(client: Client) -> None:
    r = client.request("POST", SINGLE, body=_utf16_xml("&a;&a;"), content_type="application/xml")
    assert_error(r, 400, "BAD_REQUEST", "DOCTYPE")
    assert client.get(LOGS).json == {"results": []}  # nothing was stored


def test_item8_plain_utf16_xml_without_a_dtd_is_still_read(client: Client) -> None:
    doc = ('<?xml version="1.0" encoding="UTF-16"?>'
           f'<request><from>InfoSMS</from><to>{TO}</to><text>hi</text></request>').encode("utf-16")
    r = client.request("POST", SINGLE, body=doc, content_type="application/xml")
    assert r.status == 200, r.body


def test_item9_a_message_id_with_a_newline_is_refused_and_cannot_forge_a_log_line(
        client: Client, caplog: pytest.LogCaptureFixture) -> None:
    forged = "x\n2026-01-01 INFO gateway.service: message y accepted"
    caplog.set_level(logging.INFO)
    r = client.post(ADVANCED, {"messages": [{"destinations": [{"to": TO, "messageId": forged}],
                                             "text": "hi"}]})
    assert_error(r, 400, "BAD_REQUEST", "messages[0].destinations[0].messageId", "control")
    assert all("\n" not in rec.getMessage() for rec in caplog.records)


def test_item9_a_bulk_id_with_a_line_separator_is_refused(client: Client) -> None:
    r = client.post(ADVANCED, {"bulkId": "b\u2028c", "messages": [
        {"destinations": [{"to": TO}], "text": "hi"}]})
    assert_error(r, 400, "BAD_REQUEST", "bulkId", "control")


def test_item10_a_sender_with_a_trailing_newline_is_refused(client: Client) -> None:
    r = client.post(SINGLE, {"from": "InfoSMS\n", "to": TO, "text": "hi"})
    assert_error(r, 400, "BAD_REQUEST", "from")


def test_item10_limit_zero_on_logs_is_a_400_like_every_other_route(client: Client) -> None:
    for path in (LOGS, REPORTS):
        assert_error(client.get(path, query={"limit": "0"}), 400, "BAD_REQUEST", "limit")


def test_item10_full_width_digits_are_not_a_phone_number(client: Client) -> None:
    r = client.post(SINGLE, {"to": "\uff14\uff11\uff17\uff19\uff13\uff10\uff12\uff16\uff17\uff12\uff17",
                             "text": "hi"})
    assert_error(r, 400, "BAD_REQUEST", "to")


@pytest.mark.parametrize(("path", "payload", "field", "hint"), [
    (ADVANCED, {"messages": [{"destinations": [{"to": TO}], "text": "hi", "flsh": True}]},
     "messages[0].flsh", "flash"),
    (ADVANCED, {"messages": [{"destinations": [{"to": TO}], "text": "hi",
                              "validityPeriods": 60000}]}, "messages[0].validityPeriods",
     "validityPeriod"),
    (ADVANCED, {"messages": [{"destinations": [{"to": TO, "mesageId": "a"}], "text": "hi"}]},
     "messages[0].destinations[0].mesageId", "messageId"),
    (ADVANCED, {"bulkid": "x", "messages": [{"destinations": [{"to": TO}], "text": "hi"}]},
     "bulkid", "bulkId"),
    (MULTI, {"messages": [{"to": TO, "txt": "hi", "text": "hi"}]}, "messages[0].txt", "text"),
    (SINGLE, {"to": TO, "text": "hi", "language": {"languageCode": "TR", "lockShift": True}},
     "language.lockShift", "lockingShift"),
    (BINARY, {"to": TO, "binary": {"hex": "41", "esm": 64}}, "binary.esm", ""),
])
def test_item10_unknown_json_fields_are_a_400_naming_the_field(
        client: Client, path: str, payload: dict, field: str, hint: str) -> None:
    r = client.post(path, payload)
    assert_error(r, 400, "BAD_REQUEST", field, "unknown field", hint)
    assert client.get(LOGS).json == {"results": []}


def test_item10_a_binary_message_with_a_malformed_udh_is_refused_at_the_edge(client: Client) -> None:
    # UDH length 5: IEI 00 holds 2 octets (01 02), then IEI 08 has no room for its length octet.
    r = client.post(BINARY, {"to": TO, "binary": {"hex": "05 00 02 01 02 08 41 42", "esmClass": 64}})
    assert_error(r, 400, "BAD_REQUEST", "binary.hex", "user data header")


def test_item10_a_binary_message_with_a_well_formed_udh_is_accepted(client: Client) -> None:
    r = client.post(BINARY, {"to": TO, "binary": {"hex": "05 00 03 01 02 01 41 42", "esmClass": 64}})
    assert r.status == 200, r.body


@pytest.mark.parametrize(("body", "leak"), [
    (b'{"to": "' + TO.encode() + b'", "text": "hi", "x": 1' + b"1" * 5000 + b"}",
     "set_int_max_str_digits"),
    (b'{"to": "' + TO.encode() + b'", "text": "hi",}', "Expecting property name"),
])
def test_item11_python_exception_text_does_not_leak_into_400_bodies(
        client: Client, body: bytes, leak: str) -> None:
    r = client.request("POST", SINGLE, body=body, content_type="application/json")
    assert_error(r, 400, "BAD_REQUEST", "malformed JSON")
    text = r.json["requestError"]["serviceException"]["text"]
    assert "sys." not in text and "char " not in text, text


def test_item11_a_json_syntax_error_says_where(client: Client) -> None:
    r = client.request("POST", SINGLE, body=b'{"to": 1,,}', content_type="application/json")
    assert_error(r, 400, "BAD_REQUEST", "line 1 column 10")


def test_item1_an_unbounded_id_list_in_logs_is_a_400(client: Client) -> None:
    ids = ",".join(f"id{i}" for i in range(MAX_QUERY_VALUES + 1))
    for name in ("messageId", "bulkId"):
        assert_error(client.get(LOGS, query={name: ids}), 400, "BAD_REQUEST", name,
                     str(MAX_QUERY_VALUES))


def test_item1_a_full_id_list_in_logs_is_answered(client: Client) -> None:
    r = client.post(ADVANCED, {"messages": [{"destinations": [{"to": TO, "messageId": "m1"}],
                                             "text": "hi"}]})
    assert r.status == 200
    ids = ",".join(["m1"] + [f"id{i}" for i in range(MAX_QUERY_VALUES - 1)])
    got = client.get(LOGS, query={"messageId": ids}).json["results"]
    assert [m["messageId"] for m in got] == ["m1"]


def test_error_bodies_stay_json_for_every_hostile_case(client: Client) -> None:
    """Whatever the fault above, the body parses as the dialect's envelope."""
    r = raw_get(client, LOGS, "limit=%ff%fe")
    assert r.status == 400 and "serviceException" in json.loads(r.body)["requestError"]


def test_item3_the_destination_cap_is_per_request_not_per_message_object(client: Client) -> None:
    from gateway.service import MAX_DESTINATIONS

    share = MAX_DESTINATIONS // 2 + 1  # each object is under the cap, the request is over it
    objects = [{"destinations": [{"to": TO}] * share, "text": "hi"} for _ in range(2)]
    assert_error(client.post(ADVANCED, {"messages": objects}), 400, "BAD_REQUEST",
                 str(MAX_DESTINATIONS), "per request")
    assert client.get(LOGS).json == {"results": []}
