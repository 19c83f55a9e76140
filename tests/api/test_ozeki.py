"""Ozeki's SendSms on / and /api: every answer an XML Response, each status code of its table."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from wsgiref.headers import Headers
from xml.etree import ElementTree

import pytest

from gateway.api import build_app
from gateway.clock import ManualClock
from gateway.config import Config, HttpConfig, OzekiConfig
from gateway.errors import StoreError
from gateway.service import Gateway
from gateway.store import Store
from tests.api import curl_examples
from tests.api.conftest import ALICE, Client, Response
from tests.api.curl_examples import Served, curl_example
from tests.hashing import CHEAP_HASHER

served = curl_examples.served  # the fixture
USER = ("user1000", "mypassword12")  # the SendSms page's example credentials
# The SendSms page's example values (decoded); DeliveryReportURL is left out: not supported yet.
EXAMPLE = {"command": "SendSms", "ApiExtension": "9994", "Sender": "+061554669",
           "Recipient": "+062554670", "Message": "Hello world"}


def ozeki_gateway(store: Store, clock: ManualClock, **ozeki: Any) -> Gateway:
    config = Config(http=HttpConfig(auth_failure_delay=0.0),
                    ozeki=OzekiConfig(**ozeki)).validate()
    gw = Gateway(store, config, clock=clock, hasher=CHEAP_HASHER)
    gw.create_account(*ALICE)
    gw.create_account(*USER)
    return gw


@pytest.fixture
def ozeki(store: Store, clock: ManualClock) -> tuple[Client, Gateway]:
    gw = ozeki_gateway(store, clock, api_extensions=("9994", "9995=SHOP"))
    return Client(build_app(gw), auth=None), gw


def call(client: Client, params: dict[str, str], *, method: str = "GET", path: str = "/",
         credentials: tuple[str, str] | None = USER) -> Response:
    full = dict(params)
    if credentials:
        full.update(Username=credentials[0], Password=credentials[1])
    if method == "GET":
        return client.request("GET", path, query=full)
    return client.request("POST", path, body=urlencode(full).encode(),
                          content_type="application/x-www-form-urlencoded")


def parsed(r: Response, code: int, message: str | None = None) -> ElementTree.Element:
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert r.body.startswith(b'<?xml version="1.0"')
    root = ElementTree.fromstring(r.body)
    assert root.tag == "Response"
    assert root.findtext("Code") == str(code), r.body
    if message is not None:
        assert root.findtext("Message") == message
    return root


def sent(gw: Gateway, user: tuple[str, str] = USER) -> list[Any]:
    account = gw.accounts.find(user[0])
    assert account is not None
    return gw.logs(account)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/", "/api", "/API"])
def test_the_example_request_sends_and_answers_200_with_the_sms_id(
        ozeki: tuple[Client, Gateway], method: str, path: str) -> None:
    client, gw = ozeki
    root = parsed(call(client, EXAMPLE, method=method, path=path), 200,
                  "Command successfully executed")
    assert [child.tag for child in root] == ["Code", "Message", "SmsId"]
    [message] = sent(gw)
    assert root.findtext("SmsId") == message.message_id
    assert (message.to, message.sender, message.text) == ("062554670", "+061554669",
                                                          "Hello world")


def test_the_example_query_string_as_the_page_writes_it(ozeki: tuple[Client, Gateway]) -> None:
    client, gw = ozeki
    query = ("command=SendSms&ApiExtension=9994&Sender=%2b061554669&Recipient=%2b062554670"
             "&Message=Hello+world&Username=user1000&Password=mypassword12")
    parsed(raw_get(client, query), 200)
    [message] = sent(gw)
    assert (message.sender, message.text) == ("+061554669", "Hello world")


def raw_get(client: Client, query: str) -> Response:
    """A GET whose query string is sent exactly as written (Client.request would re-encode it)."""
    env = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": query,
           "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
           "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
           "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
           "wsgi.run_once": False}
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.update(status=status, headers=headers)
        return lambda data: None

    result = client.app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return Response(int(captured["status"].split()[0]), Headers(captured["headers"]), body)


def test_parameter_names_in_any_case(ozeki: tuple[Client, Gateway]) -> None:
    client, gw = ozeki
    params = {"COMMAND": "sendsms", "apiextension": "9994", "recipient": "41793026727",
              "MESSAGE": "hi", "username": USER[0], "PASSWORD": USER[1]}
    parsed(call(client, params, credentials=None), 200)
    assert [m.text for m in sent(gw)] == ["hi"]


def test_the_extension_profile_gives_the_default_sender(ozeki: tuple[Client, Gateway]) -> None:
    client, gw = ozeki
    parsed(call(client, {**EXAMPLE, "ApiExtension": "9995", "Sender": ""}), 200)
    parsed(call(client, {**EXAMPLE, "ApiExtension": "9995", "Sender": "OTHER"}), 200)
    assert sorted(m.sender for m in sent(gw)) == ["OTHER", "SHOP"]
    parsed(call(client, {**EXAMPLE, "Sender": ""}), 200)  # 9994 has none: the SIM's number
    assert None in [m.sender for m in sent(gw)]


# --- the status code table -------------------------------------------------------------------


def test_301_unknown_command(ozeki: tuple[Client, Gateway]) -> None:
    client, gw = ozeki
    parsed(call(client, {**EXAMPLE, "command": "Call"}), 301, "Not implemented command: 'Call'")
    assert sent(gw) == []


@pytest.mark.parametrize("missing", ["ApiExtension", "Recipient", "Message"])
def test_302_names_the_missing_parameter(ozeki: tuple[Client, Gateway], missing: str) -> None:
    client, gw = ozeki
    params = {k: v for k, v in EXAMPLE.items() if k != missing}
    parsed(call(client, params), 302,
           f"Missing or invalid parameter '{missing}' for command 'SendSms'")
    parsed(call(client, {**EXAMPLE, missing: ""}), 302)
    assert sent(gw) == []


@pytest.mark.parametrize("params, name", [
    ({"ApiExtension": "9994"}, "command"),
    ({**EXAMPLE, "Sender": "far too long a sender name"}, "Sender"),
    ({**EXAMPLE, "DeliveryReportURL": "http://xyz.com/delivery_received.php"},
     "DeliveryReportURL"),
    ({**EXAMPLE, "Flash": "1"}, "Flash"),
    ({**EXAMPLE, "message": "again"}, "Message"),
])
def test_302_names_the_invalid_parameter(ozeki: tuple[Client, Gateway], params: dict[str, str],
                                         name: str) -> None:
    client, gw = ozeki
    command = "" if name == "command" else "SendSms"
    parsed(call(client, params), 302,
           f"Missing or invalid parameter '{name}' for command '{command}'")
    assert sent(gw) == []


def test_302_for_a_text_longer_than_max_parts(ozeki: tuple[Client, Gateway]) -> None:
    client, _ = ozeki
    parsed(call(client, {**EXAMPLE, "Message": "x" * 3000}), 302,
           "Missing or invalid parameter 'Message' for command 'SendSms'")


@pytest.mark.parametrize("credentials", [None, ("user1000", ""), ("", "mypassword12")])
def test_304_authentication_required(ozeki: tuple[Client, Gateway],
                                     credentials: tuple[str, str] | None) -> None:
    client, gw = ozeki
    params = dict(EXAMPLE)
    if credentials:
        params.update(Username=credentials[0], Password=credentials[1])
    parsed(call(client, params, credentials=None), 304, "Authentication required")
    assert sent(gw) == []


@pytest.mark.parametrize("credentials", [("user1000", "wrong-password"), ("nobody", "x" * 12)])
def test_305_authentication_failed(ozeki: tuple[Client, Gateway],
                                   credentials: tuple[str, str]) -> None:
    client, gw = ozeki
    parsed(call(client, EXAMPLE, credentials=credentials), 305,
           "Authentication failed, bad username or password")
    assert sent(gw) == []


def test_401_unknown_api_extension(ozeki: tuple[Client, Gateway]) -> None:
    client, gw = ozeki
    parsed(call(client, {**EXAMPLE, "ApiExtension": "9986"}), 401,
           "API extension '9986' unavailable, please check configuration or permissions")
    assert sent(gw) == []


@pytest.mark.parametrize("recipient", ["12", "not a number", "+44 77 00 (90) 0x"])
def test_501_invalid_recipient(ozeki: tuple[Client, Gateway], recipient: str) -> None:
    client, gw = ozeki
    parsed(call(client, {**EXAMPLE, "Recipient": recipient}), 501,
           "Destination of the SMS is not found")
    assert sent(gw) == []


@pytest.mark.parametrize("raw, content_type", [
    (b"command=SendSms&Message=%ff", "application/x-www-form-urlencoded"),
    (b'{"command": "SendSms"}', "application/json"),
])
def test_300_for_a_body_that_is_not_a_utf8_form(ozeki: tuple[Client, Gateway], raw: bytes,
                                                content_type: str) -> None:
    client, _ = ozeki
    r = client.request("POST", "/", body=raw, content_type=content_type)
    assert parsed(r, 300).findtext("Message", "").startswith("Error occured during parsing")


def test_an_outage_is_503_with_the_xml_body(ozeki: tuple[Client, Gateway],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    client, gw = ozeki

    def down(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("the database is locked")

    monkeypatch.setattr(gw, "submit", down)
    r = call(client, EXAMPLE)
    assert r.status == 503 and r.headers["Retry-After"] == "30"
    root = ElementTree.fromstring(r.body)
    assert root.findtext("Code") == "503" and "temporarily unavailable" in root.findtext(
        "Message", "")


def test_authentication_off_uses_the_configured_account(store: Store,
                                                        clock: ManualClock) -> None:
    gw = ozeki_gateway(store, clock, authentication=False, account="alice")
    client = Client(build_app(gw), auth=None)
    parsed(call(client, EXAMPLE, credentials=None), 200)
    assert len(sent(gw, ALICE)) == 1 and sent(gw) == []


def test_the_other_routes_keep_their_own_answers(ozeki: tuple[Client, Gateway]) -> None:
    client, _ = ozeki
    assert client.get("/health").status in (200, 503)
    assert client.request("POST", "/api/sendmessage").status == 401  # ServiceStack's, not Ozeki's


def test_the_curl_example_of_the_docs(served: Served, gateway: Gateway) -> None:
    status, body = served.run(curl_example("Ozeki SendSms"))
    assert status == 200, body
    root = ElementTree.fromstring(body)
    assert root.findtext("Code") == "200" and root.findtext("SmsId")
    [message] = gateway.logs(gateway.authenticate(*ALICE))  # type: ignore[arg-type]
    assert message.text == "Hello world" and message.to == "41793026727"


def test_the_spec_pages_exist_for_these_examples() -> None:
    spec = Path("/work/shared/specs/ozeki-sendsms.md")
    if not spec.exists():
        pytest.skip(f"{spec} is absent")
    text = spec.read_text()
    for value in ("9994", "%2b061554669", "%2b062554670", "Hello+world", "user1000",
                  "mypassword12"):
        assert value in text
