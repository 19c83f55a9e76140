"""Typed configuration: a TOML file, then ``SIMGATE_<SECTION>_<KEY>`` environment overrides.

The defaults run the emulator with a database under ``./var``, so ``make run`` needs no file.
Every key is documented in docs/configuration.md; a test fails when one is not.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Mapping, get_args, get_origin, get_type_hints

from gateway.errors import ConfigError
from gateway.lifecycle import InDoubtPolicy

ENV_PREFIX = "SIMGATE_"
# gpiozero pin factories by config name ("" = gpiozero's own choice); gateway.runtime builds them.
PIN_FACTORIES = ("", "mock", "lgpio", "rpigpio", "pigpio", "native")


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Request threads wait for the group commit that holds their message: more of them means
    # bigger commits (bench: 8 -> 16 threads took 1,076 -> ~1,500 accepted req/s).
    threads: int = 16
    # Seconds a user name is locked after a failed login; doubles per failure in a row (max 30 s).
    auth_failure_delay: float = 0.2
    # Seconds an open connection without a request in progress is kept (waitress's default: 120).
    channel_timeout: float = 30.0
    # Open connections at most; when full, the one idle the longest is closed to admit a new one.
    connection_limit: int = 100
    # Seconds between sweeps that close connections idle past channel_timeout.
    cleanup_interval: float = 5.0


@dataclass(frozen=True)
class DatabaseConfig:
    # Empty: <state_dir>/simgate.db
    path: str = ""
    # Accepting threads hand rows to one writer that commits them together (group commit).
    group_commit_max: int = 256


@dataclass(frozen=True)
class ModemConfig:
    """Which port and HAT, and the modem's policy settings (``ModemSettings``, one key each).

    Every field here reaches the assembled runtime (``gateway.runtime``); a test changes each
    documented key and checks that what the runtime built changed with it.
    """

    # "emulator" starts the built-in virtual modem on a pty; anything else is a pyserial port/URL.
    port: str = "emulator"
    # 0: the profile's serial.baudrate. A UART such as /dev/serial0 runs at whatever we open it
    # with, so this must match the modem's AT+IPR (SIM800 autobauds; SIM7600 defaults to 115200).
    baudrate: int = 0
    # A profile name from hw/ (waveshare-sim800, waveshare-sim7600) or a path to a TOML file.
    profile: str = "waveshare-sim800"
    pin: str = ""
    smsc: str = ""
    # The SIM's own number, shown as "to" of received messages (optional).
    msisdn: str = ""
    registration_timeout: float = 120.0
    command_timeout: float = 10.0
    send_timeout: float = 120.0
    prompt_timeout: float = 10.0
    # "" chooses from AT+CNMI=? (+CMTI for SMS, +CDS for reports); else the AT+CNMI= arguments.
    cnmi: str = ""
    # -1 chooses (1 where SMS/reports are routed inline and offered); 0 or 1 sets it.
    csms: int = -1
    use_cmms: bool = True
    health_interval: float = 30.0
    rescan_interval: float = 600.0
    probe_attempts: int = 3
    probe_timeout: float = 1.0
    registration_poll: float = 2.0
    sms_ready_poll: float = 0.5
    under_voltage_backoff: float = 30.0
    retry_interval: float = 60.0
    port_retry_interval: float = 5.0
    handover_retry: float = 5.0
    # Power the modem off (AT+CPOWD=1 / AT+CPOF) when simgate stops.
    power_off_on_stop: bool = False
    # GPIO pin factory for PWRKEY ("" = gpiozero's default; "mock" for tests and the demo).
    pin_factory: str = ""


@dataclass(frozen=True)
class EmulatorConfig:
    profile: str = "sim800"
    msisdn: str = "+447700900001"
    # fast | demo | real
    timing: str = "demo"


@dataclass(frozen=True)
class SendingConfig:
    max_parts: int = 10
    ref16: bool = False
    status_report: bool = True
    # Minutes a message may wait for the modem and the network (TP-VP and our own expiry).
    validity_minutes: int = 2880
    retry_base: float = 5.0
    retry_max: float = 600.0
    # Attempts after which a message that keeps failing transiently is given up as undeliverable.
    max_attempts: int = 8
    # What to do with a part whose AT+CMGS outcome is unknown (crash or time-out after Ctrl-Z):
    # "assume_sent" never risks a duplicate; "resend" never risks a loss.
    in_doubt: InDoubtPolicy = InDoubtPolicy.ASSUME_SENT
    # Per-modem rate limit, messages per minute (0 = unlimited).
    rate_per_minute: float = 0.0


@dataclass(frozen=True)
class LimitsConfig:
    # Messages one account may queue per minute (a token bucket: a minute's worth at once, then
    # at that rate); 0 = unlimited. Over it, a send is refused whole with HTTP 429.
    messages_per_minute: int = 0


@dataclass(frozen=True)
class InboundConfig:
    # Keywords recognised as the first word of an inbound text (empty: any first word).
    keywords: tuple[str, ...] = ()
    # Seconds to wait for missing parts of a concatenated SMS before delivering what arrived.
    reassembly_timeout: float = 3600.0


@dataclass(frozen=True)
class AccountConfig:
    # USSD code whose answer holds the SIM balance, and the regular expression that finds it.
    balance_ussd: str = ""
    balance_pattern: str = r"(-?\d+(?:[.,]\d+)?)"
    currency: str = "EUR"
    price_per_message: float = 0.0


@dataclass(frozen=True)
class LogConfig:
    # Phone numbers in log lines in full; false masks them (+4479****12).
    numbers: bool = False


@dataclass(frozen=True)
class Config:
    state_dir: str = "./var"
    log_level: str = "INFO"
    # Sent-message logs and inbound messages are pruned after this many hours.
    log_retention_hours: float = 48.0
    http: HttpConfig = field(default_factory=HttpConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    modem: ModemConfig = field(default_factory=ModemConfig)
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)
    sending: SendingConfig = field(default_factory=SendingConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    inbound: InboundConfig = field(default_factory=InboundConfig)
    account: AccountConfig = field(default_factory=AccountConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def database_path(self) -> Path:
        return Path(self.database.path) if self.database.path else Path(self.state_dir) / "simgate.db"

    def validate(self) -> Config:
        if not 0 < self.http.port < 65536:
            raise ConfigError(f"http.port must be 1-65535, not {self.http.port}")
        if self.limits.messages_per_minute < 0:
            raise ConfigError("limits.messages_per_minute must be 0 (unlimited) or more")
        if self.http.threads < 1:
            raise ConfigError("http.threads must be at least 1")
        if self.http.connection_limit < 2:
            raise ConfigError("http.connection_limit must be at least 2")
        if not (self.http.channel_timeout > 0 and self.http.cleanup_interval > 0):
            raise ConfigError("http.channel_timeout and http.cleanup_interval must be positive")
        if not 1 <= self.sending.max_parts <= 255:
            raise ConfigError("sending.max_parts must be 1-255")
        if self.emulator.timing not in ("fast", "demo", "real"):
            raise ConfigError("emulator.timing must be fast, demo or real")
        if self.emulator.profile not in ("sim800", "sim7600"):
            raise ConfigError("emulator.profile must be sim800 or sim7600")
        if self.modem.baudrate < 0:
            raise ConfigError("modem.baudrate must be 0 (the profile's) or a positive rate")
        if self.modem.csms not in (-1, 0, 1):
            raise ConfigError("modem.csms must be -1 (choose), 0 or 1")
        if self.modem.probe_attempts < 1:
            raise ConfigError("modem.probe_attempts must be at least 1")
        if self.modem.pin_factory not in PIN_FACTORIES:
            raise ConfigError(f"modem.pin_factory must be one of {', '.join(repr(n) for n in PIN_FACTORIES)}")
        return self


def _coerce(value: Any, kind: Any, key: str) -> Any:
    origin = get_origin(kind)
    if isinstance(kind, type) and issubclass(kind, Enum):  # the config edge: strings in, Enums out
        if value not in {m.value for m in kind}:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(repr(m.value) for m in kind)}")
        return kind(value)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError(value)
            return str(value)
        if origin is tuple:
            (item,) = {a for a in get_args(kind) if a is not Ellipsis}
            if isinstance(value, str):
                value = [v for v in (p.strip() for p in value.split(",")) if v]
            return tuple(_coerce(v, item, key) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not a valid {getattr(kind, '__name__', kind)}") from None
    raise ConfigError(f"{key}: unsupported type")  # pragma: no cover - only our own dataclasses


def _build(cls: type, data: Mapping[str, Any], env: Mapping[str, str], prefix: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in {prefix or 'top level'}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            section = data.get(f.name, {})
            if not isinstance(section, Mapping):
                raise ConfigError(f"{key} must be a table")
            values[f.name] = _build(kind, section, env, key)
            continue
        env_name = ENV_PREFIX + key.replace(".", "_").upper()
        if env_name in env:
            values[f.name] = _coerce(env[env_name], kind, env_name)
        elif f.name in data:
            values[f.name] = _coerce(data[f.name], kind, key)
    return cls(**values)


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (if any; ``SIMGATE_CONFIG`` names it too) and apply the environment."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG") or None
    data: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
    return _build(Config, data, env, "").validate()


def all_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted setting name; the docs test compares it with docs/configuration.md."""
    keys: list[str] = []
    hints = get_type_hints(cls)
    for f in fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(hints[f.name]):
            keys.extend(all_keys(hints[f.name], key))
        else:
            keys.append(key)
    return keys
