"""The one composition root: ``assemble(config, ...)`` builds the whole gateway, ``Runtime`` starts
and stops it in one order. The CLI, the integration tests and the benchmarks all use it, so the
wiring they test is the wiring that runs.

Why the hardware comes in as factories: ``serial_factory`` opens ports (and the in-process
``emu://`` emulator URLs) and ``pin_factory`` builds the gpiozero pin factory by name. Nothing here
writes ``GPIOZERO_PIN_FACTORY`` into the environment or appends to pyserial's global
``protocol_handler_packages``: two runtimes in one process (tests, benchmarks) must not leak
into each other or into the next test.

Start order: emulator (if any) -> modem -> dispatcher -> housekeeping; the store is open from
assembly on (the CLI's other commands need it without a modem). ``stop`` runs the reverse, each
step bounded and independent of the others' failure.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import serial

from gateway.accounts import Account
from gateway.api.server import ServerOptions
from gateway.auth import DEFAULT_HASHER, PasswordHasher
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.config import Config
from gateway.dispatch import Dispatcher
from gateway.errors import ConfigError, GatewayError
from gateway.events import StoreListener
from gateway.health import status_line
from gateway.inbound import InboundHandler
from gateway.logsafe import NumberPolicy
from gateway.modem.driver import Modem, ModemSettings
from gateway.modem.health import ModemState
from gateway.modem.power import GpioPowerKey
from gateway.modem.profiles import ModemProfile, load_profile
from gateway.reports import ReportMatcher
from gateway.service import Gateway
from gateway.store import Store

log = logging.getLogger(__name__)

EMULATOR_PORT = "emulator"
EMU_SCHEME = "emu://"
DEMO_USER = "demo"
DEMO_CREDENTIALS = "demo-credentials"
HOUSEKEEPING_INTERVAL = 60.0  # seconds between prunes and stale-reassembly flushes
# The modem's health poll refreshes last_seen; READY without a fresh one for this many poll
# periods (plus a command time-out) means its supervisor is stuck, not merely waiting.
MODEM_STALE_POLLS = 3

SerialFactory = Callable[..., Any]
PinFactoryBuilder = Callable[[str], Any]


# --- hardware factories ----------------------------------------------------------------------


def open_serial(url: str, *args: Any, **kwargs: Any) -> Any:
    """``serial.serial_for_url`` that also knows ``emu://NAME`` without touching pyserial's globals.

    Same contract as pyserial's: ``do_not_open=True`` returns the configured, unopened port.
    """
    if not url.startswith(EMU_SCHEME):
        return serial.serial_for_url(url, *args, **kwargs)
    from gateway.emulator.protocol_emu import Serial as EmulatedSerial

    do_open = not kwargs.pop("do_not_open", False)
    port = EmulatedSerial(None, *args, **kwargs)
    port.port = url
    if do_open:
        port.open()
    return port


def gpio_pin_factory(name: str) -> Any:
    """The gpiozero pin factory object for a config name; None lets gpiozero choose."""
    if not name:
        return None
    try:
        if name == "mock":
            from gpiozero.pins.mock import MockFactory

            return MockFactory()
        if name == "lgpio":
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        if name == "rpigpio":
            from gpiozero.pins.rpigpio import RPiGPIOFactory

            return RPiGPIOFactory()
        if name == "pigpio":
            from gpiozero.pins.pigpio import PiGPIOFactory

            return PiGPIOFactory()
        if name == "native":
            from gpiozero.pins.native import NativeFactory

            return NativeFactory()
    except Exception as exc:  # gpiozero and its libraries raise their own trees
        raise ConfigError(f"modem.pin_factory {name!r} is not usable here ({type(exc).__name__}: {exc})") from None
    raise ConfigError(f"modem.pin_factory: unknown pin factory {name!r}")


def emulator_pins(modem: Any, profile: ModemProfile) -> PinFactoryBuilder:
    """A pin factory builder whose PWRKEY line drives the emulated ``modem``, as a HAT's PWRKEY is
    wired to the Pi: for the built-in emulator, in-process ``emu://`` tests and benchmarks."""

    def build(_name: str) -> Any:
        from gpiozero.pins.mock import MockFactory

        from gateway.emulator import PwrkeyPin

        pins = MockFactory()
        if profile.pwrkey_pin is not None:
            pins.pin(profile.pwrkey_pin, pin_class=PwrkeyPin, modem=modem, active_high=profile.pwrkey_active_high)
        return pins

    return build


