"""``simgate pdu decode|encode``: the codec on the command line, for field debugging.

``register_cli`` only adds argparse sub-commands; the lead's ``gateway/cli.py`` wires it in.
Handlers print their result and return an exit code: 0 done, 2 bad input (one line on stderr,
never a traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway.errors import GatewayError
from gateway.sms.decode import decode_pdu
from gateway.sms.messages import Address, Deliver, StatusReport
from gateway.sms.pdu import encode_text
from gateway.sms.text import SubmitOptions

_TYPE_NAMES = {Deliver: "SMS-DELIVER", StatusReport: "SMS-STATUS-REPORT"}


def to_jsonable(value: Any) -> Any:
    """Decoded values as JSON: times in ISO 8601 with their zone, periods in seconds, octets
    in hex, addresses with their "+"-formatted form."""
    if isinstance(value, Address):
        return {"number": value.number, "ton": value.ton, "npi": value.npi,
                "formatted": value.formatted}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return {"seconds": int(value.total_seconds())}
    if isinstance(value, (bytes, bytearray)):
        return value.hex().upper()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def _fail(message: str) -> int:
    print(f"simgate pdu: {message}", file=sys.stderr)
    return 2


def decode_command(args: argparse.Namespace) -> int:
    try:
        message = decode_pdu("".join(args.hex), has_smsc=not args.no_smsc)
    except GatewayError as exc:
        return _fail(str(exc))
    out = {"type": _TYPE_NAMES.get(type(message), "SMS-SUBMIT"), **to_jsonable(message)}
    if isinstance(message, StatusReport):
        out.update(delivered=message.delivered, temporary_failure=message.temporary_failure,
                   permanent_failure=message.permanent_failure)
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def encode_command(args: argparse.Namespace) -> int:
    options = SubmitOptions(
        status_report=not args.no_report, validity_minutes=args.validity, flash=args.flash,
        smsc=args.smsc, transliteration=args.transliteration, language_code=args.language,
        single_shift=True if args.single_shift else None,
        locking_shift=True if args.locking_shift else None, ref16=args.ref16,
        max_parts=args.max_parts, force_ucs2=args.ucs2)
    try:
        parts = encode_text(args.to, args.text, options, concat_ref=args.ref)
    except GatewayError as exc:
        return _fail(str(exc))
    for part in parts:
        print(f"AT+CMGS={part.tpdu_length}")
        print(part.pdu)
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``pdu decode`` and ``pdu encode`` to an argparse sub-parsers object."""
    pdu = subparsers.add_parser("pdu", help="decode or encode SMS PDUs (field debugging)")
    commands = pdu.add_subparsers(dest="pdu_command", required=True)

    dec = commands.add_parser("decode", help="decode a PDU as printed by AT+CMGR/+CMGL/+CDS")
    dec.add_argument("hex", nargs="+", help="the PDU in hex (spaces allowed)")
    dec.add_argument("--no-smsc", action="store_true",
                     help="the PDU has no SMSC part (a bare TPDU)")
    dec.set_defaults(func=decode_command)

    enc = commands.add_parser("encode", help="print the AT+CMGS lines for a text")
    enc.add_argument("--to", required=True, help="destination, e.g. +41793026727")
    enc.add_argument("--text", required=True)
    enc.add_argument("--flash", action="store_true", help="class 0 (flash) message")
    enc.add_argument("--validity", type=int, metavar="MIN", help="relative validity, minutes")
    enc.add_argument("--no-report", action="store_true", help="do not request a status report")
    enc.add_argument("--ucs2", action="store_true", help="force UCS-2")
    enc.add_argument("--language", metavar="CODE", help="national language tables, e.g. TR")
    enc.add_argument("--single-shift", action="store_true", help="require the single shift")
    enc.add_argument("--locking-shift", action="store_true", help="require the locking shift")
    enc.add_argument("--transliteration", metavar="TABLE",
                     help="TURKISH, GREEK, CYRILLIC or CENTRAL_EUROPEAN")
    enc.add_argument("--ref16", action="store_true", help="16-bit concatenation reference")
    enc.add_argument("--ref", type=int, default=0, help="concatenation reference (default 0)")
    enc.add_argument("--max-parts", type=int, default=10)
    enc.add_argument("--smsc", help="explicit SMSC number (default: 00, the SIM's)")
    enc.set_defaults(func=encode_command)
