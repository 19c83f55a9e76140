"""The shipped unit is valid for systemd and stays hardened (``systemd-analyze``, offline)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "simgate.service"
MAX_EXPOSURE = 2.0  # docs/pi.md states the score; a change that loosens the unit fails here

needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (apt-get install systemd)")


def _unit_copy(tmp_path: Path) -> Path:
    # verify checks that ExecStart exists; /opt/simgate is only there after `make install`.
    text = UNIT.read_text().replace("/opt/simgate/venv/bin/simgate", "/bin/true")
    copy = tmp_path / "simgate.service"
    copy.write_text(text)
    return copy


def _directives(name: str) -> list[str]:
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(name + "=")]


def test_unit_keeps_serial_and_gpio_reachable() -> None:
    assert _directives("Type") == ["notify"]
    assert not _directives("PrivateDevices"), "PrivateDevices=yes hides /dev/ttyAMA0 and /dev/gpiochip*"
    allowed = " ".join(_directives("DeviceAllow"))
    for device in ("char-ttyAMA", "char-ttyS", "char-ttyUSB", "char-gpiochip"):
        assert device in allowed
    assert "AF_UNIX" in _directives("RestrictAddressFamilies")[0]  # sd_notify needs it
    assert _directives("WatchdogSec") and _directives("Restart") == ["on-failure"]


@needs_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", str(_unit_copy(tmp_path))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "simgate.service" not in done.stderr, done.stderr  # no warning about our unit


@needs_analyze
def test_security_exposure_stays_low(tmp_path: Path) -> None:
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(_unit_copy(tmp_path))],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for simgate\.service: ([0-9.]+)", done.stdout)
    assert match, done.stdout[-2000:] + done.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE
