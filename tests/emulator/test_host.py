"""EmulatorHost: the modem on a real pty, peers on the same network, the control socket."""
from __future__ import annotations

import os
import select
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.emulator import EmulatorHost, Timing
from gateway.emulator.control import request


@pytest.fixture
def host(tmp_path: Path) -> Iterator[EmulatorHost]:
    emulator = EmulatorHost(tmp_path / "var", profile="sim7600", timing=Timing.fast(), peers=2,
                            name="host-test")
    emulator.start()
    yield emulator
    emulator.stop()


def read_until(fd: int, marker: bytes, timeout: float = 3.0) -> bytes:
    deadline = time.monotonic() + timeout
    buf = b""
    while marker not in buf:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {buf!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            buf += os.read(fd, 4096)
    return buf


def open_tty(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    attrs = termios.tcgetattr(fd)
    attrs[3] &= ~(termios.ICANON | termios.ECHO)     # what serial programs do (raw mode)
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    termios.tcflush(fd, termios.TCIFLUSH)
    return fd


def test_pty_round_trip_and_symlink(host: EmulatorHost) -> None:
    assert host.pty_path is not None and os.path.exists(host.pty_path)
    assert os.path.realpath(host.state_dir / "emulator.tty") == os.path.realpath(host.pty_path)
    fd = open_tty(host.pty_path)
    try:
        os.write(fd, b"AT+CGMM\r")
        assert read_until(fd, b"OK\r\n") == b"AT+CGMM\r\r\nSIMCOM_SIM7600E-H\r\n\r\nOK\r\n"
        host.modem.inject_sms("+447911123456", "over the pty")
        assert read_until(fd, b'+CMTI: "SM",0\r\n').endswith(b'+CMTI: "SM",0\r\n')
    finally:
        os.close(fd)
    fd = open_tty(host.pty_path)                    # can be reopened by the next program
    try:
        os.write(fd, b"AT\r")
        assert read_until(fd, b"OK\r\n").endswith(b"OK\r\n")
    finally:
        os.close(fd)


def test_peers_share_the_network(host: EmulatorHost) -> None:
    assert [p.msisdn for p in host.peers] == ["+447700900002", "+447700900003"]
    assert all(p.network is host.network for p in host.peers)
    host.network.inject("+447700900003", "+447911123456", "to a peer")
    peer = host.peers[1]
    assert peer.wait_until(lambda: peer.received, 3)
    assert peer.storage["SM"].used == 0          # peers do not fill their memory


def test_control_socket_status(host: EmulatorHost) -> None:
    answer = request(host.state_dir, {"op": "status"})
    assert [m["msisdn"] for m in answer["modems"]] == [
        "+447700900001", "+447700900002", "+447700900003"]
    assert answer["modems"][0]["profile"] == "sim7600"


def test_stop_removes_socket_and_link(tmp_path: Path) -> None:
    emulator = EmulatorHost(tmp_path, timing=Timing.fast(), peers=0, name="host-stop")
    emulator.start()
    assert (tmp_path / "emulator.sock").exists()
    emulator.stop()
    assert not (tmp_path / "emulator.sock").exists()
    assert not (tmp_path / "emulator.tty").is_symlink()
