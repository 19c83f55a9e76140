"""Attacker-controlled strings in log lines: escaped and bounded.

Why one helper: user names, message ids, URLs, numbers and texts arrive from the network. Put raw
into a log line, a newline in a client's ``messageId`` forges a second line that journald and
every log reader believe (``... INFO message x accepted``), and a 190 KB user name repeated on
every failed login fills the disk. ``shown(value)`` is what goes into ``%s`` instead: control
characters, quotes and backslashes escaped as in a Python literal (so one log line stays one
line and is unambiguous to read back), and at most ``limit`` characters of the value with the
size of what was cut.

Usage: ``log.warning("failed login for %s", shown(username))``. Cheap enough to call eagerly;
``Shown`` defers the work to the moment the record is formatted when that matters.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

DEFAULT_LIMIT = 120  # characters of the value kept; a UUID, a number or a URL path fits


def shown(value: object, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as one quoted, escaped log-safe token of bounded length.

    ``None`` is shown as ``None``; everything else goes through ``str`` first, so bytes and
    numbers are shown as they print. The result never contains a control character (no CR, LF,
    ESC, NUL, U+2028...), and its length is bounded by about ``4 * limit + 40``.
    """
    if value is None:
        return "None"
    text = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
    cut = len(text) - limit if len(text) > limit else 0
    if cut:
        text = text[:limit]
    out = '"' + "".join(_escape(ch) for ch in text) + '"'
    return f"{out}...(+{cut} chars)" if cut else out


def _escape(ch: str) -> str:
    """Printable characters (``jürg`` stays readable) as they are; the rest as an escape."""
    if ch in _SIMPLE:
        return _SIMPLE[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


_SIMPLE = MappingProxyType({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


@dataclass(frozen=True)
class Shown:
    """Lazy ``shown``: formatted only if the log record is emitted (``%s`` calls ``str``)."""

    value: object
    limit: int = DEFAULT_LIMIT

    def __str__(self) -> str:
        return shown(self.value, self.limit)


def masked_number(number: str) -> str:
    """``+447912345612`` -> ``+4479****12``: enough to tell numbers apart while debugging, not
    enough to text anyone. The mask is always four stars, so it does not reveal the length."""
    lead = "+" if number.startswith("+") else ""
    digits = number[len(lead):]
    if len(digits) >= 8:
        return f"{lead}{digits[:4]}****{digits[-2:]}"
    return f"{lead}****{digits[-2:]}" if len(digits) > 4 else f"{lead}****"


@dataclass(frozen=True)
class NumberPolicy:
    """How phone numbers appear in log lines (``log.numbers``): masked unless ``show``.

    Why a setting: every message's destination logged at INFO puts every customer's number in
    the journal, which more people read than the database; on a bench, full numbers help.
    Calling it gives a lazy, log-safe ``%s`` argument.
    """

    show: bool = False

    def __call__(self, number: str | None) -> Shown:
        if number is None or self.show:
            return Shown(number)
        return Shown(masked_number(number))
