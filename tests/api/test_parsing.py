"""Reading requests: dates, bounded bodies, JSON and XML, typed fields."""
from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.api.http import ApiError, format_date
from gateway.api.parsing import Fields, parse_body, parse_date, read_body

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