def modem_settings(config: Config) -> ModemSettings:
    """Every ModemSettings field from its ``modem.*`` key (docs/configuration.md)."""
    m = config.modem
    return ModemSettings(
        pin=m.pin or None,
        smsc=m.smsc or None,
        registration_timeout_s=m.registration_timeout,
        command_timeout_s=m.command_timeout,
        send_timeout_s=m.send_timeout,
        prompt_timeout_s=m.prompt_timeout,
        cnmi=m.cnmi or None,
        csms=None if m.csms < 0 else m.csms,
        use_cmms=m.use_cmms,
        health_interval_s=m.health_interval,
        rescan_interval_s=m.rescan_interval,
        probe_attempts=m.probe_attempts,
        probe_timeout_s=m.probe_timeout,
        registration_poll_s=m.registration_poll,
        sms_ready_poll_s=m.sms_ready_poll,
        under_voltage_backoff_s=m.under_voltage_backoff,
        retry_interval_s=m.retry_interval,
        port_retry_interval_s=m.port_retry_interval,
        handover_retry_s=m.handover_retry,
    )


def modem_profile(config: Config) -> ModemProfile:
    profile = load_profile(config.modem.profile)
    return replace(profile, baudrate=config.modem.baudrate) if config.modem.baudrate else profile


# --- housekeeping ----------------------------------------------------------------------------


class Housekeeping:
    """Prunes old logs and flushes incomplete inbound messages, every ``interval`` clock seconds."""

    def __init__(self, store: Store, inbound: InboundHandler, *, retention_hours: float,
                 clock: Clock, interval: float = HOUSEKEEPING_INTERVAL) -> None:
        self.store, self.inbound, self.clock = store, inbound, clock
        self.retention_s = retention_hours * 3600
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def run_once(self) -> int:
        """One round; the number of rows pruned."""
        self.inbound.flush_stale()
        pruned = self.store.prune(self.clock.now().timestamp() - self.retention_s)
        self.rounds += 1
        return pruned

    def _run(self) -> None:
        while not self.clock.wait(self._stop, self.interval):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("housekeeping failed")


# --- the runtime -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str | None  # None: created by an earlier run, read it from ``credentials``
    credentials: Path


