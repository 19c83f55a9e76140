"""Reading what clients send: bounded bodies, JSON or XML, typed fields, query parameters, dates.

Every failure is an ``ApiError`` whose text names the field by its full path
(``messages[1].destinations[0].to: required``), so a dialect never has to guess what to say.
XML carries no types: values from XML bodies are read leniently ("true", "42", one element where
a list is expected), JSON ones strictly.
"""
from __future__ import annotations

import difflib
import json
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping
from xml.etree import ElementTree

import bottle
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedET

from gateway.api.http import ApiError

MAX_BODY_BYTES = 1024 * 1024
MAX_QUERY_VALUES = 100  # ids in one ?messageId=a,b,... filter


def read_body(environ: Mapping[str, Any], limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading them."""
    raw_length = environ.get("CONTENT_LENGTH") or ""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if raw_length.strip():
        try:
            length = int(raw_length)
        except ValueError:
            raise ApiError(400, "Content-Length is not a number") from None
        if length > limit:
            raise ApiError(413, f"request body too large: {length} bytes, at most {limit}")
        data = stream.read(length) if length > 0 else b""
    elif environ.get("wsgi.input_terminated"):
        data = stream.read(limit + 1)
    else:  # PEP 3333: without a length there is no body to read
        return b""
    if len(data) > limit:
        raise ApiError(413, f"request body too large: more than {limit} bytes")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_value_fault(exc: ValueError) -> str:
    text = str(exc)
    if text.endswith("is not valid JSON"):
        return text
    if "digits" in text:
        return "a number has too many digits"
    return "a value cannot be read"


def _xml_to_value(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""  # verbatim: a message text may start or end with spaces
    if all(child.tag == element.tag for child in children):  # <to><to>a</to><to>b</to></to>
        return [_xml_to_value(child) for child in children]
    result: dict[str, Any] = {}
    for child in children:
        value = _xml_to_value(child)
        if child.tag in result:
            previous = result[child.tag]
            result[child.tag] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            result[child.tag] = value
    return result


def parse_body(environ: Mapping[str, Any], limit: int = MAX_BODY_BYTES) -> tuple[Any, bool]:
    """Decode a JSON or XML request body; returns ``(value, from_xml)``.

    XML carries no types, so callers treat its values leniently (see ``Fields``).
    """
    ctype = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/xml", "text/xml"):
        shown = ctype or "none"
        raise ApiError(415, f"Content-Type must be application/json or application/xml, "
                            f"not {shown}")
    raw = read_body(environ, limit)
    if not raw.strip():
        raise ApiError(400, "the request body is empty")
    if ctype == "application/json":
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant), False
        except UnicodeDecodeError:
            raise ApiError(400, "the request body is not UTF-8") from None
        except RecursionError:
            raise ApiError(400, "the JSON body is nested too deeply") from None
        except json.JSONDecodeError as exc:  # its msg is the decoder's fixed English sentence
            raise ApiError(400, f"malformed JSON at line {exc.lineno} column {exc.colno}: "
                                f"{exc.msg}") from None
        except ValueError as exc:  # int digit limit, NaN/Infinity: Python's wording stays inside
            raise ApiError(400, f"malformed JSON: {_json_value_fault(exc)}") from None
    try:
        # defusedxml refuses DTDs, entities and external references whatever the document's
        # declared encoding (a byte-level check misses "<!DOCTYPE" spelled in UTF-16).
        root = DefusedET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise ApiError(400, "XML bodies with a DOCTYPE or entities are refused") from None
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise ApiError(400, f"malformed XML at line {line} column {column + 1}") from None
    try:
        value = _xml_to_value(root)
    except RecursionError:
        raise ApiError(400, "the XML body is nested too deeply") from None
    return (value if isinstance(value, dict) else {}), True


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """Typed access to one request object; every error names the field by its full path."""

    def __init__(self, data: Any, path: str = "", *, xml: bool = False) -> None:
        if not isinstance(data, dict):
            raise ApiError(400, f"{path or 'the request body'} must be an object")
        self.data = data
        self.path = path
        self.xml = xml
        self._read: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str) -> Any:
        self._read.add(key)
        return self.data.get(key)

    def refuse_unread(self) -> None:
        """400 for every field the parser did not ask for: a misspelt ``flsh`` or
        ``validityPeriods`` silently ignored would send an SMS the client did not mean."""
        unknown = sorted(str(k) for k in self.data if k not in self._read)
        if not unknown:
            return
        first = unknown[0]
        hint = difflib.get_close_matches(first, sorted(self._read), n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        raise ApiError(400, f"{self.name(_short_key(first))}: unknown field{suggestion}{more}")

    def present(self, key: str) -> bool:
        value = self._get(key)
        return value not in (None, "") if self.xml else value is not None

    def string(self, key: str, *, required: bool = False, max_length: int | None = None,
               identifier: bool = False) -> str | None:
        """``identifier``: a client-chosen id (messageId, bulkId) that ends up in log lines and
        headers, so no control or line-separator characters."""
        value = self._get(key)
        if value is None or (self.xml and value == "" and not required):
            if required:
                raise ApiError(400, f"{self.name(key)}: required")
            return None
        if not isinstance(value, str):
            raise ApiError(400, f"{self.name(key)}: must be a string, not {_short(value)}")
        if max_length is not None and len(value) > max_length:
            raise ApiError(400, f"{self.name(key)}: at most {max_length} characters")
        check_unicode(value, self.name(key))
        if identifier and any(unicodedata.category(ch) in _NOT_IN_IDS for ch in value):
            raise ApiError(400, f"{self.name(key)}: must not contain control characters")
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str]:
        """A string or an array of strings (the spec allows both for ``to``)."""
        value = self._get(key)
        if value is None or value == [] or value == "":
            if required:
                raise ApiError(400, f"{self.name(key)}: required, at least one entry")
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ApiError(400, f"{self.name(key)}: must be a string or an array of strings, "
                                f"not {_short(value)}")
        for i, item in enumerate(items):
            check_unicode(item, f"{self.name(key)}[{i}]")
        return items

    def boolean(self, key: str) -> bool | None:
        value = self._get(key)
        if self.xml and isinstance(value, str):
            value = {"true": True, "false": False, "": None}.get(value.strip().lower(), value)
        if value is None or isinstance(value, bool):
            return value
        raise ApiError(400, f"{self.name(key)}: must be true or false, not {_short(value)}")

    def integer(self, key: str, *, low: int | None = None, high: int | None = None) -> int | None:
        value = self._get(key)
        if self.xml and isinstance(value, str):
            if value.strip() == "":
                value = None
            elif re.fullmatch(r"\s*-?\d{1,18}\s*", value):
                value = int(value)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(400, f"{self.name(key)}: must be an integer, not {_short(value)}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ApiError(400, f"{self.name(key)}: must be {low} to {high}, not {value}")
        return value

    def obj(self, key: str) -> Fields | None:
        value = self._get(key)
        if value is None or (self.xml and value == ""):
            return None
        return Fields(value, self.name(key), xml=self.xml)

    def objects(self, key: str) -> list[Fields]:
        """An array of objects; in XML a single element arrives as one object, so wrap it."""
        value = self._get(key)
        if value is None or value == []:
            raise ApiError(400, f"{self.name(key)}: required, at least one entry")
        if self.xml and isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            raise ApiError(400, f"{self.name(key)}: must be an array of objects, "
                                f"not {_short(value)}")
        return [Fields(v, f"{self.name(key)}[{i}]", xml=self.xml) for i, v in enumerate(value)]


_NOT_IN_IDS = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _short_key(key: str) -> str:
    return key if len(key) <= 40 else key[:37] + "..."


def check_unicode(value: str, name: str) -> None:
    """Lone surrogates survive json.loads but no SMS alphabet or database can hold them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"{name}: contains an invalid (lone surrogate) character") from None


