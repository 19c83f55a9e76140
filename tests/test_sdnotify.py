"""sd_notify over a real AF_UNIX datagram socket, as systemd listens for it."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from gateway.sdnotify import Notifier, WatchdogFeeder


@pytest.fixture
def listener(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield str(path), sock
    sock.close()


def _recv(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_and_status_reach_the_socket(listener) -> None:
    path, sock = listener
    n = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert n.ready("database open, modem starting")
    assert _recv(sock) == ["READY=1", "STATUS=database open, modem starting"]
    assert n.stopping()
    assert _recv(sock) == ["STOPPING=1"]


def test_abstract_socket_name() -> None:
    name = f"@simgate-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    sock.settimeout(2)
    try:
        assert Notifier.from_env({"NOTIFY_SOCKET": name}).watchdog()
        assert _recv(sock) == ["WATCHDOG=1"]
    finally:
        sock.close()


def test_outside_systemd_nothing_is_sent() -> None:
    n = Notifier.from_env({})
    assert not n.enabled and not n.ready() and n.watchdog_s is None


def test_watchdog_period_only_for_this_process() -> None:
    mine = Notifier.from_env({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())})
    other = Notifier.from_env({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"})
    assert mine.watchdog_s == 30.0 and other.watchdog_s is None


def test_watchdog_is_fed_only_while_alive(listener) -> None:
    path, sock = listener
    alive = {"ok": True}
    feeder = WatchdogFeeder(
        Notifier(path, watchdog_s=10.0),
        lambda: (True, "") if alive["ok"] else (False, "modem reader stopped"),
        status=lambda: "modem ready",
    )
    assert feeder.interval == 5.0
    assert feeder.tick() is True
    assert _recv(sock) == ["STATUS=modem ready"]
    assert _recv(sock) == ["WATCHDOG=1"]
    alive["ok"] = False
    assert feeder.tick() is False
    assert _recv(sock) == ["STATUS=unhealthy: modem reader stopped"]
    sock.settimeout(0.05)
    with pytest.raises(TimeoutError):  # no WATCHDOG=1 while a thread is dead
        sock.recv(4096)
    alive["ok"] = True
    assert feeder.tick() is True and feeder.pets == 2


def test_a_vanished_socket_is_reported_not_raised(tmp_path: Path) -> None:
    assert Notifier(str(tmp_path / "gone.sock")).ready() is False
