"""The shared HTTP plumbing: negotiation, rendering, dates out, Basic auth, dialect apps."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import bottle
import pytest

from gateway.api.http import Reply, format_date, mount_dialect, new_dialect_app, parse_basic_auth, render_xml, wants_xml
from tests.api.conftest import Client

UTC = timezone.utc


def test_format_date_converts_to_utc_and_passes_none() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_date(datetime(2015, 2, 12, 9, 51, 43, 123999, cet)) == "2015-02-12T08:51:43.123+0000"
    assert format_date(None) is None


@pytest.mark.parametrize(("accept", "xml"), [
    (None, False), ("", False), ("application/json", False), ("application/xml", True), ("text/xml", True),
    ("application/xml, application/json", False), ("application/json;q=0.4, application/xml;q=0.9", True),
    ("*/*", False), ("text/html", False), ("application/xml;q=bogus", True), ("application/xml;q=1.2.3", True), ("*/*;q=0.1, application/xml", True),
])
def test_wants_xml(accept: str | None, xml: bool) -> None:
    assert wants_xml(accept) is xml


def test_render_xml_wraps_lists_and_omits_none() -> None:
    xml = render_xml("R", {"results": [{"a": 1, "b": None, "ok": True}], "n": 2.5})
    assert xml.endswith(b"<R><results><results><a>1</a><ok>true</ok></results></results><n>2.5</n></R>")


@pytest.mark.parametrize(("header", "expected"), [
    ("Basic " + base64.b64encode(b"Aladdin:open sesame").decode(), ("Aladdin", "open sesame")),
    ("basic " + base64.b64encode(b"a:b:c").decode(), ("a", "b:c")),
    ("Basic " + base64.b64encode("jürg:pässword".encode()).decode(), ("jürg", "pässword")),
    (None, None), ("", None), ("Basic", None), ("Bearer abc", None), ("Basic not*base64", None),
    ("Basic " + base64.b64encode(b"no-colon").decode(), None), ("Basic " + base64.b64encode(b":pw").decode(), None),
])
def test_parse_basic_auth(header: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_basic_auth(header) == expected


def test_a_new_dialect_gets_its_own_error_shape_auth_and_mount() -> None:
    """What another dialect author relies on: build, mount, and every refusal in its own shape."""
    seen: list[tuple[str, str]] = []

    def authenticate(username: str, password: str, client: str) -> str | None:
        seen.append((username, password))
        return "acct" if password == "pw" else None

    dialect = new_dialect_app(lambda status, text: Reply({"fault": {"code": status, "reason": text}}), authenticate)
    dialect.route("/echo/<word>", "GET", lambda word, account: Reply({"word": word, "account": account}, "echo"))
    dialect.route("/boom", "GET", lambda account: 1 / 0)
    dialect.route("/open", "GET", lambda: Reply({"open": True}, "open"), auth=False)
    root = bottle.Bottle()
    mount_dialect(root, "/other", dialect)
    client = Client(root, auth=("u", "pw"))
    assert client.get("/other/echo/hi").json == {"word": "hi", "account": "acct"}
    assert client.get("/other/echo/hi", auth=("u", "bad")).json == {
        "fault": {"code": 401, "reason": "invalid username or password"}}
    assert client.get("/other/open", auth=None).json == {"open": True}
    assert client.get("/other/nothing").json["fault"]["code"] == 404
    r = client.get("/other/boom")
    assert r.status == 500 and r.json == {"fault": {"code": 500, "reason": "internal error; the cause is in "
                                                                          "the gateway's log"}}
    assert ("u", "bad") in seen
