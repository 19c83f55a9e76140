"""``simgate``: argparse, then ``gateway.runtime.assemble`` and ``serve``. The wiring lives in
runtime.py (shared with the integration tests and the benchmarks); this module only reads the
command line, prints, and turns signals into a clean stop.

Sub-commands: run | send | status | inbox | user | db | emulator | pdu.
"""
from __future__ import annotations

import argparse
import base64
import getpass
import json
import logging
import signal
import sys
import urllib.error
import urllib.request
from typing import Any, Sequence, TextIO

from gateway.auth import DEFAULT_HASHER, PasswordHasher
from gateway.clock import SYSTEM_CLOCK
from gateway.config import Config, load_config
from gateway.errors import GatewayError, UnknownAccountError
from gateway.runtime import DEMO_USER, EMULATOR_PORT, Runtime, assemble
from gateway.sdnotify import Notifier, WatchdogFeeder
from gateway.service import Gateway
from gateway.store import Store

log = logging.getLogger("gateway.cli")

# Issue 10 item 14: one tenant read a PIN texted for another. Said wherever an account is made.
SHARED_INBOX_NOTE = ("note: received SMS are shared by every account: any account can read every "
                     "message sent to the SIM (inbound messages are not routed to accounts yet)")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    # peewee logs every statement at DEBUG: too much even for a debugging session on a Pi.
    logging.getLogger("peewee").setLevel(logging.INFO)
    # waitress warns on every queued request under load; the bench and /health say more.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def _config(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


# --- run -------------------------------------------------------------------------------------


def _announce_demo(rt: Runtime, out: TextIO, *, demo: bool) -> None:
    """The URL and the demo login. The password goes to stdout only on a terminal or with
    ``--demo``: under systemd stdout is the journal, which more people can read than the file."""
    login = rt.ensure_demo_account()
    url = f"http://{rt.config.http.host}:{rt.config.http.port}"
    print(f"simgate demo: {url}", file=out)
    if login.password and (demo or out.isatty()):
        print(f"  username: {login.username}\n  password: {login.password}   (printed once; also in {login.credentials})",
              file=out)
    else:
        print(f"  username: {login.username}   (password in {login.credentials})", file=out)
    print(
        f"  try: curl -u {login.username}:PASSWORD -H 'Content-Type: application/json' "
        f"-d '{{\"from\":\"InfoSMS\",\"to\":\"41793026727\",\"text\":\"Test SMS.\"}}' {url}/restapi/sms/1/text/single",
        file=out, flush=True,
    )


def serve(rt: Runtime, *, out: TextIO = sys.stdout, notifier: Notifier | None = None,
          install_signals: bool = True) -> int:
    """Start ``rt``, listen, tell systemd, serve until SIGTERM/SIGINT, stop in order."""
    notifier = notifier or Notifier.from_env()
    rt.start()
    try:
        server = rt.create_server()  # bound and listening when this returns
    except BaseException:
        rt.stop()
        raise
    feeder = WatchdogFeeder(notifier, rt.liveness, status=rt.status_line, clock=rt.clock)

    def _terminate(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    if install_signals:
        signal.signal(signal.SIGTERM, _terminate)
        # Explicitly, because a shell that starts us in the background leaves SIGINT ignored.
        signal.signal(signal.SIGINT, _terminate)
    print(f"simgate listening on http://{rt.config.http.host}:{rt.config.http.port}", file=out, flush=True)
    notifier.ready(f"listening on {rt.config.http.host}:{rt.config.http.port}; {rt.status_line()}")
    feeder.start()
    try:
        server.run()  # waitress returns (or raises) on KeyboardInterrupt: SIGINT and our SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        notifier.stopping()
        print("simgate stopping", file=out, flush=True)
        feeder.stop()
        server.close()
        rt.stop()
        print("simgate stopped", file=out, flush=True)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args)
    _setup_logging(config.log_level)
    rt = assemble(config, hasher=args.hasher)
    if args.demo or config.modem.port == EMULATOR_PORT:
        try:
            _announce_demo(rt, sys.stdout, demo=args.demo)
        except BaseException:
            rt.stop()
            raise
    return serve(rt)


# --- other commands --------------------------------------------------------------------------


def _open_gateway(args: argparse.Namespace) -> Gateway:
    """The service on the configured database, without modem or HTTP: for admin commands."""
    config = _config(args)
    return Gateway(Store.open(config.database_path), config, hasher=args.hasher)


def cmd_send(args: argparse.Namespace) -> int:
    from gateway.service import Destination, SubmitRequest

    gw = _open_gateway(args)
    try:
        account = gw.accounts.find(args.user)
        if account is None:
            print(f"simgate: no account {args.user!r} (simgate user add NAME)", file=sys.stderr)
            return 2
        accepted = gw.submit(
            account,
            SubmitRequest(destinations=tuple(Destination(t) for t in args.to), sender=args.sender, text=args.text, flash=args.flash),
        )
        for m in accepted.messages:
            print(f"{m.message_id} {m.to} {m.status.name} smsCount={m.sms_count}")
        print("queued: the running gateway sends it (simgate run)")
        return 0
    finally:
        gw.store.close()


