"""``simgate emulator``: run emulated modems on a pty, and talk to a running emulator.

``run`` (the default) owns an ``EmulatorHost``; ``inject``, ``status``, ``fault`` and ``outcome``
are clients of the control socket in ``--state-dir``, so they reach a standalone emulator and
the demo gateway's alike. Errors are one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from gateway.emulator.control import ControlError, request
from gateway.emulator.faults import FAULT_KINDS
from gateway.emulator.profiles import PROFILES
from gateway.errors import GatewayError


def register_cli(subparsers: Any) -> None:
    """Add the ``emulator`` sub-command to the simgate parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=Path("./var"),
                        help="directory of the control socket (default ./var)")
    run_opts = argparse.ArgumentParser(add_help=False)
    run_opts.add_argument("--profile", choices=sorted(PROFILES), default="sim800")
    run_opts.add_argument("--msisdn", default="+447700900001", help="the emulated modem's number")
    run_opts.add_argument("--peers", type=int, default=1,
                          help="more emulated modems on the same network (numbers follow)")
    run_opts.add_argument("--timing", choices=("fast", "demo", "real"), default="demo")

    emu = subparsers.add_parser("emulator", parents=[common, run_opts],
                                help="emulated SIM800/SIM7600 modems (run, inject, status, fault)")
    emu.set_defaults(func=cmd_run)
    sub = emu.add_subparsers(dest="emulator_command")

    p = sub.add_parser("run", parents=[common, run_opts],
                       help="run the emulator on a pty until Ctrl-C (the default)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("inject", parents=[common], help="make an emulated modem receive an SMS")
    p.add_argument("--to", help="the receiving modem's number or name (default: the main modem)")
    p.add_argument("--from", dest="sender", required=True, help="the sender's number or name")
    body = p.add_mutually_exclusive_group(required=True)
    body.add_argument("--text")
    body.add_argument("--data", help="binary payload as hex")
    p.add_argument("--ucs2", action="store_true", help="force UCS-2 for the text")
    p.add_argument("--flash", action="store_true", help="class 0 (flash) SMS")
    p.set_defaults(func=cmd_inject)

    p = sub.add_parser("status", parents=[common],
                       help="what each emulated modem has sent and received")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("fault", parents=[common], help="inject a fault into an emulated modem")
    p.add_argument("kind", choices=FAULT_KINDS)
    p.add_argument("args", nargs="*", help="e.g. the CMS code and count for cms_errors")
    p.add_argument("--modem", help="name or number (default: the main modem)")
    p.set_defaults(func=cmd_fault)

    p = sub.add_parser("outcome", parents=[common],
                       help="status-report outcome for destinations matching a pattern")
    p.add_argument("pattern", help='fnmatch pattern, e.g. "+4479*"')
    p.add_argument("outcome", choices=("delivered", "temporary", "permanent", "none"))
    p.add_argument("--delay", type=float, help="seconds until the report (default: timing)")
    p.set_defaults(func=cmd_outcome)


def _fail(message: str) -> int:
    print(f"simgate emulator: {message}", file=sys.stderr)
    return 2


def _call(args: argparse.Namespace, payload: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return request(args.state_dir, payload)
    except ControlError as exc:
        _fail(str(exc))
        return None


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.emulator.host import EmulatorHost
    from gateway.emulator.timing import Timing
    if args.peers < 0:
        return _fail("--peers must be 0 or more")
    host = EmulatorHost(args.state_dir, profile=args.profile, msisdn=args.msisdn,
                        timing=Timing.named(args.timing), peers=args.peers)
    try:
        pty_path = host.start()
    except (GatewayError, OSError) as exc:
        host.stop()
        return _fail(str(exc))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(pty_path, flush=True)
    print(f"emulated {args.profile} {args.msisdn} on {pty_path}; peers: "
          f"{', '.join(p.msisdn for p in host.peers) or 'none'}; control socket "
          f"{host.control_path}; Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        host.stop()
    return 0


def cmd_inject(args: argparse.Namespace) -> int:
    data = None
    if args.data is not None:
        try:
            data = bytes.fromhex(args.data)
        except ValueError:
            return _fail("--data must be hexadecimal")
    answer = _call(args, {"op": "inject", "to": args.to, "from": args.sender, "text": args.text,
                          "data": None if data is None else data.hex(),
                          "ucs2": True if args.ucs2 else None, "flash": args.flash})
    if answer is None:
        return 2
    print(f"injected {answer['parts']} part(s) to {answer['to']}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    answer = _call(args, {"op": "status"})
    if answer is None:
        return 2
    if args.json:
        print(json.dumps(answer["modems"], indent=2))
        return 0
    for modem in answer["modems"]:
        storage = " ".join(f"{k}:{v}" for k, v in modem["storage"].items())
        print(f"{modem['name']}  {modem['msisdn']}  {modem['profile']}  {modem['power']}  "
              f"{'registered' if modem['registered'] else 'not registered'}  "
              f"stored {storage}  held by network {modem['pending']}")
        for r in modem["sent"]:
            print(f"  sent  -> {r['to']}  mr={r['mr']}{_parts(r['parts'])}  {_body(r)}")
        for r in modem["received"]:
            where = f"  [{r['memory']} {r['index']}]" if r["memory"] else ""
            print(f"  recv  <- {r['from']}{_parts(r['parts'])}  {_body(r)}{where}")
        for r in modem["reports"]:
            print(f"  report mr={r['mr']} {r['to']} {r['outcome']} (TP-ST {r['status']:#04x}) "
                  f"{r['routed']}")
    return 0


def _parts(parts: list[int] | None) -> str:
    return f"  part {parts[2]}/{parts[1]} ref {parts[0]}" if parts else ""


def _body(record: dict[str, Any]) -> str:
    if record["text"] is not None:
        return json.dumps(record["text"], ensure_ascii=False)
    return f"data {record['data']}"


def cmd_fault(args: argparse.Namespace) -> int:
    answer = _call(args, {"op": "fault", "kind": args.kind, "args": args.args,
                          "modem": args.modem})
    if answer is None:
        return 2
    print(f"fault {args.kind} applied to {answer['modem']}")
    return 0


def cmd_outcome(args: argparse.Namespace) -> int:
    answer = _call(args, {"op": "outcome", "pattern": args.pattern, "outcome": args.outcome,
                          "delay": args.delay})
    return 2 if answer is None else 0
