"""Proof of fidelity: Gammu and smstools3, unmodified, send and receive through the emulator.

They run as subprocesses on the emulator's pty with their own config files in a tmp dir.
Skipped (with the reason) only where the Debian packages are missing: gammu, smstools.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.emulator import EmulatorHost, Timing

pytestmark = pytest.mark.thirdparty

LONG_UNICODE = ("Zażółć gęślą jaźń — Привет, мир! ¿Qué tal? " * 9)[:400]
PEER = "+447700900002"


def _binary(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)   # polling an external process's files: nothing to wait on


@pytest.fixture(params=["sim800", "sim7600"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmulatorHost]:
    emulator = EmulatorHost(tmp_path / "var", profile=request.param, timing=Timing.fast(),
                            peers=1, name=f"tp-{request.param}")
    emulator.start()
    yield emulator
    emulator.stop()


# --- Gammu ------------------------------------------------------------------------------------

GAMMU = _binary("gammu")
needs_gammu = pytest.mark.skipif(GAMMU is None, reason="gammu not installed (apt-get install gammu)")


def gammu(rc: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert GAMMU is not None
    return subprocess.run([GAMMU, "-c", str(rc), *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "LC_ALL": "C.UTF-8"})


def write_gammurc(host: EmulatorHost, tmp_path: Path, connection: str = "at115200") -> Path:
    rc = tmp_path / "gammurc"
    rc.write_text(f"[gammu]\ndevice = {host.pty_path}\nconnection = {connection}\n"
                  f"logfile = {tmp_path / 'gammu.log'}\nlogformat = textall\n")
    return rc


@pytest.fixture
def gammurc(host: EmulatorHost, tmp_path: Path) -> Path:
    return write_gammurc(host, tmp_path)


@needs_gammu
@pytest.mark.parametrize("connection", ["at115200", "at"])
def test_gammu_identify(host: EmulatorHost, tmp_path: Path, connection: str) -> None:
    result = gammu(write_gammurc(host, tmp_path, connection), "identify")
    assert result.returncode == 0, result.stdout + result.stderr
    profile = host.modem.profile
    assert profile.manufacturer in result.stdout
    assert profile.model in result.stdout
    assert host.modem.identity["imei"] in result.stdout
    assert host.modem.identity["imsi"] in result.stdout


@needs_gammu
def test_gammu_sends_long_unicode_sms(host: EmulatorHost, gammurc: Path) -> None:
    result = gammu(gammurc, "sendsms", "TEXT", PEER, "-unicode", "-len", "400", "-text",
                   LONG_UNICODE)
    assert result.returncode == 0, result.stdout + result.stderr
    peer = host.peers[0]
    assert peer.wait_until(lambda: len(peer.received) == len(host.modem.sent), 10)
    assert len(host.modem.sent) == 6               # 400 UCS-2 characters, 67 per part
    assert "".join(r.text or "" for r in peer.received) == LONG_UNICODE
    assert {r.parts[1] for r in peer.received if r.parts} == {6}


@needs_gammu
def test_gammu_receives_injected_sms(host: EmulatorHost, gammurc: Path) -> None:
    host.modem.inject_sms("+447911123456", "Привет from outside, " * 6)
    host.modem.inject_sms("+447911123456", "plain hello")
    result = gammu(gammurc, "getallsms")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "+447911123456" in result.stdout
    assert "plain hello" in result.stdout
    for record in host.modem.received:
        assert record.text is not None
        assert record.text.strip() in result.stdout
    assert "part 2 of 2" in result.stdout


# --- smstools3 --------------------------------------------------------------------------------

SMSD = _binary("smsd")
needs_smsd = pytest.mark.skipif(SMSD is None,
                                reason="smstools3 not installed (apt-get install smstools)")


@pytest.fixture
def smsd(host: EmulatorHost, tmp_path: Path) -> Iterator[Path]:
    assert SMSD is not None
    spool = tmp_path / "spool"
    for name in ("outgoing", "checked", "incoming", "failed", "sent"):
        (spool / name).mkdir(parents=True)
    conf = spool / "smsd.conf"
    conf.write_text(
        "devices = GSM1\n"
        + "".join(f"{d} = {spool / d}\n" for d in ("outgoing", "checked", "incoming", "failed",
                                                    "sent"))
        + f"logfile = {spool / 'smsd.log'}\nloglevel = 7\n"
        f"infofile = {spool / 'smsd.running'}\npidfile = {spool / 'smsd.pid'}\n"
        "delaytime = 1\ndelaytime_mainprocess = 1\nincoming_utf8 = yes\ndecode_unicode_text = yes\n\n"
        f"[GSM1]\ndevice = {host.pty_path}\nbaudrate = 115200\nincoming = yes\n")
    process = subprocess.Popen([SMSD, "-c", str(conf), "-t"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield spool
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@needs_smsd
def test_smstools_sends_long_unicode_sms(host: EmulatorHost, smsd: Path) -> None:
    (smsd / "outgoing" / "msg1").write_text(f"To: {PEER.lstrip('+')}\nAlphabet: UTF-8\n\n"
                                            f"{LONG_UNICODE}\n", encoding="utf-8")
    _wait(lambda: (smsd / "sent" / "msg1").exists() or (smsd / "failed" / "msg1").exists(),
          25, "smsd to send msg1")
    assert (smsd / "sent" / "msg1").exists(), (smsd / "smsd.log").read_text(errors="replace")
    peer = host.peers[0]
    assert peer.wait_until(lambda: len(peer.received) == len(host.modem.sent), 10)
    assert "".join(r.text or "" for r in peer.received).rstrip("\n") == LONG_UNICODE


@needs_smsd
def test_smstools_receives_injected_sms(host: EmulatorHost, smsd: Path) -> None:
    text = "Grüße aus dem Emulator — " * 8
    host.modem.inject_sms("+447911123456", text)
    incoming = smsd / "incoming"
    _wait(lambda: any(incoming.iterdir()), 25, "smsd to store the incoming SMS")
    _wait(lambda: not host.modem.storage.all_messages()["SM"], 10, "smsd to delete it")
    (received,) = list(incoming.iterdir())

    def read() -> str:
        return received.read_text(encoding="utf-8", errors="replace")
    # smsd creates the file before it has written it: wait for the whole text (or time out).
    _wait(lambda: text.strip() in read(), 10, "smsd to write the whole message")
    assert "From: 447911123456" in read()
