"""pyserial URL handler ``emu://<name>``: an emulated modem opened like a real serial port.

Enable with ``serial.protocol_handler_packages.append("gateway.emulator")``; then
``serial.serial_for_url("emu://m1", timeout=1)`` returns this ``Serial``. Reads block like a UART
read with the port's timeout; writes go to the modem byte for byte.
"""
from __future__ import annotations

import threading
import time
import urllib.parse

from serial import SerialBase, SerialException

from gateway.emulator.modem import find_modem


class Serial(SerialBase):
    def open(self) -> None:
        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        if self.is_open:
            raise SerialException("port already open")
        name = self.from_url(self._port)
        modem = find_modem(name)
        if modem is None:
            raise SerialException(f"no emulated modem named {name!r}")
        self._buffer = bytearray()
        self._cond = threading.Condition()
        self._cancelled = False
        self._gone = False
        try:
            self._detach = modem.attach(self._on_data, self._on_gone)
        except OSError as exc:
            raise SerialException(str(exc)) from exc
        self._modem = modem
        self.is_open = True

    def from_url(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "emu" or not parts.netloc:
            raise SerialException(f'expected a URL "emu://<name>", got {url!r}')
        return parts.netloc

    def _reconfigure_port(self, force_update: bool = False) -> None:
        """Nothing to configure: the emulated UART runs at whatever rate the host chose."""

    def close(self) -> None:
        if self.is_open:
            self._detach()
            self.is_open = False
            self.cancel_read()

    def _on_gone(self) -> None:
        with self._cond:
            self._gone = True
            self._cond.notify_all()

    def _on_data(self, data: bytes) -> None:
        with self._cond:
            self._buffer.extend(data)
            self._cond.notify_all()

    @property
    def in_waiting(self) -> int:
        with self._cond:
            return len(self._buffer)

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise SerialException("port not open")
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        with self._cond:
            self._cancelled = False
            while len(self._buffer) < size and not self._cancelled:
                if self._gone:
                    raise SerialException("device reports readiness to read but returned no "
                                          "data (device disconnected?)")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._cond.wait(remaining)
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data

    def cancel_read(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def write(self, data: bytes) -> int:
        if not self.is_open:
            raise SerialException("port not open")
        data = bytes(data)
        if self._gone:
            raise SerialException("write failed: device disconnected")
        self._modem.feed(data)
        return len(data)

    def flush(self) -> None:
        """Writes reach the modem immediately."""

    def reset_input_buffer(self) -> None:
        with self._cond:
            self._buffer.clear()

    def reset_output_buffer(self) -> None:
        """Nothing is ever held back on the way out."""

    @property
    def out_waiting(self) -> int:
        return 0

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return False
