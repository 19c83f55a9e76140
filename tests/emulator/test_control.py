"""The control channel: JSON lines over a Unix socket, errors as answers, clear client errors."""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.emulator import EmulatedModem, VirtualNetwork
from gateway.emulator.control import ControlError, ControlServer, handle_request, request


@pytest.fixture
def served(tmp_path: Path, net: VirtualNetwork,
           make_modem: Callable[..., EmulatedModem]) -> Iterator[tuple[Path, EmulatedModem]]:
    main = make_modem(msisdn="+447700900001")
    make_modem(msisdn="+447700900002")
    server = ControlServer(tmp_path / "emulator.sock",
                           lambda req: handle_request(net, main, req))
    server.start()
    yield tmp_path, main
    server.stop()


def test_inject_status_fault_outcome(served: tuple[Path, EmulatedModem]) -> None:
    state_dir, main = served
    assert request(state_dir, {"op": "inject", "from": "+447911123456", "text": "hi"}) == {
        "ok": True, "to": "+447700900001", "parts": 1}
    request(state_dir, {"op": "inject", "to": "+447700900002", "from": "x", "data": "00ff"})
    peer = main.network.modem_for("+447700900002")
    assert peer is not None
    assert request(state_dir, {"op": "inject", "to": peer.name, "from": "x", "text": "by name"}
                   )["to"] == "+447700900002"
    assert main.wait_until(lambda: main.received, 3)
    status = request(state_dir, {"op": "status"})["modems"]
    assert status[0]["received"][0]["text"] == "hi" and status[0]["received"][0]["memory"] == "SM"
    assert request(state_dir, {"op": "fault", "kind": "cms_errors", "args": [38, 1]})["modem"] \
        == main.name
    assert main.faults.take_cms_error() == 38
    request(state_dir, {"op": "fault", "modem": "+447700900002", "kind": "deregister"})
    assert main.network.modem_for("+447700900002").registered() is False  # type: ignore[union-attr]
    request(state_dir, {"op": "outcome", "pattern": "+33*", "outcome": "none"})
    assert main.network.outcome_for("+33123")[0] == "none"


@pytest.mark.parametrize(("payload", "message"), [
    ({"op": "explode"}, "unknown op"),
    ({"op": "inject", "text": "no sender"}, "needs a sender"),
    ({"op": "inject", "from": "x", "to": "+15550100", "text": "t"}, "no emulated modem"),
    ({"op": "fault", "kind": "melt"}, "unknown fault"),
    ({"op": "fault", "kind": "reset", "modem": "zz"}, "no emulated modem"),
])
def test_refusals_are_one_line_errors(served: tuple[Path, EmulatedModem],
                                      payload: dict[str, Any], message: str) -> None:
    with pytest.raises(ControlError, match=message):
        request(served[0], payload)


def test_malformed_line_gets_an_answer(served: tuple[Path, EmulatedModem]) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect(str(served[0] / "emulator.sock"))
        sock.sendall(b"not json\n[1]\n")
        reader = sock.makefile("rb")
        assert b'"ok": false' in reader.readline()
        assert b"JSON object" in reader.readline()


def test_no_emulator_running(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="no emulator running"):
        request(tmp_path, {"op": "status"})
    (tmp_path / "emulator.sock").touch()            # a stale file nobody listens on
    with pytest.raises(ControlError, match="no emulator answering"):
        request(tmp_path, {"op": "status"})


def test_second_server_refused_stale_socket_replaced(tmp_path: Path, net: VirtualNetwork,
                                                     make_modem: Callable[..., EmulatedModem]
                                                     ) -> None:
    modem = make_modem()
    path = tmp_path / "emulator.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()                                   # a socket file left by a killed emulator
    first = ControlServer(path, lambda req: handle_request(net, modem, req))
    first.start()
    try:
        with pytest.raises(ControlError, match="already running"):
            ControlServer(path, lambda req: {"ok": True}).start()
    finally:
        first.stop()
