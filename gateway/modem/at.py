"""The AT channel: one reader thread per port, one command in flight, one URC thread.

Framing rules (STYLE.md rule 1): a final result code matches a whole line; a ``+XXX:`` line
belongs to the pending command only when that command expects ``+XXX``, otherwise it is an
unsolicited result code (URC) and goes to the event queue; the ``> `` prompt of ``AT+CMGS`` is
an explicit state; in PDU mode a body is hex and can never look like ``OK``.  Raw traffic is
logged at DEBUG under this module's logger, ``gateway.modem.at``.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.errors import (AtCommandError, AtTimeoutError, ModemUnavailableError,
                            SendInDoubtError)
from gateway.modem.codes import (ABORTING, PREFIX_URCS, TWO_LINE_RESPONSES, TWO_LINE_URCS,
                                 AtResponse, Urc, UrcKind, classify_urc, final_error,
                                 is_boot_banner, is_final, is_hex, is_power_down, line_prefix)
from gateway.modem.errors import ModemRebootedError, NotSentReason, SendNotSentError

log = logging.getLogger(__name__)

_SPURIOUS_WAKEUP = "readiness to read but returned no data"
SPURIOUS_LIMIT = 20  # in a row, ~0.2 s in all, before the port is declared gone
READ_CHUNK = 4096
# After a restart ends an AT+CMGS dialog past Ctrl-Z: how long the echo of our PDU (the proof
# that the fresh modem took it as command-mode input) may trail the boot banner.
REBOOT_ECHO_GRACE_S = 0.5

__all__ = ["AtChannel", "AtResponse", "Urc", "UrcKind", "classify_urc", "CTRL_Z", "ESC"]

CTRL_Z = "\x1a"
ESC = "\x1b"


@dataclass
class _Pending:
    command: str
    expect: frozenset[str]
    raw: bool
    wants_prompt: bool = False
    pdu_dialog: bool = False       # AT+CMGS-style: a prompt, a PDU, Ctrl-Z
    pdu: str = ""
    committed: bool = False        # Ctrl-Z is about to be (or was) written
    command_echoed: bool = False   # echo is on: a PDU echo is then the prompt's, not a reboot's
    pdu_echoed: bool = False
    banner: str | None = None      # a boot banner framed after the command, before Ctrl-Z
    echo_seen: threading.Event = field(default_factory=threading.Event)
    lines: list[str] = field(default_factory=list)
    body_next: bool = False
    final: str | None = None
    error: Exception | None = None
    done: threading.Event = field(default_factory=threading.Event)
    prompt: threading.Event = field(default_factory=threading.Event)


class AtChannel:
    """Commands and URCs over one pyserial port (a ``SerialBase`` with a read timeout)."""

    def __init__(self, port: Any, on_urc: Callable[[Urc], None], *, name: str = "modem",
                 clock: Clock = SYSTEM_CLOCK,
                 on_broken: Callable[[Exception], None] | None = None) -> None:
        self._port = port
        self._on_urc = on_urc
        self._on_broken = on_broken  # told at once when the reader dies (a USB node vanished)
        self._name = name
        self._clock = clock
        self._command_lock = threading.Lock()   # one command in flight
        self._state_lock = threading.Lock()     # _pending and the framer's state
        self._write_lock = threading.Lock()
        self._pending: _Pending | None = None
        self._buffer = bytearray()
        self._urc_header: str | None = None     # a +CMT/+CDS header waiting for its PDU line
        self._urcs: queue.Queue[Urc | None] = queue.Queue()
        self._stop = threading.Event()
        self._broken: Exception | None = None
        self._threads: list[threading.Thread] = []
        self.echoes = 0
        self._received = 0                      # bytes framed so far: a sign of life

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if getattr(self._port, "timeout", 0.1) is None:
            self._port.timeout = 0.1  # a blocking read could never notice the stop event
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"{self._name}-at-reader", daemon=True),
            threading.Thread(target=self._urc_loop, name=f"{self._name}-urc", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop both threads (bounded joins) and close the port."""
        self._stop.set()
        self.abort("channel closed")
        self._urcs.put(None)
        cancel = getattr(self._port, "cancel_read", None)  # wakes a blocked read (POSIX, emu)
        if cancel is not None:
            try:
                cancel()
            except Exception:  # noqa: BLE001 - the read times out by itself anyway
                log.debug("%s: cancel_read failed", self._name, exc_info=True)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        try:
            self._port.close()
        except Exception:  # noqa: BLE001 - a port that fails to close is gone anyway
            log.debug("%s: closing the port failed", self._name, exc_info=True)

    @property
    def bytes_received(self) -> int:
        """Every byte the modem sent since the port was opened (echo, URC, garbage alike).

        Any byte is a sign of life: the recovery never presses PWRKEY to switch on a modem that
        sent one, because the key toggles and would switch a running modem off.
        """
        with self._state_lock:
            return self._received

    @property
    def broken(self) -> Exception | None:
        """The I/O error that stopped the reader (a USB node vanished...), else None."""
        return self._broken

    # --- commands ----------------------------------------------------------------------------

    def command(self, command: str, *, expect: Sequence[str] = (), timeout: float = 10.0,
                raw: bool = True) -> AtResponse:
        """Send ``command`` and wait for its final result code.

        ``expect`` lists the ``+XXX`` prefixes that belong to this command's answer; ``raw``
        lets prefix-less information lines (IMEI, revision) join the answer.  Raises
        ``AtCommandError``/``CmsError``/``CmeError`` for error results, ``AtTimeoutError``, or
        ``ModemUnavailableError`` when the port is gone or the modem rebooted meanwhile.
        """
        with self._command_lock:
            pending = self._install(command, expect, raw)
            try:
                self._write(command + "\r")
                if not self._clock.wait(pending.done, timeout):
                    raise AtTimeoutError(command, timeout)
            finally:
                self._uninstall(pending)
            return self._result(pending)

    def send_pdu(self, command: str, pdu: str, *, prompt_timeout: float, result_timeout: float,
                 expect: Sequence[str] = ("+CMGS",),
                 echo_grace: float = REBOOT_ECHO_GRACE_S) -> AtResponse:
        """The two-step ``AT+CMGS`` dialog: command, ``> `` prompt, PDU + Ctrl-Z, result.

        Before Ctrl-Z is written nothing can have been sent: failures raise the command's error,
        ``AtTimeoutError`` (after ESC leaves the edit mode) or ``ModemUnavailableError``.  After
        Ctrl-Z, a missing result raises ``SendInDoubtError``: the SMS may have gone out.

        A restart inside the dialog is told apart by what the modem said, never by the wording
        of a reason: a boot banner before Ctrl-Z (the PDU is then not written at all), or our
        own PDU echoed back while the command itself was not echoed (a freshly booted modem,
        ATE1, took it as a command line) raise ``SendNotSentError``.  A restart with neither
        sign means the modem may have taken Ctrl-Z first: in doubt.
        """
        with self._command_lock:
            pending = self._install(command, expect, raw=False, wants_prompt=True)
            pending.pdu_dialog = True
            try:
                self._write(command + "\r")
                self._wait_prompt(pending, prompt_timeout)
                with self._state_lock:
                    banner = pending.banner
                    if banner is None:
                        pending.pdu = pdu.upper()
                        pending.committed = True
                if banner is not None:
                    raise SendNotSentError(f"{command}: the modem restarted at the prompt "
                                           f"({banner}); PDU not written",
                                           NotSentReason.REBOOTED_AT_PROMPT, banner)
                self._write(pdu + CTRL_Z)
                if not self._clock.wait(pending.done, result_timeout):
                    raise SendInDoubtError(
                        f"no result for {command} within {result_timeout:g} s after Ctrl-Z",
                        command)
                error = pending.error
                if isinstance(error, ModemRebootedError) and not pending.command_echoed:
                    # The echo of our PDU may trail the banner that ended the dialog.
                    self._clock.wait(pending.echo_seen, echo_grace)
                    error = pending.error
                if isinstance(error, SendNotSentError):
                    raise error
                if error is not None:
                    raise SendInDoubtError(f"{command} interrupted after Ctrl-Z: "
                                           f"{error}", command) from error
            finally:
                self._uninstall(pending)
            return self._result(pending)

    def _wait_prompt(self, pending: _Pending, timeout: float) -> None:
        deadline = self._clock.monotonic() + timeout
        while not pending.prompt.is_set():
            if pending.done.is_set():
                error = pending.error or final_error(pending.command, pending.final or "ERROR")
                raise error or AtCommandError(pending.command, None, "OK without a prompt")
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                self._leave_edit_mode(pending)
                raise AtTimeoutError(pending.command + " (waiting for '> ')", timeout)
            self._clock.wait(pending.prompt, min(remaining, 0.05))

    def _leave_edit_mode(self, pending: _Pending) -> None:
        """ESC aborts a half-entered PDU; swallow the OK some modems answer it with."""
        with self._state_lock:
            pending.wants_prompt = False
        self._write(ESC)
        self._clock.wait(pending.done, 0.5)

    def write_escape(self) -> None:
        """Send ESC outside a command (re-sync after a time-out)."""
        self._write(ESC)

    def abort(self, reason: str) -> None:
        """Wake the pending command with ``ModemRebootedError`` (reboot, power-down, close)."""
        with self._state_lock:
            self._abort_locked(reason)

    def _abort_locked(self, reason: str, line: str = "") -> None:
        pending = self._pending
        if pending is not None and not pending.done.is_set():
            pending.error = ModemRebootedError(f"{pending.command!r} aborted: {reason}", line,
                                               power_down=bool(line) and is_power_down(line))
            pending.done.set()

    def _install(self, command: str, expect: Sequence[str], raw: bool,
                 wants_prompt: bool = False) -> _Pending:
        if self._broken is not None:
            raise ModemUnavailableError(f"serial port failed: {self._broken}")
        if self._stop.is_set():
            raise ModemUnavailableError("AT channel is closed")
        pending = _Pending(command, frozenset(p.upper() for p in expect), raw, wants_prompt)
        with self._state_lock:
            self._pending = pending
        return pending

    def _uninstall(self, pending: _Pending) -> None:
        with self._state_lock:
            if self._pending is pending:
                self._pending = None

    @staticmethod
    def _result(pending: _Pending) -> AtResponse:
        if pending.error is not None:
            raise pending.error
        final = pending.final or "ERROR"
        error = final_error(pending.command, final)
        if error is not None:
            raise error
        return AtResponse(pending.command, tuple(pending.lines), final)

    def _write(self, text: str) -> None:
        data = text.encode("ascii")
        log.debug("%s >> %r", self._name, text)
        with self._write_lock:
            try:
                self._port.write(data)
                self._port.flush()
            except Exception as exc:  # noqa: BLE001 - pyserial raises several unrelated types
                raise ModemUnavailableError(f"writing to the modem failed: {exc}") from exc

    # --- reader ------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        spurious = 0
        while not self._stop.is_set():
            try:
                data = self._read_available()
            except Exception as exc:  # noqa: BLE001 - SerialException, OSError, TypeError on close
                if self._stop.is_set():
                    return
                # pyserial reports "readiness to read but returned no data" both for a port that
                # is gone (it repeats at once, forever) and for a pty whose data the kernel has
                # not yet handed to the line discipline (once, under load). Only the first is fatal.
                if _SPURIOUS_WAKEUP in str(exc) and spurious < SPURIOUS_LIMIT:
                    spurious += 1
                    self._stop.wait(0.001 * spurious)
                    continue
                log.warning("%s: serial read failed: %s", self._name, exc)
                self._broken = exc
                self.abort(f"serial port failed: {exc}")
                if self._on_broken is not None:
                    try:
                        self._on_broken(exc)
                    except Exception:  # noqa: BLE001 - the reader is ending anyway
                        log.exception("%s: on_broken failed", self._name)
                return
            if data:
                spurious = 0
                self.feed(data)

    def _read_available(self) -> bytes:
        """What the port has now, one byte per read call.

        pyserial's ``read(n)`` loops until it has ``n`` bytes and raises "readiness to read but
        returned no data" if the kernel hands it less than ``in_waiting`` promised (seen on
        ptys under load), throwing away what it already read: the start of a +CMGS or +CDS.
        A one-byte read is a single system call, so nothing is ever read and then lost.
        """
        data = bytearray(self._port.read(1))  # blocks up to the port's time-out
        try:
            while data and len(data) < READ_CHUNK and self._port.in_waiting:
                more = self._port.read(1)
                if not more:
                    break
                data += more
        except Exception:  # noqa: BLE001 - keep what we have; the next read raises it again
            log.debug("%s: read stopped early", self._name, exc_info=True)
        return bytes(data)

    def feed(self, data: bytes) -> None:
        """Frame received bytes into lines (public for tests of the framer)."""
        log.debug("%s << %r", self._name, bytes(data))
        with self._state_lock:
            self._received += len(data)
            self._buffer.extend(data)
            while True:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    break
                raw = bytes(self._buffer[:newline])
                del self._buffer[:newline + 1]
                self._handle_line(raw)
            self._check_prompt()
            self._check_pdu_echo()

    def _check_prompt(self) -> None:
        pending = self._pending
        if pending is None or not pending.wants_prompt or pending.prompt.is_set():
            return
        stripped = bytes(self._buffer).lstrip(b"\r\n\x00")
        if stripped.startswith(b">"):
            # Drop the prompt ("> ") itself; anything after it stays for the line framer.
            end = self._buffer.find(b">") + 1
            if self._buffer[end:end + 1] == b" ":
                end += 1
            del self._buffer[:end]
            pending.prompt.set()

    def _check_pdu_echo(self) -> None:
        """Our PDU echoed without a line end yet (command mode has no CR to echo)."""
        pending = self._pending
        if pending is None or not pending.committed or pending.pdu_echoed:
            return
        if pending.pdu.encode("ascii") in bytes(self._buffer).upper():
            self._pdu_echo(pending)

    def _pdu_echo(self, pending: _Pending) -> None:
        if pending.pdu_echoed:
            return
        pending.pdu_echoed = True
        self.echoes += 1
        if not pending.command_echoed and pending.final is None:
            # Echo is off in our session, yet the PDU came back: the modem restarted (ATE1 is
            # the factory default) and took the PDU as a command line, never as an SMS.
            if pending.error is None or isinstance(pending.error, ModemRebootedError):
                pending.error = SendNotSentError(
                    f"{pending.command}: the PDU came back as command-mode echo (the modem "
                    "restarted before Ctrl-Z)", NotSentReason.PDU_ECHOED, pending.pdu[:16])
            pending.done.set()
        pending.echo_seen.set()

    def _handle_line(self, raw: bytes) -> None:
        cleaned = bytes(b for b in raw if b >= 0x20 or b == 0x1a)
        try:
            line = cleaned.decode("utf-8").replace(CTRL_Z, "").strip()
        except UnicodeDecodeError:
            log.debug("%s: dropped undecodable line %r", self._name, raw)
            return
        if not line:
            return
        pending = self._pending
        if self._urc_header is not None:
            header, self._urc_header = self._urc_header, None
            kind = PREFIX_URCS[line_prefix(header)]
            if is_hex(line):
                self._emit(Urc(kind, header, line.upper()))
                return
            self._emit(Urc(kind, header, None))
        if pending is not None and pending.committed and line.upper() == pending.pdu:
            self._pdu_echo(pending)
            return
        if pending is not None and pending.pdu_dialog and is_boot_banner(line):
            self._boot_in_dialog(pending, line)
        if pending is not None and not pending.done.is_set():
            if self._take_for_pending(pending, line):
                return
        kind = classify_urc(line)
        if kind is None:
            log.debug("%s: dropped stray line %r", self._name, line)
            return
        if line_prefix(line) in TWO_LINE_URCS:
            self._urc_header = line
            return
        if line.upper() in ABORTING:
            self._abort_locked(line, line)
        self._emit(Urc(kind, line))

    def _boot_in_dialog(self, pending: _Pending, line: str) -> None:
        """A boot banner inside AT+CMGS: before Ctrl-Z it stops the PDU from being written;
        after it, ``+CMGS`` can never come, so the dialog ends now (the line also goes on as a
        URC, for the supervisor)."""
        if not pending.committed:
            if pending.banner is None:
                pending.banner = line
            pending.prompt.set()  # wake a prompt wait: send_pdu sees the banner and stops
            return
        if not pending.done.is_set():
            pending.error = ModemRebootedError(f"{pending.command!r} aborted: {line}", line)
            pending.done.set()

    def _take_for_pending(self, pending: _Pending, line: str) -> bool:
        """True when ``line`` belongs to the pending command's answer."""
        if pending.wants_prompt and not pending.prompt.is_set() and line.startswith(">"):
            pending.prompt.set()
            return True
        if is_final(line):
            if not pending.wants_prompt or pending.prompt.is_set() or pending.committed \
                    or line != "OK":
                pending.final = line
                pending.done.set()
                return True
        if line == pending.command:
            self.echoes += 1  # echo (ATE1): after ATE0 it means the modem lost its settings
            pending.command_echoed = True
            return True
        if pending.body_next:
            pending.body_next = False
            if is_hex(line):
                pending.lines.append(line.upper())
                return True
        prefix = line_prefix(line)
        if prefix:
            if prefix in pending.expect:
                pending.lines.append(line)
                pending.body_next = prefix in TWO_LINE_RESPONSES
                return True
            return False
        if classify_urc(line) is not None:
            return False
        if pending.raw:
            pending.lines.append(line)
            return True
        return False

    def _emit(self, urc: Urc) -> None:
        self._urcs.put(replace(urc, at=self._clock.monotonic()))

    def _urc_loop(self) -> None:
        while True:
            urc = self._urcs.get()
            if urc is None or self._stop.is_set():
                return
            try:
                self._on_urc(urc)
            except Exception:  # noqa: BLE001 - one bad URC must not stop the dispatcher
                log.exception("%s: handling URC %r failed", self._name, urc.line)