def cmd_status(args: argparse.Namespace) -> int:
    config = _config(args)
    url = args.url or f"http://{config.http.host}:{config.http.port}/health"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if args.user:
        # With credentials /health answers in detail (modem identity, queue, events).
        password = args.password if args.password is not None else getpass.getpass(f"password of {args.user}: ")
        token = base64.b64encode(f"{args.user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
    except (urllib.error.URLError, OSError) as exc:
        print(f"simgate: no gateway answers at {url} ({exc})", file=sys.stderr)
        return 2
    print(json.dumps(body, indent=2, default=str))
    return 0 if body.get("status") == "ok" else 1


def cmd_inbox(args: argparse.Namespace) -> int:
    gw = _open_gateway(args)
    try:
        for r in gw.store.inbound_logs(limit=args.limit):
            from datetime import datetime, timezone

            when = datetime.fromtimestamp(r.received_at, timezone.utc).isoformat(timespec="seconds")
            body = r.text if r.text is not None else (r.data or b"").hex().upper()
            flag = "" if r.complete else " [incomplete]"
            print(f"{when} {r.sender} -> {r.receiver or '-'} ({r.sms_count} parts){flag}: {body}")
        return 0
    finally:
        gw.store.close()


def cmd_user(args: argparse.Namespace) -> int:
    """Account administration through the service: ``user add`` and ``user passwd`` share one
    password policy (gateway/accounts.py)."""
    gw = _open_gateway(args)
    try:
        accounts = gw.accounts
        if args.action == "add":
            _acc, password = accounts.create(args.name, args.password)
            print(f"account {args.name} created" + ("" if args.password else f"; password: {password}"))
            print(SHARED_INBOX_NOTE)
        elif args.action == "list":
            for name in accounts.names():
                print(name)
        elif args.action == "passwd":
            password = accounts.set_password(args.name, args.password)
            print(f"password of {args.name} changed" + ("" if args.password else f": {password}"))
        elif args.action == "delete":
            accounts.delete(args.name)
            print(f"account {args.name} deleted")
        return 0
    except UnknownAccountError as exc:
        print(f"simgate: {exc}", file=sys.stderr)
        return 2
    finally:
        gw.store.close()


def cmd_db(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.action == "path":
        print(config.database_path)
        return 0
    gw = _open_gateway(args)
    try:
        n = gw.store.prune(SYSTEM_CLOCK.now().timestamp() - config.log_retention_hours * 3600)
        print(f"pruned {n} rows older than {config.log_retention_hours:g} h")
        return 0
    finally:
        gw.store.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simgate", description="SMS gateway for a SIM800/SIM7600 modem")
    parser.add_argument("--config", help="TOML config file (default: $SIMGATE_CONFIG, else built-in defaults)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start the gateway (HTTP APIs, dispatcher, modem)")
    p.add_argument("--demo", action="store_true",
                   help="create a demo account if none exists and print its password even when stdout "
                        "is not a terminal (on the emulator the account is created anyway)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("send", help="queue an SMS (the running gateway sends it)")
    p.add_argument("--to", action="append", required=True, help="destination in international format (repeatable)")
    p.add_argument("--text", required=True)
    p.add_argument("--from", dest="sender")
    p.add_argument("--user", default=DEMO_USER, help="account that owns the message")
    p.add_argument("--flash", action="store_true")
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("status", help="health of the running gateway and its modem")
    p.add_argument("--url", help="health URL (default from the config)")
    p.add_argument("--user", help="account to authenticate as: /health then answers in detail")
    p.add_argument("--password", help="its password (asked for when omitted)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("inbox", help="received SMS, newest first")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_inbox)

    p = sub.add_parser("user", help="manage API accounts")
    p.add_argument("action", choices=["add", "list", "passwd", "delete"])
    p.add_argument("name", nargs="?")
    p.add_argument("--password")
    p.set_defaults(func=cmd_user)

    p = sub.add_parser("db", help="database path and pruning")
    p.add_argument("action", choices=["path", "prune"])
    p.set_defaults(func=cmd_db)

    for module in ("gateway.emulator.cli", "gateway.sms.inspect"):
        try:
            register = __import__(module, fromlist=["register_cli"]).register_cli
        except (ImportError, AttributeError):  # pragma: no cover - both ship with simgate
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, hasher: PasswordHasher = DEFAULT_HASHER) -> int:
    """``hasher``: the password hashing cost (tests pass a cheap one)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.hasher = hasher
    if args.command == "user" and args.action != "list" and not args.name:
        parser.error("user: a NAME is required")
    try:
        return int(args.func(args) or 0)
    except GatewayError as exc:
        print(f"simgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
