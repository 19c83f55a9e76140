"""The ``simgate pdu`` sub-commands (gateway/sms/inspect.py), driven through argparse."""
from __future__ import annotations

import argparse
import json

import pytest

from gateway.sms import Submit, decode_pdu
from gateway.sms.inspect import register_cli


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="simgate")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_decode_deliver(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["pdu", "decode",
                          "0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE0EA7D9"],
                         capsys)
    assert (code, err) == (0, "")
    fields = json.loads(out)
    assert fields["type"] == "SMS-DELIVER"
    assert fields["sender"]["number"] == "sipgate" and fields["text"] == "Testmail"
    assert fields["timestamp"] == "2008-08-13T12:07:22+01:00"
    assert fields["smsc"]["formatted"] == "+447785016005"


def test_decode_status_report_without_smsc(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["pdu", "decode", "--no-smsc",
                        "06040D91945152991136F00160124130340A0160124130940A00"], capsys)
    fields = json.loads(out)
    assert code == 0 and fields["type"] == "SMS-STATUS-REPORT" and fields["delivered"]
    assert fields["discharge_time"] == "2010-06-21T14:03:49-05:00"


def test_decode_accepts_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["pdu", "decode", "0001000B917228001011F1", "00000CC8329BFD065DDF72363904"],
                       capsys)
    assert code == 0 and json.loads(out)["text"] == "Hello World!"


@pytest.mark.parametrize("bad", ["XYZ", "0", "0043010C9106613455", "00"])
def test_decode_bad_input(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["pdu", "decode", bad], capsys)
    assert code == 2 and out == ""
    assert err.startswith("simgate pdu: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_encode_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["pdu", "encode", "--to", "+27820001111", "--text", "Hello World!",
                          "--no-report"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == ["AT+CMGS=24", "0001000B917228001011F100000CC8329BFD065DDF72363904"]


def test_encode_all_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["pdu", "encode", "--to", "+905321234567", "--text", "İşçi " * 40,
                        "--flash", "--validity", "60", "--language", "TR", "--single-shift",
                        "--ref16", "--ref", "4660", "--smsc", "+41794999000"], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4
    assert lines[0] == f"AT+CMGS={len(lines[1]) // 2 - 8}"
    sub = decode_pdu(lines[1])
    assert isinstance(sub, Submit)
    assert sub.concat is not None and (sub.concat.ref, sub.concat.ref_bits) == (4660, 16)
    assert (sub.message_class, sub.language_shift, sub.status_report_requested) == (0, 1, True)


def test_encode_ucs2_switch(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["pdu", "encode", "--to", "123", "--text", "hi", "--ucs2"], capsys)
    sub = decode_pdu(out.splitlines()[1])
    assert isinstance(sub, Submit) and sub.encoding == "ucs2"


@pytest.mark.parametrize("extra", [["--language", "XX"], ["--max-parts", "1", "--text", "a" * 200],
                                   ["--transliteration", "ELVISH"], ["--to", "Shop"]])
def test_encode_bad_input(extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["pdu", "encode", "--to", "+41790000000", "--text", "x", *extra]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
