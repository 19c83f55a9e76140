"""The ServiceStack-style dialect end to end: real Gateway, real Store, WSGI in-process."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.api import build_app, jsv
from gateway.accounts import Account
from gateway.clock import ManualClock
from gateway.config import Config, HttpConfig, ServiceStackConfig
from gateway.service import Gateway
from gateway.store import Store
from tests.api.conftest import ALICE, Client, Response
from tests.api import curl_examples
from tests.api.curl_examples import Served, curl_example
from tests.hashing import CHEAP_HASHER

SPEC = Path("/work/shared/specs/servicestack-sendmessage.md")
SEND_ROUTES = ("/api/sendmessage", "/api/send", "/api/sms/send")
PREDEFINED = ("/api/SMSSend", "/json/reply/SMSSend")
IMMEDIATE = tuple(r + "/immediate" for r in SEND_ROUTES)
served = curl_examples.served  # the fixture
GUID_N = re.compile(r"^[0-9a-f]{32}$")


def sms(to: Any = ("41793026727",), body: str = "Hello", **model: Any) -> dict[str, Any]:
    return {"SMSModel": {"From": {"Name": "Shop", "PhoneNumber": "447700900001"},
                         "To": [{"Name": "Ann", "PhoneNumber": n} for n in to],
                         "MessageBody": body, **model}}


def pascal(value: Any) -> Any:
    """A camelCase JSON answer with the DTO's PascalCase member names (as JSV has them)."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


def answer_of(r: Response) -> Any:
    if r.headers["Content-Type"].startswith("application/json"):
        return pascal(r.json)
    return jsv.loads(r.body.decode())


def alice(gateway: Gateway) -> Account:
    account = gateway.authenticate(*ALICE)
    assert account is not None
    return account


def assert_status(r: Response, status: int, code: str, field: str | None = None,
                  *fragments: str) -> dict[str, Any]:
    assert r.status == status, r.body
    body = answer_of(r)
    assert set(body) == {"ResponseStatus"}, body
    rs = body["ResponseStatus"]
    assert rs["ErrorCode"] == code, rs
    if field is not None:
        [error] = rs["Errors"]
        assert error["FieldName"] == field and error["ErrorCode"] == code, rs
    for fragment in fragments:
        assert fragment in rs["Message"], rs
    return rs  # type: ignore[no-any-return]


# --- the seed's example ------------------------------------------------------------------------


def _seed() -> tuple[str, str]:
    if not SPEC.exists():
        pytest.skip(f"{SPEC} is absent")
    request, response = re.findall(r"^\{\n.*?^\}", SPEC.read_text(), re.M | re.S)
    return request, response


def test_the_seed_request_as_written_names_its_placeholder_phone_number(client: Client) -> None:
    request, _ = _seed()
    r = client.request("POST", "/api/sendmessage", body=request.encode(),
                       content_type="text/jsv", headers={"Accept": "text/jsv"})
    assert r.headers["Content-Type"] == "text/jsv; charset=utf-8"
    assert_status(r, 400, "InvalidValue", "SMSModel.To[0].PhoneNumber", "String")


def test_the_seed_request_with_real_values_is_answered_as_the_seed_shows(
        client: Client, gateway: Gateway) -> None:
    request, response = _seed()
    guid = "6b5c69780cd64a5886fc3d1b279b9201"
    filled = (request.replace("PhoneNumber: String", "PhoneNumber: 41793026727", )
              .replace("MessageBody: String", "MessageBody: Hello from the seed")
              .replace("00000000000000000000000000000000", guid))
    r = client.request("POST", "/api/sendmessage", body=filled.encode(), content_type="text/jsv",
                       headers={"Accept": "text/jsv"})
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "text/jsv; charset=utf-8"
    answer = jsv.loads(r.body.decode())
    assert list(answer) == list(jsv.loads(response))  # CommId, Reference, Status, Message
    assert GUID_N.match(answer["CommId"]) and answer["Status"] == "True"
    [sent] = gateway.logs(alice(gateway))
    assert answer["Reference"] == sent.message_id
    assert sent.bulk_id == str(uuid.UUID(answer["CommId"]))  # the CommId groups the messages
    assert (sent.to, sent.sender, sent.text) == ("41793026727", "41793026727",
                                                 "Hello from the seed")


