"""Drive the real `simgate` process over HTTP: start, wait for health, stop (or kill -9)."""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import serial

from tests.hashing import CHEAP_HASHER

__all__ = ["CHEAP_HASHER", "GatewayProcess", "make_gateway", "wait_for"]

SIMGATE = [sys.executable, "-m", "gateway.cli"]
USER, PASSWORD = "itest", "itest-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)  # polling interval with a deadline, not synchronisation by sleep


@dataclass
class GatewayProcess:
    state_dir: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.state_dir / "gateway.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([*SIMGATE, *args], env=self.env, capture_output=True, text=True, timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"simgate {' '.join(args)} failed: {res.stdout}{res.stderr}")
        return res

    def start(self, *extra: str, sigint_ignored: bool = False) -> None:
        """``sigint_ignored`` starts it the way a non-interactive shell starts `cmd &`."""
        log = open(self.log_path, "ab")
        preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
        self.proc = subprocess.Popen(
            [*SIMGATE, "run", *extra], env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec
        )
        wait_for(self._health_answers, 30, "the gateway to answer /health")

    def _health_answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"simgate run exited with {self.proc.returncode}:\n{self.log()}")
        try:
            self.request("GET", "/health", auth=False)
            return True
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # never leave a gateway behind to reopen a recycled pty
            self.proc.wait(10)
            raise
        finally:
            self.proc = None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def request(self, method: str, path: str, body: Any = None, auth: bool = True, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")


def make_gateway(tmp_path: Path, **env_overrides: str) -> GatewayProcess:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    env.update(
        SIMGATE_STATE_DIR=str(state),
        SIMGATE_HTTP_PORT=str(port),
        SIMGATE_EMULATOR_TIMING="fast",
        SIMGATE_LOG_LEVEL="DEBUG",
        PYTHONUNBUFFERED="1",
    )
    env.update(env_overrides)
    gw = GatewayProcess(state, port, env)
    gw.cli("user", "add", USER, "--password", PASSWORD)
    return gw


@pytest.fixture(autouse=True)
def _pyserial_handlers_restored() -> Any:
    """Nothing may leave pyserial's global URL handler list changed (runtime.open_serial needs no
    entry there); restored after each test so a leak cannot make another test pass."""
    before = list(serial.protocol_handler_packages)
    yield
    serial.protocol_handler_packages[:] = before


@pytest.fixture
def gateway(tmp_path: Path):
    gw = make_gateway(tmp_path)
    gw.start()
    try:
        yield gw
    finally:
        if gw.proc is not None:
            gw.stop()
