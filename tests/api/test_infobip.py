"""The Infobip-style dialect end to end: real Gateway, real Store, WSGI in-process.

Shapes are compared with the spec's examples (field names, order-free; status objects exactly).
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.api import build_app
from gateway.clock import ManualClock
from gateway.errors import AtTimeoutError
from gateway.service import Gateway
from gateway.sms import decode_pdu
from gateway.store import Store
from gateway.store.records import InboundRecord
from tests.hashing import CHEAP_HASHER
from tests.api.conftest import ALICE, START, Client, Response, make_config

SINGLE = "/restapi/sms/1/text/single"
MULTI = "/restapi/sms/1/text/multi"
BINARY = "/restapi/sms/1/binary/single"
BINARY_MULTI = "/restapi/sms/1/binary/multi"
ADVANCED = "/restapi/sms/1/text/advanced"
REPORTS = "/restapi/sms/1/reports"
LOGS = "/restapi/sms/1/logs"
INBOX = "/restapi/sms/1/inbox/reports"
INBOX_LOGS = "/restapi/sms/1/inbox/logs"
BALANCE = "/restapi/account/1/balance"

ACCEPTED = {"groupId": 0, "groupName": "ACCEPTED", "id": 0, "name": "MESSAGE_ACCEPTED",
            "description": "Message accepted"}
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET",
             "description": "Message delivered to handset"}
NO_ERROR = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error",
            "permanent": False}
GALAXY = ("A long time ago, in a galaxy far, far away... It is a period of civil war. Rebel spaceships, "
          "striking from a hidden base, have won their first victory against the evil Galactic Empire.")
SEND_KEYS = {"to", "status", "smsCount", "messageId"}
REPORT_KEYS = {"bulkId", "messageId", "to", "sentAt", "doneAt", "smsCount", "price", "status", "error"}
LOG_KEYS = REPORT_KEYS | {"from", "text", "mccmnc"}
DATE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$"


def assert_error(r: Response, status: int, code: str, *fragments: str) -> None:
    assert r.status == status, r.body
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json
    assert set(body) == {"requestError"} and set(body["requestError"]) == {"serviceException"}
    exc = body["requestError"]["serviceException"]
    assert exc["messageId"] == code
    for fragment in fragments:
        assert fragment in exc["text"], exc["text"]


def settle(store: Store, clock: ManualClock, *, delivered: bool = True) -> None:
    """Play the dispatcher and the network: every queued part sent, then reported."""
    now = clock.now().timestamp()
    while (job := store.claim_next_part(now)) is not None:
        mr = job.part_id % 256
        store.record_part_sent(job.part_id, mr, now, status_report=True)
        store.apply_status_report(job.destination[-9:], mr, 0x00 if delivered else 0x41, now)


def send(client: Client, to: Any = "41793026727", text: str = "Test SMS.", **extra: Any) -> dict[str, Any]:
    r = client.post(SINGLE, {"from": "InfoSMS", "to": to, "text": text, **extra})
    assert r.status == 200, r.body
    return r.json  # type: ignore[no-any-return]


# --- sending ---------------------------------------------------------------------------------


def test_text_single_one_destination_matches_the_spec(client: Client) -> None:
    r = client.post(SINGLE, {"from": "InfoSMS", "to": "41793026727", "text": "Test SMS."},
                    headers={"Accept": "application/json"})
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json
    assert set(body) == {"messages"}  # no bulkId for one destination
    (message,) = body["messages"]
    assert set(message) == SEND_KEYS
    assert message["to"] == "41793026727"
    assert message["status"] == ACCEPTED
    assert message["smsCount"] == 1
    assert isinstance(message["messageId"], str) and message["messageId"]


def test_text_single_many_destinations_has_a_bulk_id(client: Client) -> None:
    body = send(client, ["41793026727", "41793026834"])
    assert isinstance(body["bulkId"], str) and body["bulkId"]
    assert [m["to"] for m in body["messages"]] == ["41793026727", "41793026834"]
    assert len({m["messageId"] for m in body["messages"]}) == 2
    logs = client.get(LOGS, query={"bulkId": body["bulkId"]}).json["results"]
    assert len(logs) == 2


def test_long_text_counts_parts(client: Client) -> None:
    assert send(client, text=GALAXY)["messages"][0]["smsCount"] == 2


def test_message_too_long_is_rejected_in_a_200(client: Client) -> None:
    (message,) = send(client, text="x" * 1600)["messages"]
    assert message["status"] == {"groupId": 5, "groupName": "REJECTED", "id": 25,
                                 "name": "REJECTED_MESSAGE_TOO_LONG", "description": "Rejected message too long"}
    (report,) = client.get(REPORTS).json["results"]  # final at once, so reported at once
    assert report["messageId"] == message["messageId"]
    assert report["status"]["name"] == "REJECTED_MESSAGE_TOO_LONG"


def test_text_multi_matches_the_spec(client: Client) -> None:
    r = client.post(MULTI, {"messages": [
        {"from": "InfoSMS", "to": ["41793026727", "41793026731"], "text": "May the Force be with you!"},
        {"from": "41793026700", "to": "41793026785", "text": GALAXY},
    ]})
    assert r.status == 200, r.body
    body = r.json
    assert set(body) == {"bulkId", "messages"}
    assert [(m["to"], m["smsCount"]) for m in body["messages"]] == [
        ("41793026727", 1), ("41793026731", 1), ("41793026785", 2)]
    assert all(set(m) == SEND_KEYS and m["status"] == ACCEPTED for m in body["messages"])
    logs = client.get(LOGS, query={"bulkId": body["bulkId"]}).json["results"]
    assert {m["from"] for m in logs} == {"InfoSMS", "41793026700"}


def test_multi_refuses_a_bad_number_before_storing_anything(client: Client) -> None:
    r = client.post(MULTI, {"messages": [
        {"to": "41793026727", "text": "first"},
        {"to": ["41793026785", "not-a-number"], "text": "second"},
    ]})
    assert_error(r, 400, "BAD_REQUEST", "messages[1].to[1]")
    assert client.get(LOGS).json["results"] == []


def test_multi_later_refusal_names_what_was_already_accepted(client: Client) -> None:
    r = client.post(MULTI, {"messages": [
        {"to": "41793026727", "text": "first"},
        {"from": "far-too-long-sender-id", "to": "41793026785", "text": "second"},
    ]})
    assert_error(r, 400, "BAD_REQUEST", "messages[1]", "from", "accepted")
    (stored,) = client.get(LOGS).json["results"]
    assert stored["messageId"] in r.json["requestError"]["serviceException"]["text"]


def test_binary_single_matches_the_spec_and_encodes_the_octets(client: Client, store: Store,
                                                               clock: ManualClock) -> None:
    r = client.post(BINARY, {"from": "InfoSMS", "to": "41793026727", "binary": {
        "hex": "54 65 73 74 20 6d 65 73 73 61 67 65 2e", "dataCoding": 0, "esmClass": 0}})
    assert r.status == 200, r.body
    (message,) = r.json["messages"]
    assert set(message) == SEND_KEYS and message["status"] == ACCEPTED and message["smsCount"] == 1
    job = store.claim_next_part(clock.now().timestamp())
    submit = decode_pdu(job.pdu)
    assert submit.dcs == 0 and submit.text == "Test message."


def test_binary_with_udh_splits_the_header_from_the_data(client: Client, store: Store,
                                                         clock: ManualClock) -> None:
    # UDHL=6, IE 0x05 (16-bit ports) len 4: 0x158A -> 0x0000; then 3 data octets.
    r = client.post(BINARY, {"to": "41793026727", "binary": {
        "hex": "06 05 04 15 8a 00 00 0f c2 4a", "dataCoding": 4, "esmClass": 64}})
    assert r.status == 200, r.body
    submit = decode_pdu(store.claim_next_part(clock.now().timestamp()).pdu)
    assert submit.udhi and submit.data == bytes.fromhex("0fc24a")
    assert submit.ports is not None and submit.ports.destination == 0x158A


def test_binary_ucs2_without_spaces(client: Client, store: Store, clock: ManualClock) -> None:
    r = client.post(BINARY, {"to": "41793026727", "binary": {"hex": "04140430", "dataCoding": 8}})
    assert r.status == 200, r.body
    assert decode_pdu(store.claim_next_part(clock.now().timestamp()).pdu).text == "Да"


def test_binary_multi_matches_the_spec(client: Client) -> None:
    r = client.post(BINARY_MULTI, {"messages": [
        {"from": "InfoSMS", "to": ["41793026727", "41793026731"],
         "binary": {"hex": "54 65 73 74 20 6d 65 73 73 61 67 65 2e", "dataCoding": 0, "esmClass": 0}},
        {"from": "41793026700", "to": "41793026785",
         "binary": {"hex": "d1 82 d0 b5 d1 81 d1 82 d0 b8 d1 80 d0 b0 d1 9a d0 b5 20 d1 9b d0 b8 d1 80 d0 b8 d0 bb"
                           " d0 b8 d1 86 d0 b5", "dataCoding": 6, "esmClass": 0}},
    ]})
    assert r.status == 200, r.body
    assert set(r.json) == {"bulkId", "messages"} and len(r.json["messages"]) == 3


ADVANCED_EXAMPLE: dict[str, Any] = {
    "bulkId": "BULK-ID-123-xyz",
    "messages": [
        {
            "from": "InfoSMS",
            "destinations": [{"to": "41793026727", "messageId": "MESSAGE-ID-123-xyz"}, {"to": "41793026731"}],
            "text": "Artık Ulusal Dil Tanımlayıcısı ile Türkçe karakterli smslerinizi rahatlıkla iletebilirsiniz.",
            "flash": False,
            "language": {"languageCode": "TR", "singleShift": True, "lockingShift": False},
            "transliteration": "TURKISH",
            "validityPeriod": 86400000,
        },
        {"from": "41793026700", "destinations": [{"to": "41793026785"}], "text": GALAXY},
    ],
}


def test_text_advanced_matches_the_spec(client: Client, gateway: Gateway) -> None:
    r = client.post(ADVANCED, ADVANCED_EXAMPLE)
    assert r.status == 200, r.body
    body = r.json
    assert body["bulkId"] == "BULK-ID-123-xyz"
    assert [m["to"] for m in body["messages"]] == ["41793026727", "41793026731", "41793026785"]
    assert body["messages"][0]["messageId"] == "MESSAGE-ID-123-xyz"
    assert body["messages"][2]["smsCount"] == 2
    assert all(set(m) == SEND_KEYS and m["status"] == ACCEPTED for m in body["messages"])
    alice = gateway.authenticate(*ALICE)
    record = gateway.store.message(alice.id, "MESSAGE-ID-123-xyz")
    assert record is not None and record.expires_at - record.created_at == pytest.approx(86400)
    logs = client.get(LOGS, query={"bulkId": "BULK-ID-123-xyz"}).json["results"]
    assert len(logs) == 3


@pytest.mark.parametrize(("millis", "minutes"), [(1, 1), (60_000, 1), (90_000, 2), (10 * 86400_000, 2880)])
def test_advanced_validity_is_milliseconds_capped_at_48h(client: Client, gateway: Gateway, millis: int,
                                                          minutes: int) -> None:
    r = client.post(ADVANCED, {"messages": [{"destinations": [{"to": "41793026727", "messageId": "v"}],
                                             "text": "hi", "validityPeriod": millis}]})
    assert r.status == 200, r.body
    record = gateway.store.message(gateway.authenticate(*ALICE).id, "v")
    assert record.expires_at - record.created_at == pytest.approx(minutes * 60)


def test_advanced_flash_sends_class_0(client: Client, store: Store, clock: ManualClock) -> None:
    r = client.post(ADVANCED, {"messages": [{"destinations": [{"to": "41793026727"}], "text": "hi", "flash": True}]})
    assert r.status == 200, r.body
    assert "bulkId" not in r.json
    assert decode_pdu(store.claim_next_part(clock.now().timestamp()).pdu).message_class == 0


def test_duplicate_message_id_is_rejected_per_destination(client: Client, bob: Client) -> None:
    payload = {"messages": [{"destinations": [{"to": "41793026727", "messageId": "dup-1"}], "text": "hi"}]}
    assert client.post(ADVANCED, payload).json["messages"][0]["status"] == ACCEPTED
    (again,) = client.post(ADVANCED, payload).json["messages"]
    assert again["status"] == {"groupId": 5, "groupName": "REJECTED", "id": 23,
                               "name": "REJECTED_DUPLICATE_MESSAGE_ID",
                               "description": "Rejected duplicate message ID"}
    assert bob.post(ADVANCED, payload).json["messages"][0]["status"] == ACCEPTED  # ids are per account
    twice = {"messages": [{"destinations": [{"to": "41793026727", "messageId": "dup-2"},
                                            {"to": "41793026731", "messageId": "dup-2"}], "text": "hi"}]}
    names = [m["status"]["name"] for m in client.post(ADVANCED, twice).json["messages"]]
    assert names == ["MESSAGE_ACCEPTED", "REJECTED_DUPLICATE_MESSAGE_ID"]


@pytest.mark.parametrize("field", ["notifyUrl", "notifyContentType", "callbackData", "sendAt"])
def test_advanced_unsupported_fields_are_refused_not_ignored(client: Client, field: str) -> None:
    message = {"destinations": [{"to": "41793026727"}], "text": "hi", field: "2030-01-01T00:00:00.000+0000"}
    r = client.post(ADVANCED, {"messages": [{"destinations": [{"to": "41793026785"}], "text": "x"}, message]})
    assert_error(r, 400, "BAD_REQUEST", f"messages[1].{field}", "not supported")
    assert client.get(LOGS).json["results"] == []


# --- refusals --------------------------------------------------------------------------------

BAD_SINGLE: list[tuple[str, Any, str]] = [
    ("to is a number", {"to": 41793026727, "text": "x"}, "to:"),
    ("to missing", {"text": "x"}, "to: required"),
    ("to empty list", {"to": [], "text": "x"}, "to: required"),
    ("to list with a number", {"to": ["41793026727", 5], "text": "x"}, "to:"),
    ("to not a number", {"to": "call me", "text": "x"}, "to"),
    ("to too short", {"to": "12", "text": "x"}, "to"),
    ("text an object", {"to": "41793026727", "text": {"a": 1}}, "text:"),
    ("text missing", {"to": "41793026727"}, "text: required"),
    ("text a lone surrogate", {"to": "41793026727", "text": "\ud800"}, "text"),
    ("from a number", {"from": 5, "to": "41793026727", "text": "x"}, "from:"),
    ("from too long", {"from": "far-too-long-sender", "to": "41793026727", "text": "x"}, "from"),
    ("flash a string", {"to": "41793026727", "text": "x", "flash": "yes"}, "flash"),
    ("validity zero", {"to": "41793026727", "text": "x", "validityPeriod": 0}, "validityPeriod"),
    ("validity a string", {"to": "41793026727", "text": "x", "validityPeriod": "1h"}, "validityPeriod"),
    ("language not an object", {"to": "41793026727", "text": "x", "language": "TR"}, "language"),
    ("body an array", [{"to": "41793026727", "text": "x"}], "request body must be an object"),
    ("body a string", "hello", "request body must be an object"),
]


@pytest.mark.parametrize(("payload", "fragment"), [(p, f) for _, p, f in BAD_SINGLE],
                         ids=[name for name, _, _ in BAD_SINGLE])
def test_text_single_refusals(client: Client, payload: Any, fragment: str) -> None:
    assert_error(client.post(SINGLE, payload), 400, "BAD_REQUEST", fragment)


@pytest.mark.parametrize(("body", "fragment"), [
    (b'{"to": "41793026727", "text": ', "malformed JSON"),
    (b'{"to": "41793026727", "text": NaN}', "malformed JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    (b"   ", "empty"),
])
def test_malformed_bodies(client: Client, body: bytes, fragment: str) -> None:
    r = client.request("POST", SINGLE, body=body, content_type="application/json")
    assert_error(r, 400, "BAD_REQUEST", fragment)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(client: Client, content_type: str | None) -> None:
    r = client.request("POST", SINGLE, body=b'{"to":"41793026727","text":"x"}', content_type=content_type)
    assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type")


def test_body_over_one_mebibyte_is_413(client: Client) -> None:
    r = client.post(SINGLE, {"to": "41793026727", "text": "x" * (1024 * 1024)})
    assert_error(r, 413, "PAYLOAD_TOO_LARGE", "too large")


BAD_BINARY: list[tuple[Any, str]] = [
    ({"to": "41793026727"}, "binary: required"),
    ({"to": "41793026727", "binary": "0f c2"}, "binary must be an object"),
    ({"to": "41793026727", "binary": {}}, "binary.hex: required"),
    ({"to": "41793026727", "binary": {"hex": "zz"}}, "binary.hex"),
    ({"to": "41793026727", "binary": {"hex": "0f c"}}, "binary.hex"),
    ({"to": "41793026727", "binary": {"hex": "0f", "dataCoding": 300}}, "binary.dataCoding"),
    ({"to": "41793026727", "binary": {"hex": "0f", "esmClass": "x"}}, "binary.esmClass"),
    ({"to": "41793026727", "binary": {"hex": "05 00 03", "esmClass": 64}}, "overruns"),
    ({"to": "41793026727", "binary": {"hex": "ff 80", "dataCoding": 0}}, "septet"),
]


@pytest.mark.parametrize(("payload", "fragment"), BAD_BINARY)
def test_binary_refusals(client: Client, payload: Any, fragment: str) -> None:
    assert_error(client.post(BINARY, payload), 400, "BAD_REQUEST", fragment)


@pytest.mark.parametrize(("path", "payload", "fragment"), [
    (MULTI, {}, "messages: required"),
    (MULTI, {"messages": {"to": "41793026727", "text": "x"}}, "messages: must be an array"),
    (MULTI, {"messages": ["x"]}, "messages[0] must be an object"),
    (BINARY_MULTI, {"messages": [{"to": "41793026727"}]}, "messages[0].binary: required"),
    (ADVANCED, {"messages": [{"to": "41793026727", "text": "x"}]}, "messages[0].destinations: required"),
    (ADVANCED, {"messages": [{"destinations": [{}], "text": "x"}]}, "messages[0].destinations[0].to: required"),
    (ADVANCED, {"messages": [{"destinations": "41793026727", "text": "x"}]}, "destinations: must be an array"),
    (ADVANCED, {"bulkId": 7, "messages": [{"destinations": [{"to": "41793026727"}], "text": "x"}]}, "bulkId"),
    (ADVANCED, {"bulkId": "b" * 101, "messages": [{"destinations": [{"to": "41793026727"}], "text": "x"}]},
     "bulkId: at most 100"),
    (ADVANCED, {"messages": [{"destinations": [{"to": "41793026727", "messageId": "m" * 101}], "text": "x"}]},
     "messages[0].destinations[0].messageId: at most 100"),
    (ADVANCED, {"messages": [{"destinations": [{"to": "41793026727"}], "text": "x", "transliteration": "KLINGON"}]},
     "KLINGON"),
])
def test_multi_and_advanced_refusals(client: Client, path: str, payload: Any, fragment: str) -> None:
    assert_error(client.post(path, payload), 400, "BAD_REQUEST", fragment)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
SEND_FIELDS = st.fixed_dictionaries({}, optional={
    "from": JSON_VALUES | st.sampled_from(["InfoSMS", "41793026700", ""]),
    "to": JSON_VALUES | st.sampled_from(["41793026727", ["41793026727", "41793026731"]]),
    "text": JSON_VALUES | st.text(max_size=400),
    "flash": JSON_VALUES, "validityPeriod": JSON_VALUES, "language": JSON_VALUES,
    "transliteration": JSON_VALUES | st.sampled_from(["TURKISH", "GREEK", "NONE", "KLINGON"]),
    "languageCode": JSON_VALUES | st.sampled_from(["TR", "ES", "PT", "XX"]),
    "binary": JSON_VALUES | st.fixed_dictionaries({"hex": st.sampled_from(["0f c2", "05 00 03 01 02 01 41", "zz"]),
                                                   "esmClass": st.sampled_from([0, 64, -1]),
                                                   "dataCoding": st.integers(-1, 260)}),
})

# Mostly valid requests with random optional extras, so the encoding paths get random input too.
MOSTLY_VALID = st.fixed_dictionaries(
    {"to": st.sampled_from(["41793026727", ["41793026727", "+41 79 302 67 31"]]), "text": st.text(max_size=500)},
    optional={"from": st.sampled_from(["InfoSMS", "41793026700"]), "flash": st.booleans(),
              "validityPeriod": st.integers(-5, 10**12), "transliteration": st.text(max_size=12),
              "language": st.fixed_dictionaries({}, optional={
                  "languageCode": st.text(max_size=3) | st.sampled_from(["TR", "ES", "PT"]),
                  "singleShift": st.booleans(), "lockingShift": st.booleans()}),
              "binary": st.fixed_dictionaries({"hex": st.binary(max_size=300).map(bytes.hex)}, optional={
                  "esmClass": st.sampled_from([0, 64, 3]), "dataCoding": st.integers(0, 255)})},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=MOSTLY_VALID | SEND_FIELDS | JSON_VALUES, path=st.sampled_from([SINGLE, BINARY]))
def test_random_json_never_causes_a_500(client: Client, payload: Any, path: str) -> None:
    r = client.post(path, payload) if payload is not None else client.request(
        "POST", path, body=b"null", content_type="application/json")
    assert r.status in (200, 400), r.body
    event(f"HTTP {r.status}")
    if r.status == 400:
        assert r.json["requestError"]["serviceException"]["messageId"] == "BAD_REQUEST"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(MOSTLY_VALID | SEND_FIELDS, max_size=3) | JSON_VALUES, path=st.sampled_from([MULTI, BINARY_MULTI]))
def test_random_multi_never_causes_a_500(client: Client, messages: Any, path: str) -> None:
    r = client.post(path, {"messages": messages})
    assert r.status in (200, 400), r.body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200), ctype=st.sampled_from(["application/json", "application/xml"]))
def test_random_bytes_never_cause_a_500(client: Client, body: bytes, ctype: str) -> None:
    r = client.request("POST", SINGLE, body=body, content_type=ctype)
    assert r.status in (200, 400), r.body


# --- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [REPORTS, LOGS, INBOX, INBOX_LOGS, BALANCE])
@pytest.mark.parametrize("auth", [None, ("alice", "wrong-password"), ("nobody", "whatever1")])
def test_every_route_needs_valid_credentials(client: Client, path: str, auth: Any) -> None:
    r = client.get(path, auth=auth)
    assert_error(r, 401, "UNAUTHORIZED")
    assert r.headers["WWW-Authenticate"] == 'Basic realm="simgate"'


@pytest.mark.parametrize("header", ["Bearer abc", "Basic", "Basic !!!!", "Basic YWxpY2U=", "Basic //79"])
def test_malformed_authorization_headers_are_401(client: Client, header: str) -> None:
    r = client.post(SINGLE, {"to": "41793026727", "text": "x"}, auth=None, headers={"Authorization": header})
    assert_error(r, 401, "UNAUTHORIZED")
    assert client.get(LOGS).json["results"] == []


def test_accounts_see_only_their_own_messages(client: Client, bob: Client, store: Store,
                                              clock: ManualClock) -> None:
    mine = send(client)["messages"][0]["messageId"]
    settle(store, clock)
    assert bob.get(LOGS).json["results"] == []
    assert bob.get(LOGS, query={"messageId": mine}).json["results"] == []
    assert bob.get(REPORTS).json["results"] == []
    assert [m["messageId"] for m in client.get(REPORTS).json["results"]] == [mine]


# --- reports and logs ------------------------------------------------------------------------


def test_reports_match_the_spec_and_are_returned_once(client: Client, store: Store, clock: ManualClock) -> None:
    sent = send(client, ["41793026727", "41793026834"])
    assert client.get(REPORTS).json == {"results": []}  # nothing final yet
    clock.advance(2.5)
    settle(store, clock)
    results = client.get(REPORTS).json["results"]
    assert len(results) == 2
    for report in results:
        assert set(report) == REPORT_KEYS
        assert report["bulkId"] == sent["bulkId"]
        assert report["sentAt"] == "2026-03-01T12:00:02.623+0000"  # first part handed to the network
        assert report["doneAt"] == "2026-03-01T12:00:02.623+0000"
        assert report["smsCount"] == 1
        assert report["price"] == {"pricePerMessage": 0.01, "currency": "EUR"}
        assert report["status"] == DELIVERED
        assert report["error"] == NO_ERROR
    assert client.get(REPORTS).json == {"results": []}


def test_reports_filters_and_limit(client: Client, store: Store, clock: ManualClock) -> None:
    bulk = send(client, ["41793026727", "41793026834", "41793026835"])
    single = send(client, "41793026999")["messages"][0]["messageId"]
    settle(store, clock)
    (one,) = client.get(REPORTS, query={"messageId": single}).json["results"]
    assert one["messageId"] == single and "bulkId" not in one
    first = client.get(REPORTS, query={"bulkId": bulk["bulkId"], "limit": "2"}).json["results"]
    rest = client.get(REPORTS, query={"bulkId": bulk["bulkId"]}).json["results"]
    assert len(first) == 2 and len(rest) == 1
    assert {m["messageId"] for m in first + rest} == {m["messageId"] for m in bulk["messages"]}


def test_undeliverable_report_carries_the_error(client: Client, store: Store, clock: ManualClock) -> None:
    send(client)
    settle(store, clock, delivered=False)
    (report,) = client.get(REPORTS).json["results"]
    assert report["status"]["name"] == "UNDELIVERABLE_NOT_DELIVERED"
    assert report["status"]["groupName"] == "UNDELIVERABLE"
    assert report["error"] == {"groupId": 2, "groupName": "USER_ERRORS", "id": 36,
                               "name": "EC_UNEXPECTED_DATA_VALUE", "description": "Unexpected Data Value",
                               "permanent": True}


@pytest.mark.parametrize(("query", "fragment"), [
    ({"limit": "abc"}, "limit"), ({"limit": "0"}, "limit"), ({"limit": "5000"}, "limit"), ({"limit": "-1"}, "limit"),
])
def test_reports_bad_limit(client: Client, query: dict[str, str], fragment: str) -> None:
    assert_error(client.get(REPORTS, query=query), 400, "BAD_REQUEST", fragment)


def test_logs_match_the_spec(client: Client, store: Store, clock: ManualClock) -> None:
    pending = send(client)["messages"][0]["messageId"]
    (log,) = client.get(LOGS).json["results"]
    assert set(log) == LOG_KEYS - {"bulkId"}
    assert log["messageId"] == pending
    assert (log["from"], log["to"], log["text"]) == ("InfoSMS", "41793026727", "Test SMS.")
    assert log["doneAt"] is None and log["mccmnc"] is None
    assert log["status"]["groupName"] == "PENDING"
    clock.advance(1)
    settle(store, clock)
    (log,) = client.get(LOGS).json["results"]
    assert log["doneAt"] == "2026-03-01T12:00:01.123+0000"
    assert log["status"] == DELIVERED and log["error"] == NO_ERROR
    assert client.get(LOGS).json["results"] == [log]  # logs, unlike reports, repeat


def test_logs_filters(client: Client, store: Store, clock: ManualClock) -> None:
    a = send(client, ["41793026727", "41793026731"])
    clock.advance(3600)
    b = send(client, ["41793026727", "41793026732"], text="later")
    clock.advance(3600)
    c = send(client, "41793026733", **{"from": "Other"})["messages"][0]["messageId"]
    ids = lambda r: sorted(m["messageId"] for m in r.json["results"])  # noqa: E731
    assert len(client.get(LOGS, query={"to": "41793026727"}).json["results"]) == 2
    assert ids(client.get(LOGS, query={"from": "Other"})) == [c]
    assert len(client.get(LOGS, query={"to": "41793026727", "limit": "1"}).json["results"]) == 1
    both = sorted(m["messageId"] for m in a["messages"] + b["messages"])
    assert ids(client.get(LOGS, query={"bulkId": f"{a['bulkId']},{b['bulkId']}"})) == both
    assert ids(client.get(LOGS, query=[("bulkId", a["bulkId"]), ("bulkId", b["bulkId"])])) == both
    two = [a["messages"][0]["messageId"], c]
    assert ids(client.get(LOGS, query={"messageId": ",".join(two)})) == sorted(two)
    since = (START + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    until = (START + timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert ids(client.get(LOGS, query={"sentSince": since, "sentUntil": until})) == sorted(
        m["messageId"] for m in b["messages"])
    settle(store, clock)
    assert len(client.get(LOGS, query={"generalStatus": "DELIVERED"}).json["results"]) == 5
    assert client.get(LOGS, query={"generalStatus": "PENDING"}).json["results"] == []


@pytest.mark.parametrize("raw", [
    "2026-03-01T13:30:00.000+0100", "2026-03-01T13:30:00.000+01:00", "2026-03-01T12:30:00Z",
    "2026-03-01T12:30:00", "2026-03-01T13:30:00.000 01:00",  # an unencoded '+' arrives as a space
])
def test_logs_accept_date_variants(client: Client, clock: ManualClock, raw: str) -> None:
    send(client)
    clock.advance(3600)
    late = send(client)["messages"][0]["messageId"]
    assert [m["messageId"] for m in client.get(LOGS, query={"sentSince": raw}).json["results"]] == [late]


@pytest.mark.parametrize(("query", "fragment"), [
    ({"sentSince": "yesterday"}, "sentSince"), ({"sentUntil": "2026-13-01T00:00:00Z"}, "sentUntil"),
    ({"generalStatus": "FOO"}, "generalStatus"), ({"to": "abc"}, "to"), ({"limit": "x"}, "limit"),
    ({"mcc": "228"}, "mcc"), ({"mnc": "01"}, "mnc"),
])
def test_logs_refusals(client: Client, query: dict[str, str], fragment: str) -> None:
    assert_error(client.get(LOGS, query=query), 400, "BAD_REQUEST", fragment)


# --- inbox -----------------------------------------------------------------------------------


def _inbound(store: Store, clock: ManualClock, message_id: str, text: str, keyword: str | None,
             receiver: str = "41793026727") -> None:
    clean = text.split(" ", 1)[1] if keyword else text
    store.insert_inbound(InboundRecord(message_id=message_id, sender="38598111", receiver=receiver, text=text, data=None,
                         keyword=keyword, clean_text=clean, sms_count=1, complete=True,
                         received_at=clock.now().timestamp()))
    clock.advance(1)


def test_inbox_reports_match_the_spec_and_are_returned_once(client: Client, bob: Client, store: Store,
                                                            clock: ManualClock) -> None:
    _inbound(store, clock, "in-1", "KEY Test message", "KEY")
    _inbound(store, clock, "in-2", "no keyword here", None)
    first = client.get(INBOX, query={"limit": "1"}).json
    assert first == {"results": [{
        "messageId": "in-1", "from": "38598111", "to": "41793026727", "text": "KEY Test message",
        "cleanText": "Test message", "keyword": "KEY", "receivedAt": "2026-03-01T12:00:00.123+0000",
        "smsCount": 1}]}
    (second,) = client.get(INBOX).json["results"]
    assert second["messageId"] == "in-2" and "keyword" not in second
    assert client.get(INBOX).json == {"results": []}
    assert len(bob.get(INBOX).json["results"]) == 2  # each account pulls the SIM's inbox once


def test_inbox_logs_filters(client: Client, store: Store, clock: ManualClock) -> None:
    _inbound(store, clock, "in-1", "HEY hello world", "HEY")
    _inbound(store, clock, "in-2", "KEY hello world", "KEY", receiver="13372")
    _inbound(store, clock, "in-3", "Message without keyword", None)
    ids = lambda **q: [m["messageId"] for m in client.get(INBOX_LOGS, query=q).json["results"]]  # noqa: E731
    assert ids() == ["in-3", "in-2", "in-1"]
    assert ids() == ["in-3", "in-2", "in-1"]  # logs repeat
    assert ids(keyword="key") == ["in-2"]
    assert ids(keyword="NO_KEYWORD") == ["in-3"]
    assert ids(to="13372") == ["in-2"]
    assert ids(receivedSince="2026-03-01T12:00:01.000+0000", limit="1") == ["in-3"]
    assert ids(receivedUntil="2026-03-01T12:00:01.500+0000") == ["in-2", "in-1"]
    log = client.get(INBOX_LOGS, query={"keyword": "HEY"}).json["results"][0]
    assert set(log) == {"messageId", "from", "to", "text", "cleanText", "keyword", "receivedAt", "smsCount"}


@pytest.mark.parametrize(("path", "query", "fragment"), [
    (INBOX, {"limit": "many"}, "limit"), (INBOX, {"limit": "0"}, "limit"),
    (INBOX_LOGS, {"receivedSince": "2026-02-30T00:00:00Z"}, "receivedSince"),
    (INBOX_LOGS, {"receivedUntil": "soon"}, "receivedUntil"),
])
def test_inbox_refusals(client: Client, path: str, query: dict[str, str], fragment: str) -> None:
    assert_error(client.get(path, query=query), 400, "BAD_REQUEST", fragment)


# --- balance ---------------------------------------------------------------------------------


class _Modem:
    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer

    def health(self) -> dict[str, Any]:
        return {"state": "ready"}

    def ussd(self, code: str, timeout: float = 30) -> str:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _balance_client(store: Store, clock: ManualClock, modem: _Modem | None, ussd: str = "*100#") -> Client:
    gw = Gateway(store, make_config(balance_ussd=ussd, currency="CHF"), clock=clock, modem=modem, hasher=CHEAP_HASHER)
    gw.create_account(*ALICE)
    return Client(build_app(gw))


def test_balance_matches_the_spec(store: Store, clock: ManualClock) -> None:
    r = _balance_client(store, clock, _Modem("Your balance is 47,79 CHF.")).get(BALANCE)
    assert r.status == 200 and r.json == {"balance": 47.79, "currency": "CHF"}


def test_balance_without_ussd_code_is_a_clear_501(client: Client) -> None:
    """Not the client's mistake (400): the operator has not configured a balance code."""
    assert_error(client.get(BALANCE), 501, "NOT_IMPLEMENTED", "account.balance_ussd")