# --- query parameters and dates --------------------------------------------------------------


class Query:
    """Typed access to query-string parameters (UTF-8 decoded), naming the parameter on error."""

    def __init__(self, request: bottle.BaseRequest) -> None:
        try:
            self._params = request.query.decode("utf-8")
        except UnicodeError:  # ?x=%ff: bottle re-decodes its latin-1 view strictly
            raise ApiError(400, "the query string is not valid UTF-8 (percent-encode UTF-8 "
                                "bytes)") from None

    def text(self, name: str) -> str | None:
        value = self._params.get(name)
        return value if value not in (None, "") else None

    def values(self, name: str, at_most: int = MAX_QUERY_VALUES) -> tuple[str, ...]:
        """Repeated and comma-separated values (``bulkId=a,b&bulkId=c``), at most ``at_most``:
        each distinct count is a distinct SQL statement, so the count is bounded at the edge."""
        out: list[str] = []
        for raw in self._params.getall(name):
            out.extend(v.strip() for v in raw.split(",") if v.strip())
            if len(out) > at_most:
                raise ApiError(400, f"{name}: at most {at_most} values per request")
        return tuple(out)

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not re.fullmatch(r"\s*\d{1,9}\s*", value):
            raise ApiError(400, f"{name}: {_short(value)} is not a positive integer")
        return int(value)

    def date(self, name: str) -> datetime | None:
        value = self.text(name)
        return parse_date(value, name) if value is not None else None


_DATE = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"(?:(?P<z>Z)|(?P<sign>[+\- ])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?"
)


def parse_date(value: str, name: str) -> datetime:
    """``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` and ISO 8601 variants; no zone means UTC.

    A space where the offset sign belongs is read as '+': an unencoded '+' in a query string
    arrives as a space (``sentSince=2015-02-22T17:42:05.390+01:00``).
    """
    match = _DATE.fullmatch(value.strip())
    if not match:
        raise ApiError(400, f"{name}: {_short(value)} is not a date like "
                            "2015-02-12T09:51:43.123+0100")
    g = match.groupdict()
    try:
        offset = timedelta(0)
        if g["sign"]:
            offset = timedelta(hours=int(g["oh"]), minutes=int(g["om"] or 0))
            if g["sign"] == "-":
                offset = -offset
        micro = int((g["f"] or "0")[:6].ljust(6, "0"))
        moment = datetime(
            int(g["y"]), int(g["mo"]), int(g["d"]),
            int(g["h"] or 0), int(g["mi"] or 0), int(g["s"] or 0), micro, tzinfo=timezone(offset),
        )
    except ValueError as exc:
        raise ApiError(400, f"{name}: {_short(value)} is not a valid date ({exc})") from None
    return moment.astimezone(timezone.utc)
