"""Split an AT command line into commands the way V.250 modems do.

A line is ``AT`` followed by basic commands (``E0``, ``V1``, ``&W``, ``S0=1``, ``I3``) written
back to back and extended commands (``+CMGF=0``) separated by ``;``. Spaces outside quotes are
ignored, names are case-insensitive. Parsing is pure so it can be tested on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    EXEC = "exec"     # AT+CSQ, ATE0
    SET = "set"       # AT+CMGF=0
    READ = "read"     # AT+CMGF?
    TEST = "test"     # AT+CMGF=?


@dataclass(frozen=True)
class Command:
    name: str                       # "+CMGS", "E", "&W", "S0", "D"
    kind: Kind
    args: tuple[str | None, ...] = ()
    """SET arguments, quotes removed; an empty argument is None. Basic commands: the number."""
    quoted: tuple[bool, ...] = ()

    def int_arg(self, i: int, default: int | None = None) -> int | None:
        """Argument ``i`` as an integer; ``default`` when absent; ValueError when not a number."""
        if i >= len(self.args) or self.args[i] is None:
            return default
        return int(self.args[i], 10)

    def str_arg(self, i: int, default: str | None = None) -> str | None:
        if i >= len(self.args) or self.args[i] is None:
            return default
        return self.args[i]


class ParseError(ValueError):
    """The line is not valid AT syntax: the modem answers ERROR."""


_EXTENDED_PREFIXES = "+^$*%#"


def strip_prefix(line: str) -> str | None:
    """The command body after ``AT`` / ``at``, or None when the line is not a command line."""
    if len(line) >= 2 and line[:2] in ("AT", "at", "At", "aT"):
        return line[2:]
    return None


def _remove_spaces(body: str) -> str:
    out, quoted = [], False
    for ch in body:
        if ch == '"':
            quoted = not quoted
        if ch == " " and not quoted:
            continue
        out.append(ch)
    return "".join(out)


def split_args(text: str) -> tuple[tuple[str | None, ...], tuple[bool, ...]]:
    """``"SM",1,,x`` -> (("SM", "1", None, "x"), (True, False, False, False))."""
    args: list[str | None] = []
    quoted_flags: list[bool] = []
    current: list[str] = []
    quoted = in_quotes = False
    for ch in text + ",":
        if ch == '"':
            in_quotes = not in_quotes
            quoted = True
        elif ch == "," and not in_quotes:
            value = "".join(current)
            args.append(value if (value or quoted) else None)
            quoted_flags.append(quoted)
            current, quoted = [], False
        else:
            current.append(ch)
    if in_quotes:
        raise ParseError("unterminated string")
    return tuple(args), tuple(quoted_flags)


def parse_line(body: str) -> list[Command]:
    """Parse the part of a command line after ``AT``; raises ParseError on bad syntax."""
    body = _remove_spaces(body)
    commands: list[Command] = []
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch == ";":
            i += 1
        elif ch in _EXTENDED_PREFIXES:
            j = i + 1
            while j < n and (body[j].isalnum() or body[j] == "_"):
                j += 1
            name = ch + body[i + 1:j].upper()
            k, in_quotes = j, False
            while k < n and (in_quotes or body[k] != ";"):
                if body[k] == '"':
                    in_quotes = not in_quotes
                k += 1
            commands.append(_extended(name, body[j:k]))
            i = k + 1
        elif ch.upper() == "D":
            commands.append(Command("D", Kind.EXEC, (body[i + 1:],), (False,)))
            i = n
        elif ch.upper() == "S" and i + 1 < n and body[i + 1].isdigit():
            j = i + 1
            while j < n and body[j].isdigit():
                j += 1
            name = "S" + body[i + 1:j]
            if body[j:j + 1] == "?":
                commands.append(Command(name, Kind.READ))
                i = j + 1
            elif body[j:j + 1] == "=":
                k = j + 1
                while k < n and body[k].isdigit():
                    k += 1
                commands.append(Command(name, Kind.SET, (body[j + 1:k] or None,), (False,)))
                i = k
            else:
                commands.append(Command(name, Kind.EXEC))
                i = j
        elif ch == "&" or ch.isalpha():
            j = i + 2 if ch == "&" else i + 1
            if j > n:
                raise ParseError("dangling &")
            name = body[i:j].upper()
            k = j
            while k < n and body[k].isdigit():
                k += 1
            number = body[j:k] or None
            commands.append(Command(name, Kind.EXEC, (number,), (False,)) if number
                            else Command(name, Kind.EXEC))
            i = k
        else:
            raise ParseError(f"unexpected {ch!r}")
    return commands


def _extended(name: str, tail: str) -> Command:
    if name in _EXTENDED_PREFIXES:
        raise ParseError("empty command name")
    if tail == "":
        return Command(name, Kind.EXEC)
    if tail == "?":
        return Command(name, Kind.READ)
    if tail == "=?":
        return Command(name, Kind.TEST)
    if tail.startswith("="):
        args, quoted = split_args(tail[1:])
        return Command(name, Kind.SET, args, quoted)
    raise ParseError(f"bad syntax after {name}")
