"""GSMA OneAPI outbound SMS: the seed's example, the GSMA path, idempotency, deliveryInfos."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest

from gateway.api import build_app
from gateway.clock import ManualClock
from gateway.config import Config, HttpConfig, OneApiConfig
from gateway.service import Gateway
from gateway.store import Store
from tests.api import curl_examples
from tests.api.conftest import ALICE, BOB, Client, Response
from tests.api.curl_examples import Served, curl_example
from tests.hashing import CHEAP_HASHER

served = curl_examples.served  # the fixture
SEED_SENDER = "tel:+123456789"  # the seed's URL: tel%3A%2B123456789
SEED = "/oneapi/sms/1/outbound/{}/requests"
GSMA = "/1/smsmessaging/outbound/{}/requests"


def seed_body(**changes: Any) -> dict[str, Any]:
    """The seed's example request (its typographic quotes made ASCII, senderAddress the URL's)."""
    inner = {"address": ["tel:+8613500220836"], "clientCorrelator": "10002",
             "outboundSMSTextMessage": {"message": "Hello world!"},
             "senderAddress": "tel:10086", "senderName": "Hacker"}
    inner.update(changes)
    return {"outboundSMSMessageRequest": {k: v for k, v in inner.items() if v is not None}}


def url(template: str, sender: str = "tel:10086") -> str:
    # PATH_INFO as a server hands it over: percent-decoded.
    return template.format(sender)


def alice_logs(gateway: Gateway) -> list[Any]:
    account = gateway.authenticate(*ALICE)
    assert account is not None
    return gateway.logs(account)


def assert_exception(r: Response, status: int, kind: str, message_id: str,
                     *fragments: str) -> dict[str, Any]:
    assert r.status == status, r.body
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json
    assert list(body) == ["requestError"] and list(body["requestError"]) == [kind], body
    exc = body["requestError"][kind]
    assert set(exc) == {"messageId", "text", "variables"} and exc["messageId"] == message_id
    text = exc["text"] + " " + " ".join(exc["variables"])
    for fragment in fragments:
        assert fragment in text, exc
    return exc  # type: ignore[no-any-return]


def test_the_seed_example_sends_and_answers_200_with_a_resource_url(
        client: Client, gateway: Gateway) -> None:
    r = client.post(url(SEED), seed_body())
    assert r.status == 200, r.body
    resource = r.json["resourceReference"]["resourceURL"]
    parts = urlsplit(resource).path.split("/")
    assert unquote(parts[-3]) == "tel:10086" and parts[-1] == "10002"
    assert resource.endswith("/oneapi/sms/1/outbound/tel%3A10086/requests/10002")
    [message] = alice_logs(gateway)
    assert (message.to, message.text, message.sender) == ("8613500220836", "Hello world!",
                                                          "Hacker")


def test_the_seed_url_sender_percent_encoded_as_it_shows(client: Client) -> None:
    sender = unquote("tel%3A%2B123456789")
    assert sender == SEED_SENDER
    r = client.post(url(SEED, sender), seed_body(senderAddress=SEED_SENDER))
    assert r.status == 200, r.body
    assert "/outbound/tel%3A%2B123456789/requests/" in r.json["resourceReference"]["resourceURL"]


def test_several_addresses_and_the_sender_name_defaulting_to_the_address(
        client: Client, gateway: Gateway) -> None:
    r = client.post(url(SEED), seed_body(address=["tel:+41793026727", "tel:+41793026834"],
                                         senderName=None))
    assert r.status == 200, r.body
    assert sorted((m.to, m.sender) for m in alice_logs(gateway)) == [
        ("41793026727", "10086"), ("41793026834", "10086")]


def test_the_gsma_path_flat_json_and_form_bodies(client: Client, gateway: Gateway) -> None:
    flat = {"address": ["tel:+41793026727"], "message": "flat", "senderAddress": "tel:10086",
            "clientCorrelator": "c-1"}
    r = client.post(url(GSMA), flat)
    assert r.status == 201, r.body
    assert r.json["resourceReference"]["resourceURL"].endswith(
        "/1/smsmessaging/outbound/tel%3A10086/requests/c-1")
    form = urlencode({"address": "tel:+41793026834", "message": "form",
                      "senderAddress": "tel:10086"})
    r = client.request("POST", url(GSMA), body=form.encode(),
                       content_type="application/x-www-form-urlencoded")
    assert r.status == 201, r.body  # no correlator on the GSMA path: a new request id
    assert sorted(m.text for m in alice_logs(gateway)) == ["flat", "form"]


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, message_id, fragments", [
    ({"senderAddress": "tel:999"}, "SVC0002", ("senderAddress", "URL")),
    ({"clientCorrelator": None}, "SVC0002", ("clientCorrelator", "required")),
    ({"address": []}, "SVC0002", ("address", "required")),
    ({"address": ["tel:12"]}, "SVC0004", ("address[0]",)),
    ({"address": "tel:+41793026727x"}, "SVC0004", ("address[0]",)),
    ({"outboundSMSTextMessage": {"message": ""}}, "SVC0002", ("message", "required")),
    ({"outboundSMSTextMessage": "Hello"}, "SVC0002", ("outboundSMSTextMessage",)),
    ({"clientCorrelator": "a b"}, "SVC0002", ("clientCorrelator",)),
    ({"notifyURL": "http://example.com/dr"}, "SVC0002", ("notifyURL", "not supported")),
    ({"receiptRequest": {"notifyURL": "http://x"}}, "SVC0002", ("receiptRequest",)),
    ({"senderNmae": "x"}, "SVC0002", ("senderNmae", "unknown")),
    ({"senderName": "far too long a sender name"}, "SVC0002", ("senderName",)),
])
def test_bad_requests_are_400_service_exceptions(client: Client, gateway: Gateway,
                                                 changes: dict[str, Any], message_id: str,
                                                 fragments: tuple[str, ...]) -> None:
    assert_exception(client.post(url(SEED), seed_body(**changes)), 400, "serviceException",
                     message_id, *fragments)
    assert alice_logs(gateway) == []


def test_a_text_over_one_sms_is_a_400_policy_exception(client: Client, gateway: Gateway) -> None:
    r = client.post(url(SEED), seed_body(outboundSMSTextMessage={"message": "x" * 161}))
    assert_exception(r, 400, "policyException", "POL0001", "2 SMS", "oneapi.allow_concatenated")
    assert client.post(url(SEED), seed_body(outboundSMSTextMessage={"message": "x" * 160})
                       ).status == 200


def test_concatenation_when_the_config_allows_it(store: Store, clock: ManualClock) -> None:
    config = Config(http=HttpConfig(auth_failure_delay=0.0),
                    oneapi=OneApiConfig(allow_concatenated=True))
    gw = Gateway(store, config, clock=clock, hasher=CHEAP_HASHER)
    gw.create_account(*ALICE)
    r = Client(build_app(gw)).post(url(SEED), seed_body(
        outboundSMSTextMessage={"message": "x" * 300}))
    assert r.status == 200, r.body
    assert [m.sms_count for m in alice_logs(gw)] == [2]


@pytest.mark.parametrize("body, content_type, status", [
    (b'{"outboundSMSMessageRequest": ', "application/json", 400),
    (b"[]", "application/json", 400),
    (b"\xff", "application/json", 400),
    (b"<x/>", "application/xml", 415),
    (b"address=%ff", "application/x-www-form-urlencoded", 400),
])
def test_malformed_bodies_and_wrong_content_types(client: Client, body: bytes,
                                                  content_type: str, status: int) -> None:
    r = client.request("POST", url(SEED), body=body, content_type=content_type)
    assert_exception(r, status, "serviceException", "SVC0002" if status == 400 else "SVC0001")


def test_credentials_are_required(client: Client) -> None:
    r = client.post(url(SEED), seed_body(), auth=None)
    assert_exception(r, 401, "serviceException", "SVC0001", "credentials")
    r = client.post(url(SEED), seed_body(), auth=("alice", "not-her-password"))
    assert_exception(r, 401, "serviceException", "SVC0001")


# --- clientCorrelator ------------------------------------------------------------------------


def test_the_same_correlator_again_sends_nothing_and_answers_the_same(
        client: Client, gateway: Gateway) -> None:
    first = client.post(url(SEED), seed_body())
    again = client.post(url(SEED), seed_body())
    assert first.status == again.status == 200
    assert first.json == again.json
    assert len(alice_logs(gateway)) == 1


def test_the_same_correlator_with_another_body_is_a_conflict(client: Client,
                                                             gateway: Gateway) -> None:
    assert client.post(url(SEED), seed_body()).status == 200
    for changes in ({"outboundSMSTextMessage": {"message": "other"}},
                    {"address": ["tel:+41793026727"]}, {"senderName": "Other"}):
        r = client.post(url(SEED), seed_body(**changes))
        assert_exception(r, 400, "serviceException", "SVC0005", "10002", "duplicate")
    assert len(alice_logs(gateway)) == 1


def test_correlators_are_per_account(client: Client, bob: Client, gateway: Gateway) -> None:
    assert client.post(url(SEED), seed_body()).status == 200
    assert bob.post(url(SEED), seed_body(outboundSMSTextMessage={"message": "bob's"})
                    ).status == 200
    bob_account = gateway.authenticate(*BOB)
    assert bob_account is not None
    assert [m.text for m in gateway.logs(bob_account)] == ["bob's"]


def test_idempotency_survives_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    def gateway_on(store: Store) -> Gateway:
        gw = Gateway(store, Config(http=HttpConfig(auth_failure_delay=0.0)), clock=clock,
                     hasher=CHEAP_HASHER)
        if gw.accounts.find(ALICE[0]) is None:
            gw.create_account(*ALICE)
        return gw

    store = Store.open(tmp_path / "simgate.db")
    try:
        first = Client(build_app(gateway_on(store))).post(url(SEED), seed_body())
    finally:
        store.close()
    store = Store.open(tmp_path / "simgate.db")
    try:
        gw = gateway_on(store)
        again = Client(build_app(gw)).post(url(SEED), seed_body())
        assert (first.status, first.json) == (again.status, again.json)
        assert len(alice_logs(gw)) == 1
        conflict = Client(build_app(gw)).post(url(SEED), seed_body(senderName="Other"))
        assert_exception(conflict, 400, "serviceException", "SVC0005")
    finally:
        store.close()


# --- deliveryInfos ---------------------------------------------------------------------------


def settle(store: Store, clock: ManualClock, tp_status: int | None) -> None:
    now = clock.now().timestamp()
    while (job := store.claim_next_part(now)) is not None:
        mr = job.part_id % 256
        store.record_part_sent(job.part_id, mr, now, status_report=True)
        if tp_status is not None:
            store.apply_status_report(job.destination[-9:], mr, tp_status, now)


@pytest.mark.parametrize("tp_status, expected", [
    ("queued", "MessageWaiting"),
    (None, "DeliveredToNetwork"),
    (0x00, "DeliveredToTerminal"),
    (0x41, "DeliveryImpossible"),
])
def test_delivery_infos_follow_the_message(client: Client, store: Store, clock: ManualClock,
                                           tp_status: Any, expected: str) -> None:
    resource = client.post(url(GSMA), seed_body(address=["tel:+41793026727"])).json[
        "resourceReference"]["resourceURL"]
    if tp_status != "queued":
        settle(store, clock, tp_status)
    path = unquote(urlsplit(resource).path) + "/deliveryInfos"
    r = client.get(path)
    assert r.status == 200, r.body
    body = r.json["deliveryInfoList"]
    assert body["deliveryInfo"] == [{"address": "tel:+41793026727", "deliveryStatus": expected}]
    assert body["resourceURL"] == resource + "/deliveryInfos"


def test_delivery_infos_of_an_unknown_or_foreign_request_are_404(client: Client,
                                                                 bob: Client) -> None:
    assert client.post(url(SEED), seed_body()).status == 200
    assert_exception(client.get(url(SEED) + "/nothing/deliveryInfos"), 404, "serviceException",
                     "SVC0002", "nothing")
    assert bob.get(url(SEED) + "/10002/deliveryInfos").status == 404
    assert client.get(url(SEED) + "/10002/deliveryInfos").status == 200


def test_the_curl_example_of_the_docs(served: Served, gateway: Gateway) -> None:
    status, body = served.run(curl_example("GSMA OneAPI outbound SMS"))
    assert status == 200, body
    assert quote("tel:+447700900001", safe="") in body.decode()
    [message] = alice_logs(gateway)
    assert (message.to, message.text) == ("41793026727", "Hello world!")
