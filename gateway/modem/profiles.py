"""HAT profiles: everything that differs between boards and modem models, as data.

A profile is a small TOML file in ``hw/`` (or ``/etc/simgate/hw``).  The ``model`` key chooses
the defaults (SIM800 or SIM7600 behaviour); every other key only overrides them, so a user adds
a new HAT with a handful of lines and no code.  Invalid files raise ``ConfigError`` naming the key.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from gateway.errors import ConfigError

REPO_HW_DIR = Path(__file__).resolve().parents[2] / "hw"
DEFAULT_SEARCH_DIRS: tuple[Path, ...] = (REPO_HW_DIR, Path("/etc/simgate/hw"))
MODELS = ("sim800", "sim7600")


@dataclass(frozen=True)
class ModemProfile:
    name: str
    model: str                       # "sim800" | "sim7600"
    description: str = ""
    port: str = "/dev/serial0"
    baudrate: int = 115200
    # SIM800 autobauds by default: the first "AT"s only train the rate, so probe several times.
    autobaud: bool = True
    pwrkey_pin: int | None = None    # BCM number; None: no GPIO, the ladder stops at AT+CFUN=1,1
    pwrkey_active_high: bool = True  # Waveshare HATs: GPIO high = key pressed (transistor)
    pulse_on_s: float = 2.0
    pulse_off_s: float = 2.0
    off_settle_s: float = 1.0        # wait after switching off before pulsing again (>= 0.8 s)
    boot_timeout_s: float = 15.0     # pulse (or CFUN reset) -> modem answers and SMS is ready
    power_off_command: str = "AT+CPOWD=1"
    index_base: int = 1              # a hint only: the driver uses indices the modem reports
    sms_ready_banner: str = "SMS Ready"
    lte: bool = False                # also poll AT+CEREG? and AT+CPSI?
    iccid_command: str = "AT+CCID"
    storage: str = "auto"            # "auto" (choose from AT+CPMS=?) or "SM" / "ME" / "MT"
    flight_mode_pin: int | None = None  # informational (SIM7600 HAT: BCM4 when jumpered)


_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "sim800": {
        "autobaud": True, "pulse_on_s": 2.0, "pulse_off_s": 2.0, "boot_timeout_s": 15.0,
        "power_off_command": "AT+CPOWD=1", "index_base": 1, "sms_ready_banner": "SMS Ready",
        "lte": False, "iccid_command": "AT+CCID",
    },
    "sim7600": {
        "autobaud": False, "pulse_on_s": 2.0, "pulse_off_s": 3.0, "boot_timeout_s": 35.0,
        "power_off_command": "AT+CPOF", "index_base": 0, "sms_ready_banner": "SMS DONE",
        "lte": True, "iccid_command": "AT+CICCID",
    },
}

# TOML layout: section -> {toml key: field name}.  Top-level keys are allowed too.
_SECTIONS: dict[str, dict[str, str]] = {
    "": {"name": "name", "model": "model", "description": "description"},
    "serial": {"port": "port", "baudrate": "baudrate", "autobaud": "autobaud"},
    "power": {
        "pwrkey_pin": "pwrkey_pin", "active_high": "pwrkey_active_high",
        "pulse_on_s": "pulse_on_s", "pulse_off_s": "pulse_off_s", "off_settle_s": "off_settle_s",
        "boot_timeout_s": "boot_timeout_s", "power_off_command": "power_off_command",
        "flight_mode_pin": "flight_mode_pin",
    },
    "sms": {
        "index_base": "index_base", "ready_banner": "sms_ready_banner", "storage": "storage",
    },
    "network": {"lte": "lte", "iccid_command": "iccid_command"},
}


def profile_keys() -> list[str]:
    """Every TOML key a profile may contain, dotted (``power.pwrkey_pin``), for docs and tests."""
    return [f"{section}.{key}" if section else key
            for section, keys in _SECTIONS.items() for key in keys]


def profile_for_model(model: str, **overrides: Any) -> ModemProfile:
    """A profile with the model's defaults (used by the emulator and by tests)."""
    if model not in MODELS:
        raise ConfigError(f"model: unknown modem model {model!r} (expected one of {MODELS})")
    values: dict[str, Any] = {"name": model, "model": model, **_MODEL_DEFAULTS[model]}
    values.update(overrides)
    return _validated(values, source=f"<{model}>")


