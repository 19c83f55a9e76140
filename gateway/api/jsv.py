"""ServiceStack's JSV text format: a reader and a writer of our own.

Why our own: the only JSV implementations are ServiceStack's (.NET, under the vendor's terms) and
the npm client's writer (no reader). JSV is JSON without most quotes: ``{A:1,B:Hello World!}``,
lists ``[1,2]``, and a string is quoted CSV-style (``"..."`` with ``"`` doubled) only when it
holds one of ``" : , { } [ ]`` CR LF.

JSV carries no types, so ``loads`` returns a tree of ``dict``/``list``/``str``; the dialect reading
it knows each field's type (``True``, ``false``, GUIDs with or without dashes). ``dumps`` writes
.NET's spelling by default (``True``/``False``, GUIDs as 32 hex digits without dashes, as
``Guid.ToString("N")``); ``booleans=JS_BOOLEANS`` writes the npm client's lowercase ones.
Like both producers, the writer omits null and empty-string members of an object.

Whitespace: ServiceStack's metadata pages show requests indented with tabs and a space after each
colon; the reader accepts that layout, and ``dumps(indent=True)`` writes it. An unquoted value
loses its surrounding whitespace, except a value that is nothing but spaces or tabs, which is kept
as it is (the npm writer sends ``{Text:   }`` for three spaces). So that every string survives a
round trip, the writer quotes a string with leading or trailing whitespace unless it is all
spaces and tabs.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Mapping

from gateway.errors import GatewayError

ESCAPE_CHARS = frozenset('":,{}[]\r\n')
MAX_DEPTH = 64  # nesting deeper than any DTO we read is refused, not a RecursionError
_LAYOUT = " \t\r\n"


class JsvError(GatewayError, ValueError):
    """The text is not JSV; ``position`` is the 0-based character offset of the fault."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"malformed JSV at character {position + 1}: {message}")
        self.position = position


@dataclass(frozen=True)
class BooleanStyle:
    true: str
    false: str


DOTNET_BOOLEANS = BooleanStyle("True", "False")  # ServiceStack.Text
JS_BOOLEANS = BooleanStyle("true", "false")  # @servicestack/client's JSV.stringify


# --- writing ---------------------------------------------------------------------------------


def needs_quotes(text: str, *, blank_bare: bool = True) -> bool:
    """``blank_bare``: a string of only spaces and tabs may stay bare (a compact object member,
    where the reader keeps it verbatim); in a list or the indented layout it is layout."""
    if any(ch in ESCAPE_CHARS for ch in text):
        return True
    if text.strip(" \t") == "":
        return not blank_bare
    return text != text.strip(_LAYOUT + "\f\v")


def encode_string(text: str, *, blank_bare: bool = True) -> str:
    """``text`` as a JSV scalar: bare, or quoted with every ``"`` doubled."""
    if not needs_quotes(text, blank_bare=blank_bare):
        return text
    return '"' + text.replace('"', '""') + '"'


def _omitted(value: Any) -> bool:
    return value is None or value == ""


def _scalar(value: Any, booleans: BooleanStyle, blank_bare: bool = False) -> str:
    if isinstance(value, bool):
        return booleans.true if value else booleans.false
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, Enum):
        return _scalar(value.value, booleans, blank_bare)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return encode_string(value.isoformat())
    if isinstance(value, str):
        return encode_string(value, blank_bare=blank_bare)
    raise TypeError(f"JSV cannot write a {type(value).__name__}")


def _write(value: Any, booleans: BooleanStyle, indent: int | None) -> str:
    if isinstance(value, Mapping):
        items = [(str(k), v) for k, v in value.items() if not _omitted(v)]
        if indent is None:
            return "{" + ",".join(f"{encode_string(k)}:{_compact_member(v, booleans)}"
                                  for k, v in items) + "}"
        inner = "\t" * (indent + 1)
        lines = [f"{inner}{encode_string(k)}: {_member(v, booleans, indent + 1)}"
                 for k, v in items]
        return "{\n" + ",\n".join(lines) + "\n" + "\t" * indent + "}"
    if isinstance(value, (list, tuple)):
        if indent is None:
            return "[" + ",".join(_write(v, booleans, None) for v in value) + "]"
        inner = "\t" * (indent + 1)
        lines = [inner + _write(v, booleans, indent + 1) for v in value]
        return "[\n" + ",\n".join(lines) + "\n" + "\t" * indent + "]"
    return _scalar(value, booleans)


def _compact_member(value: Any, booleans: BooleanStyle) -> str:
    if isinstance(value, (Mapping, list, tuple)):
        return _write(value, booleans, None)
    return _scalar(value, booleans, blank_bare=True)