# --- routes and formats ----------------------------------------------------------------------


@pytest.mark.parametrize("path", SEND_ROUTES + PREDEFINED)
def test_every_route_stores_and_answers_a_comm_response(client: Client, gateway: Gateway,
                                                        path: str) -> None:
    r = client.post(path, sms(("41793026727", "41793026834")))
    assert r.status == 200, r.body
    body = answer_of(r)
    assert set(body) == {"CommId", "Reference", "Status", "Message"}
    assert GUID_N.match(body["CommId"]) and body["Status"] is True
    sent = gateway.logs(alice(gateway))
    assert sorted(body["Reference"].split(",")) == sorted(m.message_id for m in sent)
    assert {m.to for m in sent} == {"41793026727", "41793026834"}


@pytest.mark.parametrize("path", ["/API/SENDMESSAGE", "/Api/Sms/Send", "/JSON/Reply/smssend",
                                  "/api/smssend", "/api/sendmessage/"])
def test_paths_match_case_insensitively(client: Client, path: str) -> None:
    assert client.post(path, sms()).status == 200


@pytest.mark.parametrize("path, query, headers, content_type, expected", [
    ("/api/sendmessage", None, {}, "application/json", "json"),
    ("/api/sendmessage", None, {"Accept": "text/jsv"}, "application/json", "jsv"),
    ("/api/sendmessage", {"format": "jsv"}, {}, "application/json", "jsv"),
    ("/api/sendmessage", {"format": "json"}, {"Accept": "text/jsv"}, "text/jsv", "json"),
    ("/api/sendmessage.jsv", None, {}, "application/json", "jsv"),
    ("/api/sendmessage.json", None, {"Accept": "text/jsv"}, "text/jsv", "json"),
    ("/api/sendmessage", None, {}, "text/jsv", "jsv"),
    ("/jsv/reply/SMSSend", None, {}, "text/jsv", "jsv"),
    ("/jsv/reply/SMSSend", None, {}, None, "jsv"),
    ("/json/reply/SMSSend", None, {}, None, "json"),
    ("/api/sendmessage", None, {"Accept": "application/json;q=0.5, text/jsv"},
     "application/x-www-form-urlencoded", "jsv"),
])
def test_formats_in_and_out(client: Client, path: str, query: Any, headers: dict[str, str],
                            content_type: str | None, expected: str) -> None:
    dto = sms()
    body_format = content_type or ("text/jsv" if path.startswith("/jsv") else "application/json")
    if body_format == "text/jsv":
        body = jsv.dumps(dto).encode()
    elif body_format == "application/x-www-form-urlencoded":
        body = urlencode({"SMSModel": jsv.dumps(dto["SMSModel"])}).encode()
    else:
        body = __import__("json").dumps(dto).encode()
    r = client.request("POST", path, body=body, query=query, headers=headers,
                       content_type=content_type)
    assert r.status == 200, r.body
    if expected == "jsv":
        assert r.headers["Content-Type"] == "text/jsv; charset=utf-8"
        answer = jsv.loads(r.body.decode())
        assert answer["Status"] == "True" and GUID_N.match(answer["CommId"])
    else:
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert answer_of(r)["Status"] is True


