"""The shared HTTP plumbing, unit by unit: dates, negotiation, bodies, XML, Basic auth, fields."""
from __future__ import annotations

import base64
import io
from datetime import datetime, timedelta, timezone
from typing import Any

import bottle
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.http import (
    ApiError,
    Fields,
    Reply,
    format_date,
    mount_dialect,
    new_dialect_app,
    parse_basic_auth,
    parse_body,
    parse_date,
    read_body,
    render_xml,
    wants_xml,
)
from tests.api.conftest import Client

UTC = timezone.utc


@pytest.mark.parametrize(("raw", "expected"), [
    ("2015-02-12T09:51:43.123+0100", datetime(2015, 2, 12, 8, 51, 43, 123000, UTC)),
    ("2015-02-12T09:51:43.123+01:00", datetime(2015, 2, 12, 8, 51, 43, 123000, UTC)),
    ("2015-02-12T09:51:43.123-0230", datetime(2015, 2, 12, 12, 21, 43, 123000, UTC)),
    ("2015-02-12T09:51:43Z", datetime(2015, 2, 12, 9, 51, 43, 0, UTC)),
    ("2015-02-12T09:51:43.5Z", datetime(2015, 2, 12, 9, 51, 43, 500000, UTC)),
    ("2015-02-12T09:51:43.123456789+00", datetime(2015, 2, 12, 9, 51, 43, 123456, UTC)),
    ("2015-02-12T09:51", datetime(2015, 2, 12, 9, 51, 0, 0, UTC)),
    ("2015-02-12 09:51:43", datetime(2015, 2, 12, 9, 51, 43, 0, UTC)),
    ("2015-02-12", datetime(2015, 2, 12, 0, 0, 0, 0, UTC)),
    ("2015-02-22T17:42:05.390 01:00", datetime(2015, 2, 22, 16, 42, 5, 390000, UTC)),  # '+' lost in a URL
    (" 2015-02-12T09:51:43Z ", datetime(2015, 2, 12, 9, 51, 43, 0, UTC)),
])
def test_parse_date_accepts_the_spec_format_and_iso_variants(raw: str, expected: datetime) -> None:
    parsed = parse_date(raw, "sentSince")
    assert parsed == expected and parsed.tzinfo == UTC


@pytest.mark.parametrize("raw", [
    "", "yesterday", "2015-02-30T00:00:00Z", "2015-13-01", "2015-02-12T25:00:00Z", "2015-02-12T09:51:43+2500",
    "12/02/2015", "2015-02-12T09:51:43.123+0100x", "1423734703", "2015-2-1",
])
def test_parse_date_refuses_naming_the_field(raw: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_date(raw, "sentUntil")
    assert info.value.status == 400 and info.value.text.startswith("sentUntil:")


@given(st.text(max_size=40))
def test_parse_date_raises_only_api_errors(raw: str) -> None:
    try:
        assert parse_date(raw, "d").tzinfo == UTC
    except ApiError as exc:
        assert exc.status == 400


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)))
def test_format_then_parse_round_trips_to_the_millisecond(moment: datetime) -> None:
    text = format_date(moment)
    assert text is not None and text.endswith("+0000") and len(text) == 28
    assert parse_date(text, "d") == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


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


def _environ(body: bytes, length: str | None = None, **extra: Any) -> dict[str, Any]:
    env: dict[str, Any] = {"wsgi.input": io.BytesIO(body), **extra}
    if length is not None:
        env["CONTENT_LENGTH"] = length
    return env


def test_read_body_honours_content_length_and_the_limit() -> None:
    assert read_body(_environ(b"abcdef", "3")) == b"abc"
    assert read_body(_environ(b"abc", "")) == b""  # no length, no body (PEP 3333)
    assert read_body(_environ(b"abc", None, **{"wsgi.input_terminated": True})) == b"abc"
    assert read_body({}) == b""
    with pytest.raises(ApiError) as info:
        read_body(_environ(b"", "11"), limit=10)  # refused before reading
    assert info.value.status == 413
    with pytest.raises(ApiError) as info:
        read_body(_environ(b"x" * 11, None, **{"wsgi.input_terminated": True}), limit=10)
    assert info.value.status == 413
    with pytest.raises(ApiError) as info:
        read_body(_environ(b"", "ten"))
    assert info.value.status == 400


def test_parse_body_json_and_xml() -> None:
    body = b'{"to": ["1"], "n": 1.5}'
    assert parse_body(_environ(body, str(len(body)), CONTENT_TYPE="application/json; charset=utf-8")) == (
        {"to": ["1"], "n": 1.5}, False)
    xml = b"""<request><from>A</from><to><to>1</to><to>2</to></to><one><one>x</one></one>
              <m><k>1</k></m><m><k>2</k></m><empty/></request>"""
    value, from_xml = parse_body(_environ(xml, str(len(xml)), CONTENT_TYPE="text/xml"))
    assert from_xml
    assert value == {"from": "A", "to": ["1", "2"], "one": ["x"], "m": [{"k": "1"}, {"k": "2"}], "empty": ""}


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


def test_fields_xml_leniency_is_only_for_xml() -> None:
    xml = Fields({"flag": "true", "n": "42", "list": {"k": "v"}, "blank": ""}, xml=True)
    assert xml.boolean("flag") is True and xml.integer("n") == 42
    assert [f.data for f in xml.objects("list")] == [{"k": "v"}]
    assert xml.string("blank") is None and not xml.present("blank")
    plain = Fields({"flag": "true", "n": "42", "list": {"k": "v"}, "count": True}, path="messages[2]")
    for call, fragment in [(lambda: plain.boolean("flag"), "messages[2].flag"),
                           (lambda: plain.integer("n"), "messages[2].n"),
                           (lambda: plain.integer("count"), "messages[2].count"),
                           (lambda: plain.objects("list"), "messages[2].list")]:
        with pytest.raises(ApiError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
            call()


def test_a_new_dialect_gets_its_own_error_shape_auth_and_mount() -> None:
    """What another dialect author relies on: build, mount, and every refusal in its own shape."""
    seen: list[tuple[str, str]] = []

    def authenticate(username: str, password: str) -> str | None:
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