@pytest.mark.parametrize(("modem", "status", "code"), [
    (None, 503, "SERVICE_UNAVAILABLE"),
    (_Modem(AtTimeoutError("AT+CUSD=1", 30)), 503, "SERVICE_UNAVAILABLE"),
    (_Modem("Sorry, service unavailable"), 502, "BAD_GATEWAY"),
])
def test_balance_failures(store: Store, clock: ManualClock, modem: _Modem | None, status: int, code: str) -> None:
    assert_error(_balance_client(store, clock, modem).get(BALANCE), status, code)


# --- plumbing seen through the dialect -------------------------------------------------------


def test_unknown_route_and_wrong_method_use_the_dialect_shape(client: Client) -> None:
    assert_error(client.get("/restapi/sms/2/text/single"), 404, "NOT_FOUND", "/restapi/sms/2/text/single")
    r = client.get(SINGLE)
    assert_error(r, 405, "METHOD_NOT_ALLOWED", "GET")
    assert r.headers["Allow"] == "POST"


def test_unexpected_exception_is_a_generic_500(client: Client, gateway: Gateway,
                                               monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(gateway, "reports", explode)
    r = client.get(REPORTS)
    assert_error(r, 500, "GENERAL_ERROR", "log")
    assert b"secret" not in r.body and b"Traceback" not in r.body
    assert "secret internal detail" in caplog.text


def test_secrets_never_reach_the_log(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    client.get(LOGS, auth=("alice", "not-her-password-xyz"))
    client.post(SINGLE, {"to": "nope", "text": "x"})
    assert "not-her-password-xyz" not in caplog.text
    assert "Authorization" not in caplog.text


# --- XML -------------------------------------------------------------------------------------

XML_HEADERS = {"Accept": "application/xml"}


def test_xml_single_request_and_response(client: Client) -> None:
    body = b"""<request><from>InfoSMS</from><to><to>41793026727</to><to>41793026834</to></to>
               <text>Test SMS.</text></request>"""
    r = client.request("POST", SINGLE, body=body, content_type="application/xml", headers=XML_HEADERS)
    assert r.status == 200, r.body
    assert r.headers["Content-Type"].startswith("application/xml")
    root = r.xml
    assert root.tag == "SMSResponse" and root.findtext("bulkId")
    items = root.findall("messages/messages")
    assert [m.findtext("to") for m in items] == ["41793026727", "41793026834"]
    status = items[0].find("status")
    assert {child.tag: child.text for child in status} == {k: str(v) for k, v in ACCEPTED.items()}


def test_xml_multi_and_advanced_requests(client: Client) -> None:
    multi = b"""<request><messages><messages><from>InfoSMS</from><to><to>41793026727</to></to>
                <text>May the Force be with you!</text></messages>
                <messages><to><to>41793026785</to></to><text>second</text></messages></messages></request>"""
    r = client.request("POST", MULTI, body=multi, content_type="application/xml")
    assert r.status == 200, r.body
    assert len(r.json["messages"]) == 2  # JSON answer: Accept was not XML
    advanced = b"""<request><bulkId>B-1</bulkId><messages><from>InfoSMS</from>
                   <destinations><to>41793026727</to><messageId>M-1</messageId></destinations>
                   <destinations><to>41793026731</to></destinations><text>hi</text><flash>false</flash>
                   <language><languageCode>TR</languageCode><singleShift>true</singleShift></language>
                   <validityPeriod>86400000</validityPeriod></messages></request>"""
    r = client.request("POST", ADVANCED, body=advanced, content_type="application/xml")
    assert r.status == 200, r.body
    assert r.json["bulkId"] == "B-1" and r.json["messages"][0]["messageId"] == "M-1"


def test_xml_reports_logs_and_errors(client: Client, store: Store, clock: ManualClock) -> None:
    send(client)
    settle(store, clock)
    logs = client.get(LOGS, headers=XML_HEADERS).xml
    assert logs.tag == "SMSLogsResponse"
    assert logs.findtext("results/results/status/name") == "DELIVERED_TO_HANDSET"
    assert logs.findtext("results/results/error/permanent") == "false"
    assert client.get(REPORTS, headers=XML_HEADERS).xml.tag == "SMSReportResponse"
    error = client.get(LOGS, query={"limit": "x"}, headers=XML_HEADERS)
    assert error.status == 400 and error.xml.tag == "requestError"
    assert error.xml.findtext("serviceException/messageId") == "BAD_REQUEST"


@pytest.mark.parametrize(("body", "fragment"), [
    (b"<request><to>41793026727</to>", "malformed XML"),
    (b'<!DOCTYPE r [<!ENTITY a "aaaa">]><request><text>&a;</text></request>', "DOCTYPE"),
    (b"<request><to><to>41793026727</to></to><flash>maybe</flash><text>x</text></request>", "flash"),
    (b"<request><to><to>41793026727</to></to></request>", "text: required"),
    (b"<a>" * 100_000 + b"</a>" * 100_000, "nested too deeply"),
])
def test_xml_refusals(client: Client, body: bytes, fragment: str) -> None:
    r = client.request("POST", SINGLE, body=body, content_type="application/xml")
    assert_error(r, 400, "BAD_REQUEST", fragment)


def test_json_accept_wins_ties_and_unknown_accept_gets_json(client: Client) -> None:
    assert client.get(LOGS, headers={"Accept": "text/html"}).headers["Content-Type"].startswith("application/json")
    r = client.get(LOGS, headers={"Accept": "application/json;q=0.5, application/xml"})
    assert r.headers["Content-Type"].startswith("application/xml")
    json.loads(client.get(LOGS, headers={"Accept": "*/*"}).body)


def test_xml_keeps_message_text_verbatim(client: Client) -> None:
    body = b"<request><to><to>41793026727</to></to><text>  two spaces </text><flash> true </flash></request>"
    r = client.request("POST", SINGLE, body=body, content_type="application/xml")
    assert r.status == 200, r.body
    assert client.get(LOGS).json["results"][0]["text"] == "  two spaces "


def test_xml_answers_replace_characters_xml_cannot_carry(client: Client, store: Store,
                                                         clock: ManualClock) -> None:
    _inbound(store, clock, "in-ctl", "a\x01b", None)
    r = client.get(INBOX_LOGS, headers=XML_HEADERS)
    assert r.xml.findtext("results/results/text") == "a\ufffdb"
    assert client.get(INBOX_LOGS).json["results"][0]["text"] == "a\x01b"  # JSON carries it as is
