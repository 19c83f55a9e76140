from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Config, all_keys, load_config
from gateway.errors import ConfigError


def test_defaults_run_the_emulator_under_var() -> None:
    c = load_config(env={})
    assert c.modem.port == "emulator"
    assert c.database_path == Path("var/simgate.db")
    assert c.http.port == 8080


def test_file_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('state_dir = "/srv/x"\n[http]\nport = 9000\n[inbound]\nkeywords = ["stop"]\n')
    c = load_config(f, env={"SIMGATE_HTTP_PORT": "9100", "SIMGATE_SENDING_REF16": "yes"})
    assert c.http.port == 9100
    assert c.sending.ref16 is True
    assert c.inbound.keywords == ("stop",)
    assert c.database_path == Path("/srv/x/simgate.db")


def test_config_file_from_environment(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[modem]\nport = '/dev/ttyUSB2'\n")
    assert load_config(env={"SIMGATE_CONFIG": str(f)}).modem.port == "/dev/ttyUSB2"


@pytest.mark.parametrize(
    "text, env, message",
    [
        ("[http]\nport = 'x'\n", {}, "http.port"),
        ("[http]\nbogus = 1\n", {}, "bogus"),
        ("nonsense = 1\n", {}, "nonsense"),
        ("", {"SIMGATE_HTTP_PORT": "eighty"}, "SIMGATE_HTTP_PORT"),
        ("[sending]\nin_doubt = 'maybe'\n", {}, "in_doubt"),
        ("[http]\nport = 70000\n", {}, "http.port"),
        ("[http\n", {}, "c.toml"),
        ("[modem]\npower_off_on_stop = 3\n", {}, "power_off_on_stop"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, text: str, env: dict[str, str], message: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(f, env=env)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_every_key_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    missing = [k for k in all_keys(Config) if f"`{k}`" not in doc]
    assert not missing, f"undocumented settings: {missing}"