def test_a_form_post_with_flat_members_and_case_folded_names(client: Client,
                                                              gateway: Gateway) -> None:
    model = '{to:[{phonenumber:41793026727}],messagebody:"Hi, there: {you}",replyisallowed:true}'
    form = urlencode({"smsmodel": model, "CreateCommunicationReferencesImmediately": "True"})
    r = client.request("POST", "/api/send", body=form.encode(),
                       content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert r.status == 200, r.body
    [sent] = gateway.logs(alice(gateway))
    assert sent.text == "Hi, there: {you}" and sent.sender is None


def test_json_members_in_any_case_and_a_number_as_a_phone_number(client: Client,
                                                                  gateway: Gateway) -> None:
    r = client.post("/api/sendmessage", {"smsModel": {"to": [{"phoneNumber": 41793026727}],
                                                      "messageBody": "x",
                                                      "linkedObjectId": str(uuid.uuid4()),
                                                      "suiteId": uuid.uuid4().hex}})
    assert r.status == 200, r.body
    assert [m.to for m in gateway.logs(alice(gateway))] == ["41793026727"]


def test_a_text_longer_than_max_parts_is_answered_with_status_false(client: Client) -> None:
    r = client.post("/api/sendmessage", sms(body="x" * 2000))
    assert r.status == 200
    assert answer_of(r)["Status"] is False and "REJECTED_MESSAGE_TOO_LONG" in answer_of(r)["Message"]


# --- refusals --------------------------------------------------------------------------------


def test_no_or_wrong_credentials_are_401_response_status(client: Client) -> None:
    r = client.post("/api/sendmessage", sms(), auth=None)
    assert_status(r, 401, "Unauthorized")
    assert r.headers["WWW-Authenticate"] == 'Basic realm="simgate"'
    assert_status(client.post("/api/sendmessage", sms(), auth=("alice", "wrong-password")),
                  401, "Unauthorized", None, "invalid")
    r = client.request("POST", "/jsv/reply/SMSSend", body=b"{}", content_type="text/jsv",
                       auth=None)
    assert r.headers["Content-Type"].startswith("text/jsv")
    assert_status(r, 401, "Unauthorized")


@pytest.mark.parametrize("dto, code, field, fragment", [
    ({}, "NotEmpty", "SMSModel", "required"),
    ({"SMSModel": {"MessageBody": "x"}}, "NotEmpty", "SMSModel.To", "at least one"),
    (sms(body=""), "NotEmpty", "SMSModel.MessageBody", "required"),
    ({"SMSModel": {"To": [{"Name": "Ann"}], "MessageBody": "x"}}, "NotEmpty",
     "SMSModel.To[0].PhoneNumber", "required"),
    (sms(("12",)), "InvalidValue", "SMSModel.To[0].PhoneNumber", "phone number"),
    (sms(ReplyIsAllowed="maybe"), "InvalidValue", "SMSModel.ReplyIsAllowed", "true or false"),
    (sms(SuiteId="not-a-guid"), "InvalidValue", "SMSModel.SuiteId", "Guid"),
    (sms(MesageBody="typo"), "InvalidValue", "SMSModel.MesageBody", "did you mean 'MessageBody'"),
    ({**sms(), "Extra": 1}, "InvalidValue", "Extra", "unknown member"),
    (sms(To="41793026727"), "InvalidValue", "SMSModel.To", "list of objects"),
    ({"SMSModel": {**sms()["SMSModel"], "From": {"PhoneNumber": "+1 (not valid)"}}},
     "InvalidValue", "SMSModel.From.PhoneNumber", "digits"),
    ({"SMSModel": sms()["SMSModel"], "smsmodel": {}}, "InvalidValue", "smsmodel", "twice"),
])
def test_bad_members_are_400_naming_the_field(client: Client, dto: Any, code: str, field: str,
                                             fragment: str) -> None:
    r = client.post("/api/sendmessage", dto)
    assert_status(r, 400, code, field, fragment)


@pytest.mark.parametrize("body, content_type, status, code", [
    (b'{"SMSModel": ', "application/json", 400, "SerializationException"),
    (b"{SMSModel:{To:[", "text/jsv", 400, "SerializationException"),
    (b"\xff\xfe", "text/jsv", 400, "SerializationException"),
    (b"SMSModel=%ff", "application/x-www-form-urlencoded", 400, "SerializationException"),
    (b"[1,2]", "application/json", 400, "SerializationException"),
    (b"<x/>", "application/xml", 415, "UnsupportedMediaType"),
    (b"SMSModel={To:[}", "application/x-www-form-urlencoded", 400, "SerializationException"),
])
def test_malformed_bodies_and_wrong_types_are_refused_in_the_dialect_shape(
        client: Client, body: bytes, content_type: str, status: int, code: str) -> None:
    r = client.request("POST", "/api/sendmessage", body=body, content_type=content_type)
    assert_status(r, status, code)


def test_unknown_routes_and_methods(client: Client) -> None:
    assert_status(client.post("/api/nothing", sms()), 404, "NotFound")
    r = client.get("/api/sendmessage")
    assert_status(r, 405, "MethodNotAllowed")


_junk = st.one_of(
    st.binary(max_size=200),
    st.text(st.sampled_from('{}[],:"ab 1\n'), max_size=60).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                 lambda x: st.lists(x, max_size=3) | st.dictionaries(
                     st.sampled_from(["SMSModel", "To", "PhoneNumber", "MessageBody", "From",
                                      "x"]), x, max_size=3), max_leaves=12).map(
        lambda v: __import__("json").dumps(v).encode()),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_junk, st.sampled_from(["application/json", "text/jsv",
                               "application/x-www-form-urlencoded"]))