def _member(value: Any, booleans: BooleanStyle, indent: int) -> str:
    """A member's value in the indented layout: a container starts on its own line."""
    if isinstance(value, (Mapping, list, tuple)):
        return "\n" + "\t" * indent + _write(value, booleans, indent)
    return _write(value, booleans, indent)


def dumps(value: Any, *, booleans: BooleanStyle = DOTNET_BOOLEANS, indent: bool = False) -> str:
    """``value`` (mappings, lists, str, numbers, bools, UUIDs) as JSV text.

    ``indent=True`` writes the layout of ServiceStack's metadata pages (tabs, ``Key: value``).
    """
    return _write(value, booleans, 0 if indent else None)


# --- reading ---------------------------------------------------------------------------------


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, message: str, at: int | None = None) -> JsvError:
        return JsvError(message, self.at if at is None else at)

    def skip_layout(self) -> None:
        text, at = self.text, self.at
        while at < len(text) and text[at] in _LAYOUT:
            at += 1
        self.at = at

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def value(self, ends: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")
        start = self.at
        self.skip_layout()
        head = self.peek()
        if head == "{":
            return self.obj(depth)
        if head == "[":
            return self.array(depth)
        if head == '"':
            text = self.quoted()
            self.skip_layout()
            if self.peek() not in ends:
                raise self.fail(f"expected one of {_shown(ends)} after a quoted string")
            return text
        return self.bare(start, ends)

    def bare(self, start: int, ends: str) -> str:
        text, at = self.text, start
        while at < len(text) and text[at] not in ends:
            if text[at] in '"{[' and text[start:at].strip(_LAYOUT):
                raise self.fail(f"{text[at]!r} inside an unquoted value (quote the value)", at)
            at += 1
        raw = text[start:at]
        self.at = at
        if raw.strip(" \t") == "":
            return raw
        return raw.strip(_LAYOUT)

    def quoted(self) -> str:
        text, at = self.text, self.at + 1
        out: list[str] = []
        while True:
            close = text.find('"', at)
            if close < 0:
                raise self.fail("a quoted string is not closed")
            out.append(text[at:close])
            if text.startswith('"', close + 1):  # "" is one literal quote
                out.append('"')
                at = close + 2
                continue
            self.at = close + 1
            return "".join(out)

    def key(self) -> str:
        self.skip_layout()
        if self.peek() == '"':
            key = self.quoted()
            self.skip_layout()
        else:
            start = self.at
            end = self.text.find(":", start)
            if end < 0:
                raise self.fail("a member has no ':'")
            key = self.text[start:end].strip(_LAYOUT)
            if any(ch in key for ch in '",{}[]'):
                raise self.fail(f"a member name holds one of {_shown(',{}[]')}", start)
            self.at = end
        if self.peek() != ":":
            raise self.fail("expected ':' after a member name")
        if not key:
            raise self.fail("a member has an empty name")
        self.at += 1
        return key

    def obj(self, depth: int) -> dict[str, Any]:
        self.at += 1  # '{'
        out: dict[str, Any] = {}
        self.skip_layout()
        if self.peek() == "}":
            self.at += 1
            return out
        while True:
            key = self.key()
            if key in out:
                raise self.fail(f"member {key!r} appears twice")
            out[key] = self.value(",}", depth + 1)
            self.skip_layout()
            sep = self.peek()
            self.at += 1
            if sep == "}":
                return out
            if sep != ",":
                raise self.fail("an object is not closed with '}'", self.at - 1)

    def array(self, depth: int) -> list[Any]:
        self.at += 1  # '['
        out: list[Any] = []
        self.skip_layout()
        if self.peek() == "]":
            self.at += 1
            return out
        while True:
            out.append(self.value(",]", depth + 1))
            self.skip_layout()
            sep = self.peek()
            self.at += 1
            if sep == "]":
                return out
            if sep != ",":
                raise self.fail("a list is not closed with ']'", self.at - 1)


def _shown(chars: str) -> str:
    return " ".join(repr(c) for c in chars)


def loads(text: str) -> Any:
    """JSV text -> ``dict``/``list``/``str`` tree; ``JsvError`` naming the position otherwise.

    A top-level value that is not an object or a list is returned as its string.
    """
    reader = _Reader(text)
    reader.skip_layout()
    if reader.peek() in ("{", "[", '"'):
        value = reader.value("", 0)
        reader.skip_layout()
        if reader.at < len(text):
            raise reader.fail("text after the end of the value")
        return value
    return reader.bare(0, "")


__all__ = ["DOTNET_BOOLEANS", "JS_BOOLEANS", "BooleanStyle", "JsvError", "dumps", "encode_string",
           "loads"]
