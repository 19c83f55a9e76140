"""kill -9 right after a 200: the message survives, is sent after the restart, and only once.

The emulator runs as its own process (`simgate emulator run`), so the modem and its record of
what it sent outlive the gateway, exactly as a real modem outlives a crashed gateway. The
network is deregistered first, so the message is certainly still queued when the gateway dies:
this tests durability of the accept, not luck with timing.
"""
from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import SIMGATE, make_gateway, wait_for


@pytest.fixture
def emulator(tmp_path: Path):
    state = tmp_path / "emu"
    state.mkdir()
    proc = subprocess.Popen(
        [*SIMGATE, "emulator", "run", "--state-dir", str(state), "--timing", "fast"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        pty = proc.stdout.readline().strip()
        if not pty.startswith("/dev/"):
            proc.kill()
            raise AssertionError(f"simgate emulator run printed {pty!r}: {proc.stdout.read()}")
        yield state, pty
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def emu(state: Path, *args: str) -> str:
    res = subprocess.run([*SIMGATE, "emulator", *args, "--state-dir", str(state)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def sent_to(state: Path, number: str) -> list[dict]:
    [main, *_peers] = json.loads(emu(state, "status", "--json"))
    return [s for s in main["sent"] if number in json.dumps(s)]


def test_sigkill_after_200_loses_nothing_and_sends_once(tmp_path: Path, emulator) -> None:
    emu_state, pty = emulator
    gw = make_gateway(tmp_path, SIMGATE_MODEM_PORT=pty, SIMGATE_MODEM_PIN_FACTORY="mock")
    emu(emu_state, "fault", "deregister")
    gw.start()
    status, body = gw.request("POST", "/restapi/sms/1/text/single", {"from": "InfoSMS", "to": "41793026799", "text": "Crash test"})
    assert status == 200, body
    message_id = body["messages"][0]["messageId"]
    gw.kill9()

    assert sent_to(emu_state, "41793026799") == []  # nothing left the modem: no network
    emu(emu_state, "fault", "register")
    gw.start()
    try:
        def delivered():
            status, body = gw.request("GET", f"/restapi/sms/1/reports?messageId={message_id}")
            return body["results"] if status == 200 else None

        [report] = wait_for(delivered, 30, "delivery after the restart")
        assert report["status"]["name"] == "DELIVERED_TO_HANDSET"
        sends = len(sent_to(emu_state, "41793026799"))
        assert sends == 1
        status, logs = gw.request("GET", "/restapi/sms/1/logs?to=41793026799")
        assert [r["messageId"] for r in logs["results"]] == [message_id]
        reports = json.loads(emu(emu_state, "status", "--json"))[0]["reports"]
        lost_reports = len({r["mr"] for r in reports}) - (report["status"]["name"] == "DELIVERED_TO_HANDSET")
        # Reports emitted while the gateway was down: tests/integration/test_field_defects.py.
        print(f"crash figures: 1 accepted, {sends} sent, 0 lost, {sends - 1} duplicated, "
              f"reports lost across restarts {lost_reports}")
    finally:
        gw.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_stop_cleanly(tmp_path: Path, emulator, sig: signal.Signals) -> None:
    """SIGTERM (systemd) and SIGINT (Ctrl-C, even when a shell started us in the background)."""
    _emu_state, pty = emulator
    gw = make_gateway(tmp_path, SIMGATE_MODEM_PORT=pty, SIMGATE_MODEM_PIN_FACTORY="mock")
    gw.start(sigint_ignored=True)
    assert gw.stop(sig) == 0
    assert "simgate stopped" in gw.log()


def test_demo_run_prints_credentials_and_stores_them_private(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path)
    gw.start("--demo")
    try:
        cred = gw.state_dir / "demo-credentials"
        wait_for(cred.exists, 10, "the credentials file")
        assert cred.stat().st_mode & 0o777 == 0o600
        password = dict(line.split("=", 1) for line in cred.read_text().split())["password"]
        assert f"password: {password}" in gw.log()
        assert f"http://127.0.0.1:{gw.port}" in gw.log()
    finally:
        gw.stop()