def test_no_input_is_a_500(client: Client, body: bytes, content_type: str) -> None:
    r = client.request("POST", "/api/sendmessage", body=body, content_type=content_type)
    assert r.status in (200, 400), r.body


# --- /immediate ------------------------------------------------------------------------------


class Harness:
    """A gateway whose accepted messages are announced, so a test plays the dispatcher."""

    def __init__(self, store: Store, clock: ManualClock, timeout: float) -> None:
        self.accepted = threading.Event()
        config = Config(http=HttpConfig(auth_failure_delay=0.0),
                        servicestack=ServiceStackConfig(immediate_timeout=timeout))
        self.gateway = Gateway(store, config, clock=clock, hasher=CHEAP_HASHER,
                               on_accepted=self.accepted.set)
        self.gateway.create_account(*ALICE)
        self.client = Client(build_app(self.gateway))
        self.store, self.clock = store, clock
        self.answer: Response | None = None

    def post_in_background(self, path: str, dto: Any) -> threading.Thread:
        def run() -> None:
            self.answer = self.client.post(path, dto)

        thread = threading.Thread(target=run, name="test-immediate", daemon=True)
        thread.start()
        assert self.accepted.wait(10), "the message was never accepted"
        return thread

    def send_every_part(self) -> None:
        now = self.clock.now().timestamp()
        while (job := self.store.claim_next_part(now)) is not None:
            self.store.record_part_sent(job.part_id, job.part_id % 256, now, status_report=True)

    def finish(self, thread: threading.Thread, step: float = 0.05) -> Response:
        """Move the clock until the request answers (each wait returns once its time passed)."""
        for _ in range(20_000):
            thread.join(0.001)
            if not thread.is_alive():
                break
            self.clock.advance(step)
        assert not thread.is_alive(), "the /immediate request never answered"
        assert self.answer is not None
        return self.answer


@pytest.fixture
def harness(store: Store, clock: ManualClock) -> Iterator[Harness]:
    yield Harness(store, clock, timeout=30.0)


@pytest.mark.parametrize("path", IMMEDIATE)
def test_immediate_waits_for_every_part_to_be_sent(harness: Harness, path: str) -> None:
    thread = harness.post_in_background(path, sms(("41793026727", "41793026834"),
                                                  body="y" * 200))
    assert thread.is_alive()  # nothing sent yet: no answer
    harness.send_every_part()
    r = harness.finish(thread)
    assert r.status == 200, r.body
    assert answer_of(r)["Status"] is True
    assert answer_of(r)["Message"].count("PENDING_WAITING_DELIVERY") == 2
    assert "sent" in answer_of(r)["Message"]


