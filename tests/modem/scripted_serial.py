"""A scripted in-memory serial port for testing the AT channel without the emulator.

It behaves like a pyserial ``SerialBase`` as far as ``AtChannel`` cares (``read`` with a
timeout, ``in_waiting``, ``write``, ``flush``, ``close``).  A ``responder`` sees every chunk the
host writes that ends a command (``\\r``), a PDU (Ctrl-Z) or an abort (ESC) and returns the bytes
the "modem" sends back; ``inject`` pushes bytes at any moment (URCs mid-response, garbage).
"""
from __future__ import annotations

import threading
from typing import Callable

Responder = Callable[[str], "bytes | str | None"]


class ScriptedSerial:
    def __init__(self, responder: Responder | None = None, timeout: float = 0.05) -> None:
        self.timeout = timeout
        self.responder = responder
        self.written: list[str] = []
        self.is_open = True
        self._rx = bytearray()
        self._tx = ""
        self._cond = threading.Condition()
        self.fail_reads: Exception | None = None
        self.fail_reads_times = -1  # with fail_reads: how many reads fail (-1: every one)
        self._cancelled = False

    # --- what the test controls --------------------------------------------------------------

    def inject(self, data: bytes | str) -> None:
        raw = data.encode("latin-1") if isinstance(data, str) else data
        with self._cond:
            self._rx.extend(raw)
            self._cond.notify_all()

    def wait_written(self, predicate: Callable[[list[str]], bool], timeout: float = 2.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.written), timeout)

    # --- the SerialBase surface --------------------------------------------------------------

    @property
    def in_waiting(self) -> int:
        with self._cond:
            return len(self._rx)

    def _failing(self) -> Exception | None:
        if self.fail_reads is None or self.fail_reads_times == 0:
            return None
        if self.fail_reads_times > 0:
            self.fail_reads_times -= 1
        return self.fail_reads

    def read(self, size: int = 1) -> bytes:
        with self._cond:
            if (failure := self._failing()) is not None:
                raise failure
            self._cancelled = False
            self._cond.wait_for(lambda: self._rx or not self.is_open
                                or (self.fail_reads and self.fail_reads_times != 0)
                                or self._cancelled, self.timeout)
            if (failure := self._failing()) is not None:
                raise failure
            data = bytes(self._rx[:size])
            del self._rx[:size]
            return data

    def write(self, data: bytes) -> int:
        text = data.decode("latin-1")
        replies: list[bytes | str] = []
        with self._cond:
            self._tx += text
            while True:
                ends = [i for i in (self._tx.find("\r"), self._tx.find("\x1a"),
                                    self._tx.find("\x1b")) if i >= 0]
                if not ends:
                    break
                end = min(ends) + 1
                chunk, self._tx = self._tx[:end], self._tx[end:]
                self.written.append(chunk)
                if self.responder is not None:
                    reply = self.responder(chunk)
                    if reply:
                        replies.append(reply)
            self._cond.notify_all()
        for reply in replies:
            self.inject(reply)
        return len(data)

    def flush(self) -> None:
        pass

    def cancel_read(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.is_open = False
            self._cond.notify_all()


def table_responder(table: dict[str, str], default: str = "\r\nOK\r\n") -> Responder:
    """Answer each command (exact text written, e.g. ``"AT+CSQ\\r"``) from a table."""
    return lambda chunk: table.get(chunk, default)


_HEALTHY = {
    "AT+CPIN?": "+CPIN: READY", "AT+CSQ": "+CSQ: 15,0", "AT+CREG?": "+CREG: 1,1",
    "AT+COPS?": '+COPS: 0,0,"TEST"', "AT+CPMS?": '+CPMS: "SM",0,30',
    "AT+CPMS=?": '+CPMS: ("SM"),("SM"),("SM")', "AT+CNMI=?": "+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)",
    "AT+CGSN": "861234509000017",
}


def healthy_modem(chunk: str) -> str | None:
    """A minimal registered SIM800 that says OK to everything else (ESC gets no answer)."""
    command = chunk.strip()
    if command == "\x1b":
        return None
    line = _HEALTHY.get(command)
    return (f"\r\n{line}\r\n" if line else "") + "\r\nOK\r\n"
