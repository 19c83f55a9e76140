"""The emulator's control channel: a Unix socket in the state directory speaking JSON lines.

It lets ``simgate emulator inject|status|fault`` reach emulated modems that live in another
process (``simgate emulator`` or the demo ``simgate run``). One request per line, one answer
line back: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.errors import GatewayError

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem
    from gateway.emulator.network import VirtualNetwork

log = logging.getLogger(__name__)

SOCKET_NAME = "emulator.sock"
_MAX_LINE = 1 << 20


class ControlError(GatewayError):
    """The control channel cannot be reached or the emulator refused the request."""


def socket_path(state_dir: Path) -> Path:
    return Path(state_dir) / SOCKET_NAME


class ControlServer:
    """Accepts one connection at a time on one named thread; requests are short."""

    def __init__(self, path: Path, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.path = Path(path)
        self._handler = handler
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.path.exists():
            if _alive(self.path):
                raise ControlError(f"an emulator is already running on {self.path}")
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot create control socket {self.path}: {exc}") from exc
        sock.listen(8)
        sock.settimeout(0.2)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="emu-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._sock is not None:
            self._sock.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5.0)
                try:
                    self._serve_connection(conn)
                except OSError as exc:
                    log.debug("control connection dropped: %s", exc)

    def _serve_connection(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        for raw in reader:
            if len(raw) > _MAX_LINE:
                answer: dict[str, Any] = {"ok": False, "error": "request too long"}
            else:
                try:
                    request = json.loads(raw)
                    if not isinstance(request, dict):
                        raise ValueError("a request is a JSON object")
                    answer = self._handler(request)
                except Exception as exc:  # every failure becomes an answer, never a dead thread
                    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            conn.sendall(json.dumps(answer).encode() + b"\n")


def _alive(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def request(state_dir: Path, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one request to the emulator serving ``state_dir``; ControlError when unreachable."""
    path = socket_path(state_dir)
    if not path.exists():
        raise ControlError(f"no emulator running (no control socket at {path})")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(json.dumps(payload).encode() + b"\n")
        line = sock.makefile("rb").readline()
    except OSError as exc:
        raise ControlError(f"no emulator answering on {path}: {exc}") from exc
    finally:
        sock.close()
    if not line:
        raise ControlError(f"the emulator on {path} closed the connection")
    answer = json.loads(line)
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "request refused"))
    return answer


# --- serving the requests --------------------------------------------------------------------

def handle_request(network: "VirtualNetwork", default: "EmulatedModem",
                   req: dict[str, Any]) -> dict[str, Any]:
    """The operations of the channel: ``inject``, ``status``, ``fault``, ``outcome``."""
    op = req.get("op")
    if op == "inject":
        to = req.get("to") or default.msisdn
        named = [m for m in network.modems if m.name == to]   # a modem's name works too
        to = named[0].msisdn if named else to
        sender = req.get("from")
        if not sender:
            raise ValueError("inject needs a sender (from)")
        data = bytes.fromhex(req["data"]) if req.get("data") is not None else None
        parts = network.inject(to, sender, req.get("text"), data=data,
                               ucs2=req.get("ucs2"), flash=bool(req.get("flash")))
        return {"ok": True, "to": to, "parts": parts}
    if op == "status":
        return {"ok": True, "modems": [describe(m) for m in _ordered(network, default)]}
    if op == "fault":
        modem = _pick(network, default, req.get("modem"))
        modem.faults.apply(str(req.get("kind")), [str(a) for a in req.get("args", [])])
        return {"ok": True, "modem": modem.name}
    if op == "outcome":
        network.set_outcome(req["pattern"], req["outcome"], req.get("delay"))
        return {"ok": True}
    raise ValueError(f"unknown op {op!r}")


def _ordered(network: "VirtualNetwork", default: "EmulatedModem") -> list["EmulatedModem"]:
    return [default] + [m for m in network.modems if m is not default]


def _pick(network: "VirtualNetwork", default: "EmulatedModem", key: str | None) -> "EmulatedModem":
    if not key:
        return default
    for modem in network.modems:
        if key in (modem.name, modem.msisdn):
            return modem
    raise LookupError(f"no emulated modem {key!r}")


def describe(m: "EmulatedModem") -> dict[str, Any]:
    """A JSON-ready snapshot of one modem for ``simgate emulator status``."""
    with m.lock:
        return {
            "name": m.name, "msisdn": m.msisdn, "profile": m.profile.name,
            "power": m.power_state, "registered": m.registered(), "sms_ready": m.sms_ready,
            "storage": {name: len(slots) for name, slots in m.storage.all_messages().items()},
            "pending": m.network.pending_for(m.msisdn),
            "sent": [{"to": r.destination, "text": r.text, "data": _hex(r.data), "mr": r.mr,
                      "parts": r.parts, "time": r.time.isoformat(),
                      "report_requested": r.status_report_requested} for r in m.sent],
            "received": [{"from": r.sender, "text": r.text, "data": _hex(r.data),
                          "parts": r.parts, "time": r.time.isoformat(), "memory": r.memory,
                          "index": r.index} for r in m.received],
            "reports": [{"mr": r.reference, "to": r.recipient, "status": r.status,
                         "outcome": r.outcome, "routed": r.routed, "time": r.time.isoformat()}
                        for r in m.reports],
        }


def _hex(data: bytes | None) -> str | None:
    return None if data is None else data.hex().upper()