def load_profile(name_or_path: str,
                 search_dirs: Sequence[Path] = DEFAULT_SEARCH_DIRS) -> ModemProfile:
    """Load a profile by name (``waveshare-sim800``) from ``search_dirs`` or by file path."""
    path = _find(name_or_path, search_dirs)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read profile: {exc}") from exc
    flat = _flatten(data, path)
    flat.setdefault("name", path.stem)
    model = flat.get("model")
    if model not in MODELS:
        raise ConfigError(f"{path}: model: expected one of {MODELS}, got {model!r}")
    return _validated({**_MODEL_DEFAULTS[model], **flat}, source=str(path))


def _find(name_or_path: str, search_dirs: Sequence[Path]) -> Path:
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".toml" or "/" in name_or_path:
        if candidate.is_file():
            return candidate
        raise ConfigError(f"modem profile file {name_or_path!r} does not exist")
    for directory in search_dirs:
        path = Path(directory) / f"{name_or_path}.toml"
        if path.is_file():
            return path
    searched = ", ".join(str(d) for d in search_dirs)
    raise ConfigError(f"modem profile {name_or_path!r} not found in {searched}")


def _flatten(data: dict[str, Any], path: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            section = _SECTIONS.get(key)
            if section is None or key == "":
                raise ConfigError(f"{path}: unknown section [{key}]")
            for sub, sub_value in value.items():
                if sub not in section:
                    raise ConfigError(f"{path}: unknown key {key}.{sub}")
                flat[section[sub]] = sub_value
            continue
        field_name = next((s[key] for s in _SECTIONS.values() if key in s), None)
        if field_name is None:
            raise ConfigError(f"{path}: unknown key {key}")
        flat[field_name] = value
    return flat


def _toml_name(field_name: str) -> str:
    for section, keys in _SECTIONS.items():
        for key, target in keys.items():
            if target == field_name:
                return f"{section}.{key}" if section else key
    return field_name


def _validated(values: dict[str, Any], source: str) -> ModemProfile:
    """Type-check every value so a typo fails at start-up, not on the first power cycle."""
    fields = {f.name: f for f in dataclasses.fields(ModemProfile)}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in fields:
            raise ConfigError(f"{source}: unknown key {name}")
        key = _toml_name(name)
        if name in ("pwrkey_pin", "flight_mode_pin"):
            if value in (None, "none", "", False):
                value = None
            elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 53:
                raise ConfigError(f"{source}: {key}: expected a BCM pin 0-53 or \"none\", "
                                  f"got {value!r}")
        elif name in ("pulse_on_s", "pulse_off_s", "off_settle_s", "boot_timeout_s"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(f"{source}: {key}: expected seconds >= 0, got {value!r}")
            value = float(value)
        elif name in ("baudrate", "index_base"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{source}: {key}: expected a non-negative integer, "
                                  f"got {value!r}")
        elif name in ("autobaud", "pwrkey_active_high", "lte"):
            if not isinstance(value, bool):
                raise ConfigError(f"{source}: {key}: expected true or false, got {value!r}")
        elif not isinstance(value, str):
            raise ConfigError(f"{source}: {key}: expected a string, got {value!r}")
        clean[name] = value
    if clean.get("model") not in MODELS:
        raise ConfigError(f"{source}: model: expected one of {MODELS}, got {clean.get('model')!r}")
    if clean.get("baudrate", 115200) == 0:
        raise ConfigError(f"{source}: serial.baudrate: must be > 0")
    if clean.get("pulse_on_s", 1.0) == 0 and clean.get("pwrkey_pin") is not None:
        raise ConfigError(f"{source}: power.pulse_on_s: must be > 0 when a PWRKEY pin is set")
    if not clean.get("power_off_command", "AT").upper().startswith("AT"):
        raise ConfigError(f"{source}: power.power_off_command: must be an AT command")
    return ModemProfile(**clean)
