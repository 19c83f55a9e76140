"""The command-line parser: V.250 basic + extended syntax, quoting, errors."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.emulator.atparse import Command, Kind, ParseError, parse_line, split_args, strip_prefix

CASES = [
    ("", []),
    ("E0", [Command("E", Kind.EXEC, ("0",), (False,))]),
    ("E1V1", [Command("E", Kind.EXEC, ("1",), (False,)), Command("V", Kind.EXEC, ("1",), (False,))]),
    ("Z", [Command("Z", Kind.EXEC)]),
    ("&W", [Command("&W", Kind.EXEC)]),
    ("&f0", [Command("&F", Kind.EXEC, ("0",), (False,))]),
    ("+CMGF=0", [Command("+CMGF", Kind.SET, ("0",), (False,))]),
    ("+cmgf?", [Command("+CMGF", Kind.READ)]),
    ("+CNMI=?", [Command("+CNMI", Kind.TEST)]),
    ("+CSQ", [Command("+CSQ", Kind.EXEC)]),
    ('+CPMS="SM","ME"', [Command("+CPMS", Kind.SET, ("SM", "ME"), (True, True))]),
    ('+CUSD=1,"*100#; x",15', [Command("+CUSD", Kind.SET, ("1", "*100#; x", "15"),
                                       (False, True, False))]),
    ("+CMGD=1,4;+CSQ", [Command("+CMGD", Kind.SET, ("1", "4"), (False, False)),
                        Command("+CSQ", Kind.EXEC)]),
    ("E1;+CMEE=1", [Command("E", Kind.EXEC, ("1",), (False,)),
                    Command("+CMEE", Kind.SET, ("1",), (False,))]),
    ("+CNMI=2,1,,1", [Command("+CNMI", Kind.SET, ("2", "1", None, "1"),
                              (False, False, False, False))]),
    (" + CSQ ", [Command("+CSQ", Kind.EXEC)]),
    ("S0?", [Command("S0", Kind.READ)]),
    ("S0=2", [Command("S0", Kind.SET, ("2",), (False,))]),
    ("D+447700900002;", [Command("D", Kind.EXEC, ("+447700900002;",), (False,))]),
    ("^CURC=0", [Command("^CURC", Kind.SET, ("0",), (False,))]),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_parse_line(body: str, expected: list[Command]) -> None:
    assert parse_line(body) == expected


@pytest.mark.parametrize("body", ["+CMGF:1", "!", '+CUSD=1,"open', "+", "&"])
def test_bad_syntax_raises(body: str) -> None:
    with pytest.raises(ParseError):
        parse_line(body)


@pytest.mark.parametrize(("line", "body"), [("AT", ""), ("at+csq", "+csq"), ("ATE0", "E0"),
                                            ("xAT", None), ("", None), ("A", None)])
def test_strip_prefix(line: str, body: str | None) -> None:
    assert strip_prefix(line) == body


def test_int_and_str_args() -> None:
    (cmd,) = parse_line('+CMGL=4,"x",')
    assert cmd.int_arg(0) == 4 and cmd.str_arg(1) == "x" and cmd.int_arg(2, 7) == 7
    with pytest.raises(ValueError):
        cmd.int_arg(1)


@given(st.lists(st.one_of(st.none(), st.text(alphabet="abc 019*#", min_size=1)), min_size=1,
                max_size=5))
def test_split_args_round_trip(values: list[str | None]) -> None:
    text = ",".join("" if v is None else f'"{v}"' for v in values)
    args, quoted = split_args(text)
    assert list(args) == values
    assert list(quoted) == [v is not None for v in values]


@given(st.text(max_size=40))
def test_parser_never_crashes(body: str) -> None:
    try:
        parse_line(body)
    except ParseError:
        pass