def test_immediate_answers_what_is_known_at_the_time_out(harness: Harness) -> None:
    started = harness.clock.monotonic()
    thread = harness.post_in_background("/api/sendmessage/immediate", sms())
    r = harness.finish(thread, step=1.0)
    assert 30.0 <= harness.clock.monotonic() - started <= 32.0
    assert r.status == 200 and answer_of(r)["Status"] is False
    assert "PENDING_ENROUTE" in answer_of(r)["Message"] and "will still be sent" in answer_of(r)["Message"]
    [queued] = harness.gateway.logs(alice(harness.gateway))
    assert queued.status.name == "PENDING_ENROUTE"  # stored: the time-out loses nothing


def test_immediate_does_not_wait_for_a_refused_message(harness: Harness) -> None:
    r = harness.client.post("/api/send/immediate", sms(body="x" * 2000))
    assert r.status == 200 and answer_of(r)["Status"] is False
    assert "REJECTED_MESSAGE_TOO_LONG" in answer_of(r)["Message"]


def test_the_time_out_is_the_configured_one(store: Store, clock: ManualClock) -> None:
    harness = Harness(store, clock, timeout=2.0)
    started = clock.monotonic()
    r = harness.finish(harness.post_in_background("/api/sms/send/immediate", sms()), step=0.5)
    assert 2.0 <= clock.monotonic() - started <= 3.0
    assert answer_of(r)["Status"] is False


def test_the_curl_example_of_the_docs(served: Served, gateway: Gateway) -> None:
    status, body = served.run(curl_example("ServiceStack-style SMS API"))
    assert status == 200, body
    answer = jsv.loads(body.decode())
    assert answer["Status"] == "True" and GUID_N.match(answer["CommId"])
    [sent] = gateway.logs(alice(gateway))
    assert (sent.to, sent.text) == ("41793026727", "Hello, Ann")


def test_json_answers_are_camel_case_as_servicestack_core_writes_them(client: Client) -> None:
    r = client.post("/api/sendmessage", sms())
    assert list(r.json) == ["commId", "reference", "status", "message"]
    r = client.post("/api/sendmessage", sms(body=""))
    assert set(r.json["responseStatus"]) == {"errorCode", "message", "errors"}
    assert set(r.json["responseStatus"]["errors"][0]) == {"errorCode", "fieldName", "message"}


CLIENTS = Path(__file__).resolve().parent / "clients"
CLIENT_DIR = Path("/tmp/simgate-clients/servicestack-0.1.15")


def servicestack_client() -> Path:
    """The PyPI client installed into a directory of its own (not the venv), once per machine.

    Its dependencies pull the ``dataclasses`` backport, which would shadow the standard library's
    module; it is removed after the install.
    """
    if not (CLIENT_DIR / "servicestack").is_dir():
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                               str(CLIENT_DIR), "servicestack==0.1.15"], capture_output=True,
                              timeout=300)
        if done.returncode != 0:
            pytest.skip("the servicestack client cannot be installed from PyPI here: "
                        + done.stderr.decode(errors="replace")[-300:])
    for shadow in ("dataclasses.py", "dataclasses-0.6.dist-info"):
        target = CLIENT_DIR / shadow
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return CLIENT_DIR


def test_the_real_servicestack_client(served: Served, gateway: Gateway) -> None:
    target = servicestack_client()
    done = subprocess.run(
        [sys.executable, str(CLIENTS / "servicestack_client.py"),
         f"http://{served.host}:{served.port}", *ALICE],
        capture_output=True, timeout=120, env={**os.environ, "PYTHONPATH": str(target)})
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    sent = {m.message_id: m.text for m in gateway.logs(alice(gateway))}
    for key, text in (("post", "typed post"), ("post_url", "post_url"),
                      ("json_reply", "json reply")):
        comm_id, reference, status, message = out[key]
        assert GUID_N.match(comm_id) and status is True and "accepted" in message, out
        assert sent[reference] == text
    assert out["error"] == [400, "InvalidValue", [["SMSModel.To[0].PhoneNumber",
                                                   "InvalidValue"]]]
    assert out["unauthorized"] == [401, "Unauthorized"]
