"""HAT profiles: the shipped TOML files, user files without code, errors that name the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.modem.profiles import (REPO_HW_DIR, load_profile, profile_for_model, profile_keys)


def test_waveshare_sim800_ships():
    p = load_profile("waveshare-sim800")
    assert (p.model, p.port, p.baudrate, p.pwrkey_pin, p.pwrkey_active_high) == (
        "sim800", "/dev/serial0", 115200, 4, True)
    assert (p.power_off_command, p.index_base, p.autobaud) == ("AT+CPOWD=1", 1, True)
    assert p.pulse_on_s >= 1.0 and p.pulse_off_s >= 1.5 and p.boot_timeout_s > 0


def test_waveshare_sim7600_ships():
    p = load_profile("waveshare-sim7600")
    assert (p.model, p.pwrkey_pin, p.pwrkey_active_high, p.power_off_command) == (
        "sim7600", 6, True, "AT+CPOF")
    assert (p.index_base, p.lte, p.sms_ready_banner, p.autobaud) == (0, True, "SMS DONE", False)
    assert p.boot_timeout_s >= 30


def test_user_profile_in_toml_without_code(tmp_path: Path):
    (tmp_path / "nadhat.toml").write_text(
        'model = "sim800"\n[power]\npwrkey_pin = 26\npulse_on_s = 1\n'
        '[serial]\nport = "/dev/ttyAMA0"\n')
    p = load_profile("nadhat", search_dirs=[tmp_path])
    assert (p.name, p.pwrkey_pin, p.pulse_on_s, p.port, p.power_off_command) == (
        "nadhat", 26, 1.0, "/dev/ttyAMA0", "AT+CPOWD=1")
    assert load_profile(str(tmp_path / "nadhat.toml")) == p


def test_no_pwrkey_pin(tmp_path: Path):
    path = tmp_path / "selfpowered.toml"
    path.write_text('model = "sim7600"\n[power]\npwrkey_pin = "none"\n')
    assert load_profile(str(path)).pwrkey_pin is None


@pytest.mark.parametrize("text, key", [
    ('model = "sim900"\n', "model"),
    ('[power]\npwrkey_pin = 4\n', "model"),
    ('model = "sim800"\n[power]\npwrkey_pin = "four"\n', "power.pwrkey_pin"),
    ('model = "sim800"\n[power]\npwrkey_pin = 99\n', "power.pwrkey_pin"),
    ('model = "sim800"\n[power]\npulse_on_s = -1\n', "power.pulse_on_s"),
    ('model = "sim800"\n[power]\nactive_high = "yes"\n', "power.active_high"),
    ('model = "sim800"\n[power]\npwrkey = 4\n', "power.pwrkey"),
    ('model = "sim800"\n[serial]\nbaudrate = "fast"\n', "serial.baudrate"),
    ('model = "sim800"\n[gpio]\npin = 4\n', "[gpio]"),
    ('model = "sim800"\n[power]\npower_off_command = "reboot"\n', "power.power_off_command"),
    ('model = "sim800\n', "TOML"),
])
def test_invalid_profile_names_the_key(tmp_path: Path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_profile(str(path))
    assert key in str(info.value)


def test_missing_profile_lists_where_it_looked(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_profile("nope", search_dirs=[tmp_path])
    assert str(tmp_path) in str(info.value)


def test_profile_for_model_and_keys():
    assert profile_for_model("sim7600").power_off_command == "AT+CPOF"
    assert profile_for_model("sim800", boot_timeout_s=1).boot_timeout_s == 1.0
    with pytest.raises(ConfigError):
        profile_for_model("sim900")
    assert "power.pwrkey_pin" in profile_keys() and "model" in profile_keys()


def test_every_shipped_profile_loads():
    shipped = sorted(REPO_HW_DIR.glob("*.toml"))
    assert len(shipped) >= 2
    for path in shipped:
        assert load_profile(str(path)).name == path.stem
