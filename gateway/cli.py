"""``simgate``: the composition root. Only this module builds real ports, GPIO, databases and servers.

Sub-commands: run | send | status | inbox | user | db | emulator | pdu.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from gateway.config import Config, load_config
from gateway.errors import ConfigError, GatewayError

log = logging.getLogger("gateway.cli")

DEMO_USER = "demo"


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


@dataclass
class Runtime:
    """Everything `simgate run` started, stopped in reverse order: API, dispatcher, modem, database."""

    stoppers: list[Callable[[], None]] = field(default_factory=list)

    def on_stop(self, fn: Callable[[], None]) -> None:
        self.stoppers.append(fn)

    def stop(self) -> None:
        while self.stoppers:
            fn = self.stoppers.pop()
            try:
                fn()
            except Exception:  # keep stopping the rest
                log.exception("error while stopping")


def _ensure_demo_account(gateway: Any, state_dir: Path) -> tuple[str, str | None]:
    if gateway.store.account(DEMO_USER) is not None:
        return DEMO_USER, None
    _account, password = gateway.create_account(DEMO_USER)
    cred = state_dir / "demo-credentials"
    fd = os.open(cred, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"username={DEMO_USER}\npassword={password}\n")
    os.chmod(cred, 0o600)
    return DEMO_USER, password


def _pin_factory(name: str) -> Any:
    if not name:
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    # lgpio, rpigpio, pigpio, native: gpiozero builds the named factory itself.
    os.environ["GPIOZERO_PIN_FACTORY"] = name
    return None


def build_runtime(config: Config, *, demo: bool = False, out: Any = sys.stdout) -> tuple[Runtime, Any, Any]:
    """Start everything but the HTTP server; returns (runtime, gateway, wsgi app)."""
    import serial

    from gateway.api import build_app
    from gateway.clock import SYSTEM_CLOCK
    from gateway.dispatch import Dispatcher
    from gateway.events import StoreListener
    from gateway.inbound import InboundHandler
    from gateway.modem.driver import Modem, ModemSettings
    from gateway.modem.power import GpioPowerKey
    from gateway.modem.profiles import load_profile
    from gateway.reports import ReportMatcher
    from gateway.service import Gateway
    from gateway.store import Store

    rt = Runtime()
    state_dir = Path(config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(config.database_path, group_commit_max=config.database.group_commit_max)
    rt.on_stop(store.close)

    profile = load_profile(config.modem.profile)
    port = config.modem.port
    receiver = config.emulator.msisdn if port == "emulator" else config.modem.msisdn
    pin_factory = _pin_factory(config.modem.pin_factory)
    if port == "emulator":
        from gateway.emulator import EmulatorHost, Timing

        timing = {"fast": Timing.fast, "demo": Timing.demo, "real": Timing.real}[config.emulator.timing]()
        host = EmulatorHost(state_dir, profile=config.emulator.profile, msisdn=config.emulator.msisdn, timing=timing)
        port = host.start()
        rt.on_stop(host.stop)
        print(f"emulated {config.emulator.profile} modem ({config.emulator.msisdn}) on {port}", file=out)
        if profile.pwrkey_pin is not None:
            # The emulator's PWRKEY is wired to a mock GPIO pin, exactly as a HAT is wired to the Pi.
            from gpiozero.pins.mock import MockFactory

            from gateway.emulator import PwrkeyPin

            pin_factory = MockFactory()
            pin_factory.pin(profile.pwrkey_pin, pin_class=PwrkeyPin, modem=host.modem, active_high=profile.pwrkey_active_high)
    serial.protocol_handler_packages.append("gateway.emulator")

    power = None
    if profile.pwrkey_pin is not None:
        try:
            power = GpioPowerKey(profile.pwrkey_pin, profile.pwrkey_active_high, pin_factory=pin_factory)
        except Exception as exc:  # gpiozero raises its own tree (BadPinFactory, PinInvalidPin...)
            rt.stop()
            raise ConfigError(
                f"modem.profile {profile.name} drives PWRKEY on BCM {profile.pwrkey_pin} but GPIO is not "
                f"usable ({type(exc).__name__}: {exc}); install lgpio, set modem.pin_factory, or use a "
                "profile without power.pwrkey_pin"
            ) from None
        rt.on_stop(power.close)

    inbound = InboundHandler(store, config.inbound, receiver=receiver, clock=SYSTEM_CLOCK)
    listener = StoreListener(store, inbound, ReportMatcher(store))
    settings = ModemSettings(
        pin=config.modem.pin or None,
        smsc=config.modem.smsc or None,
        registration_timeout_s=config.modem.registration_timeout,
        command_timeout_s=config.modem.command_timeout,
        send_timeout_s=config.modem.send_timeout,
    )
    modem = Modem(port, profile, listener, settings=settings, power=power)
    modem.start()
    rt.on_stop(lambda: modem.stop(power_off=config.modem.power_off_on_stop))

    dispatcher = Dispatcher(store, modem, config.sending)
    gateway = Gateway(store, config, modem=modem, on_accepted=dispatcher.wake)
    dispatcher.start()
    rt.on_stop(dispatcher.stop)

    housekeeping = _Housekeeping(store, inbound, config)
    housekeeping.start()
    rt.on_stop(housekeeping.stop)

    if demo:
        user, password = _ensure_demo_account(gateway, state_dir)
        url = f"http://{config.http.host}:{config.http.port}"
        print(f"simgate demo: {url}", file=out)
        if password:
            print(f"  username: {user}\n  password: {password}   (printed once; also in {state_dir / 'demo-credentials'})", file=out)
        else:
            print(f"  username: {user}   (password in {state_dir / 'demo-credentials'} from the first run)", file=out)
        print(
            f"  try: curl -u {user}:PASSWORD -H 'Content-Type: application/json' "
            f"-d '{{\"from\":\"InfoSMS\",\"to\":\"41793026727\",\"text\":\"Test SMS.\"}}' {url}/restapi/sms/1/text/single",
            file=out,
        )
    return rt, gateway, build_app(gateway)


class _Housekeeping:
    """Prunes old logs and flushes incomplete inbound messages, once a minute."""

    def __init__(self, store: Any, inbound: Any, config: Config) -> None:
        self.store, self.inbound, self.config = store, inbound, config
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import time

        while not self._stop.wait(60):
            try:
                self.inbound.flush_stale()
                self.store.prune(time.time() - self.config.log_retention_hours * 3600)
            except Exception:
                log.exception("housekeeping failed")


def cmd_run(args: argparse.Namespace) -> int:
    import waitress

    config = _config(args)
    _setup_logging(config.log_level)
    rt, _gateway, app = build_runtime(config, demo=args.demo)
    from gateway.api.parsing import MAX_BODY_BYTES

    server = waitress.create_server(
        app,
        host=config.http.host,
        port=config.http.port,
        threads=config.http.threads,
        # Refuse oversized bodies at the socket instead of spooling up to waitress's 1 GiB default.
        max_request_body_size=MAX_BODY_BYTES + 64 * 1024,
        ident="simgate",
    )

    def _terminate(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    # Explicitly, because a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _terminate)
    print(f"simgate listening on http://{config.http.host}:{config.http.port}", flush=True)
    try:
        server.run()  # waitress returns (or raises) on KeyboardInterrupt: SIGINT and our SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        print("simgate stopping", flush=True)
        server.close()
        rt.stop()
        print("simgate stopped", flush=True)
    return 0


# --- other commands --------------------------------------------------------------------------


def _open_gateway(args: argparse.Namespace) -> Any:
    from gateway.service import Gateway
    from gateway.store import Store

    config = _config(args)
    store = Store(config.database_path)
    return Gateway(store, config)


def cmd_send(args: argparse.Namespace) -> int:
    from gateway.service import Destination, SubmitRequest

    gw = _open_gateway(args)
    try:
        rec = gw.store.account(args.user)
        if rec is None:
            print(f"simgate: no account {args.user!r} (simgate user add NAME)", file=sys.stderr)
            return 2
        from gateway.service import Account

        accepted = gw.submit(
            Account(rec.id, rec.username),
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
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
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
    from gateway.auth import hash_password

    gw = _open_gateway(args)
    try:
        if args.action == "add":
            _acc, password = gw.create_account(args.name, args.password)
            print(f"account {args.name} created; password: {password}" if not args.password else f"account {args.name} created")
        elif args.action == "list":
            for acc in gw.store.accounts():
                print(acc.username)
        elif args.action == "passwd":
            import secrets

            password = args.password or secrets.token_urlsafe(12)
            if not gw.store.set_password(args.name, hash_password(password)):
                print(f"simgate: no account {args.name!r}", file=sys.stderr)
                return 2
            print(f"password of {args.name} changed" + ("" if args.password else f": {password}"))
        elif args.action == "delete":
            if not gw.store.delete_account(args.name):
                print(f"simgate: no account {args.name!r}", file=sys.stderr)
                return 2
            print(f"account {args.name} deleted")
        return 0
    finally:
        gw.store.close()


def cmd_db(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.action == "path":
        print(config.database_path)
        return 0
    import time

    gw = _open_gateway(args)
    try:
        n = gw.store.prune(time.time() - config.log_retention_hours * 3600)
        print(f"pruned {n} rows older than {config.log_retention_hours:g} h")
        return 0
    finally:
        gw.store.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simgate", description="SMS gateway for a SIM800/SIM7600 modem")
    parser.add_argument("--config", help="TOML config file (default: $SIMGATE_CONFIG, else built-in defaults)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start the gateway (HTTP APIs, dispatcher, modem)")
    p.add_argument("--demo", action="store_true", help="create and print a demo account if none exists")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