class Runtime:
    """Everything one gateway process runs. Built by ``assemble``; nothing runs until ``start``."""

    def __init__(self, *, config: Config, clock: Clock, store: Store, gateway: Gateway, modem: Modem,
                 dispatcher: Dispatcher, inbound: InboundHandler, housekeeping: Housekeeping,
                 emulator: Any, power: GpioPowerKey | None, pin_factory: Any) -> None:
        self.config, self.clock, self.store, self.gateway = config, clock, store, gateway
        self.modem, self.dispatcher, self.inbound, self.housekeeping = modem, dispatcher, inbound, housekeeping
        self.emulator = emulator  # gateway.emulator.EmulatorHost when modem.port is "emulator"
        self.power, self.pin_factory = power, pin_factory
        self.power_off_on_stop = config.modem.power_off_on_stop
        self.log_level = config.log_level
        self.state_dir = Path(config.state_dir)
        self.server_options = ServerOptions(
            host=config.http.host, port=config.http.port, threads=config.http.threads,
            channel_timeout=config.http.channel_timeout,
            connection_limit=config.http.connection_limit,
            cleanup_interval=config.http.cleanup_interval,
        )
        self._started: list[tuple[str, Callable[[], None]]] = []
        self._stopped = False
        self._emulator_started = False
        self._lock = threading.Lock()

    # -- start and stop, in one place --

    def start(self) -> None:
        with self._lock:
            if self._started or self._stopped:
                return
            try:
                if self.emulator is not None:
                    port = self.emulator.start()
                    self._emulator_started = True
                    log.info("emulated %s modem (%s) on %s", self.config.emulator.profile,
                             self.config.emulator.msisdn, port)
                self.modem.start()
                self._started.append(("modem", lambda: self.modem.stop(power_off=self.power_off_on_stop)))
                self.dispatcher.start()
                self._started.append(("dispatcher", self.dispatcher.stop))
                self.housekeeping.start()
                self._started.append(("housekeeping", self.housekeeping.stop))
            except BaseException:
                self._stop_started()
                raise

    def stop(self) -> None:
        """Stop what started (reverse order), then release GPIO, the emulator and the database."""
        with self._lock:
            self._stop_started()
            if self._stopped:
                return
            self._stopped = True
            if self.power is not None:
                self._safely("power key", self.power.close)
            if self.emulator is not None:
                self._safely("emulator", self.emulator.stop if self._emulator_started
                             else lambda: _discard_emulator(self.emulator))
            self._safely("store", self.store.close)

    def _stop_started(self) -> None:
        while self._started:
            name, fn = self._started.pop()
            self._safely(name, fn)

    @staticmethod
    def _safely(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - keep stopping the rest
            log.exception("error while stopping the %s", name)

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what systemd and probes ask --

    def liveness(self) -> tuple[bool, str]:
        """(alive, reason): the dispatcher thread runs and the modem's supervisor is not stuck.

        A modem that is merely down (no SIM, no network, recovering) is alive: restarting simgate
        would not bring the network back. A modem that says READY but has not completed a health
        poll for ``MODEM_STALE_POLLS`` periods is stuck (a hung serial read), and restarting is
        the cure.
        """
        if not self.dispatcher.alive:
            return False, "the dispatcher thread is not running"
        health = self.modem.health()
        if health.state is ModemState.READY and health.last_seen is not None:
            settings = self.modem.settings
            limit = MODEM_STALE_POLLS * settings.health_interval_s + settings.command_timeout_s
            age = (self.clock.now() - health.last_seen).total_seconds()
            if age > limit:
                return False, f"the modem has not answered a health poll for {age:.0f} s"
        return True, ""

    def status_line(self) -> str:
        return status_line(self.gateway.health())

    # -- the HTTP side --

    def wsgi_app(self) -> Any:
        from gateway.api import build_app

        return build_app(self.gateway)

    def create_server(self, **extra: Any) -> Any:
        """The waitress server for ``http.*``, bound (listening) when this returns; its own
        refusals in the dialects' error shapes (``gateway.api.server``)."""
        from gateway.api.server import create_server

        return create_server(self.wsgi_app(), self.server_options, **extra)

    # -- the demo account --

    def ensure_demo_account(self) -> DemoLogin:
        """The demo account, created with a generated password on the first run; the password is
        written to ``state_dir/demo-credentials`` (mode 0600) whether or not anyone prints it."""
        cred = self.state_dir / DEMO_CREDENTIALS
        if self.gateway.accounts.find(DEMO_USER) is not None:
            return DemoLogin(DEMO_USER, None, cred)
        _account, password = self.gateway.accounts.create(DEMO_USER)
        fd = os.open(cred, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"username={DEMO_USER}\npassword={password}\n")
        os.chmod(cred, 0o600)  # O_CREAT's mode does not apply to a file that existed
        return DemoLogin(DEMO_USER, password, cred)

    def account(self, username: str) -> Account | None:
        return self.gateway.accounts.find(username)


def assemble(config: Config, *, clock: Clock = SYSTEM_CLOCK, serial_factory: SerialFactory = open_serial,
             pin_factory: PinFactoryBuilder = gpio_pin_factory,
             hasher: PasswordHasher = DEFAULT_HASHER) -> Runtime:
    """Build (not start) the gateway ``config`` describes. ConfigError when it cannot be built."""
    state_dir = Path(config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # texts and hashes live here
    profile = modem_profile(config)
    store = Store.open(config.database_path, group_commit_max=config.database.group_commit_max)
    built: list[Callable[[], None]] = [store.close]
    try:
        emulator = None
        pins = pin_factory(config.modem.pin_factory) if profile.pwrkey_pin is not None else None
        port = config.modem.port
        receiver = config.modem.msisdn
        if port == EMULATOR_PORT:
            from gateway.emulator import EmulatorHost, Timing

            timing = {"fast": Timing.fast, "demo": Timing.demo, "real": Timing.real}[config.emulator.timing]()
            emulator = EmulatorHost(state_dir, profile=config.emulator.profile, msisdn=config.emulator.msisdn,
                                    timing=timing)
            built.append(lambda: _discard_emulator(emulator))
            receiver = config.emulator.msisdn
            serial_factory = _emulator_port(emulator, serial_factory)
            if profile.pwrkey_pin is not None:
                pins = emulator_pins(emulator.modem, profile)("mock")
        power = None
        if profile.pwrkey_pin is not None:
            try:
                power = GpioPowerKey(profile.pwrkey_pin, profile.pwrkey_active_high, pin_factory=pins, clock=clock)
            except GatewayError:
                raise
            except Exception as exc:  # gpiozero raises its own tree (BadPinFactory, PinInvalidPin...)
                raise ConfigError(
                    f"modem.profile {profile.name} drives PWRKEY on BCM {profile.pwrkey_pin} but GPIO is not "
                    f"usable ({type(exc).__name__}: {exc}); install lgpio, set modem.pin_factory, or use a "
                    "profile without power.pwrkey_pin"
                ) from None
            built.append(power.close)

        inbound = InboundHandler(store, config.inbound, receiver=receiver, clock=clock,
                                 numbers=NumberPolicy(config.log.numbers))
        listener = StoreListener(store, inbound, ReportMatcher(store, clock=clock), clock=clock)
        modem = Modem(port, profile, listener, settings=modem_settings(config), power=power, clock=clock,
                      serial_factory=serial_factory)
        dispatcher = Dispatcher(store, modem, config.sending, clock=clock)
        gateway = Gateway(store, config, clock=clock, modem=modem, on_accepted=dispatcher.wake, hasher=hasher)
        housekeeping = Housekeeping(store, inbound, retention_hours=config.log_retention_hours, clock=clock)
    except BaseException:
        for fn in reversed(built):
            Runtime._safely("partly assembled runtime", fn)
        raise
    return Runtime(config=config, clock=clock, store=store, gateway=gateway, modem=modem, dispatcher=dispatcher,
                   inbound=inbound, housekeeping=housekeeping, emulator=emulator, power=power, pin_factory=pins)


def _emulator_port(host: Any, factory: SerialFactory) -> SerialFactory:
    """Opens ``emulator`` as the host's pty, known only once the host started."""

    def open_port(url: str, *args: Any, **kwargs: Any) -> Any:
        if url == EMULATOR_PORT:
            if host.pty_path is None:
                raise serial.SerialException("the emulated modem is not started")
            url = host.pty_path
        return factory(url, *args, **kwargs)

    return open_port


def _discard_emulator(host: Any) -> None:
    """Release an emulator host that never started. Not ``host.stop()``: that removes the control
    socket and tty link in ``state_dir``, which may belong to a gateway that is running."""
    for modem in [host.modem, *host.peers]:
        modem.close()
    host.network.close()
