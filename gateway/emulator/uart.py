"""The UART side of the emulated modem: echo, line assembly, the ``> `` prompt, result framing.

A mixin of ``EmulatedModem`` (it works on the modem's state under the modem's lock): bytes in
become command lines or PDU input, answers go out framed for ATV1/ATV0/ATQ1 after the modelled
latency, at the modelled baud rate, and SMS URCs obey AT+CNMI's buffering rules.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.clock import Clock
from gateway.emulator import commands_sms
from gateway.emulator.atparse import Command, ParseError, parse_line, strip_prefix
from gateway.emulator.faults import BannerOrder, FaultPlan
from gateway.emulator.result import Prompt, Result
from gateway.emulator.state import PowerState, Settings
from gateway.emulator.timing import Timing

log = logging.getLogger(__name__)

CTRL_Z, ESC, BACKSPACE = 0x1A, 0x1B, 0x08


class UartMixin:
    # Provided by EmulatedModem:
    s: Settings
    power: PowerState
    timing: Timing
    clock: Clock
    busy: bool
    synced: bool
    uart_up: bool
    hung: bool
    silent_until: float
    urc_buffer: list[str]
    lines_received: int
    _prompt: Prompt | None
    faults: FaultPlan
    name: str
    _handlers: dict[str, Callable[..., Result]]

    # ----------------------------------------------------------------------------- output
    def write(self, data: bytes) -> None:
        """Send bytes to the host, at the modelled baud rate when throttling is on."""
        if self.timing.baud:
            now = self.clock.monotonic()
            start = max(now, self._tx_free_at)
            self._tx_free_at = start + len(data) * 10 / self.timing.baud
            self.at(self._tx_free_at - now, lambda: self._push(data), self.epoch)
        else:
            self._push(data)

    def _push(self, data: bytes) -> None:
        if self._sink is not None:
            try:
                self._sink(data)
            except OSError:
                log.debug("%s: host side gone, %d bytes dropped", self.name, len(data))

    def emit_line(self, line: str) -> None:
        """An unsolicited result code, framed as the modem frames it."""
        if self.power is PowerState.OFF or not self.synced:
            return
        self.write(f"\r\n{line}\r\n".encode("latin-1", "replace"))

    def emit_sms_urc(self, lines: list[str]) -> None:
        """+CMTI/+CMT/+CDS/+CDSI obey AT+CNMI <mode>: 0 buffers them; 2 holds them while a
        command or the prompt has the link and flushes after it; 1 and 3 forward at once
        (there is no data mode here that would make mode 1 discard them)."""
        mode = self.s.cnmi[0]
        if mode == 0 or (mode == 2 and (self.busy or self._prompt is not None)):
            self.urc_buffer.append("\r\n".join(lines))
            return
        self.emit_line("\r\n".join(lines))

    def flush_urc_buffer(self) -> None:
        buffered, self.urc_buffer = self.urc_buffer, []
        for text in buffered:
            self.emit_line(text)

    def _frame(self, blocks: list[list[str]], final: str | None) -> bytes:
        out = []
        for lines in blocks:
            if self.s.verbose:
                out.append("\r\n" + "\r\n".join(lines) + "\r\n")
            else:
                out.append("".join(line + "\r\n" for line in lines))
        if final is not None and not self.s.quiet:
            if self.s.verbose:
                out.append(f"\r\n{final}\r\n")
            else:
                out.append({"OK": "0", "NO CARRIER": "3", "ERROR": "4"}.get(final, final) + "\r")
        return "".join(out).encode("latin-1", "replace")

    # ----------------------------------------------------------------------------- input
    def _receive(self, data: bytes) -> None:
        if self.power is PowerState.OFF or not self.uart_up or self.hung:
            return
        if self.clock.monotonic() < self.silent_until:
            return
        for i, byte in enumerate(data):
            if self.busy:
                self._queued.extend(data[i:])
                return
            self._receive_byte(byte)

    def _receive_byte(self, byte: int) -> None:
        if not self.synced:   # SIM800 autobaud: only "AT"/"at" trains the rate (HARDWARE.md 2.2)
            self._line = (self._line + bytes([byte]))[-2:]
            if bytes(self._line) not in (b"AT", b"at"):
                return
            self.synced = True
            self._echo(bytes(self._line))
            return
        if self._prompt is not None:
            self._prompt_byte(byte)
            return
        if byte == 0x0D:
            self._echo(b"\r")
            self.release_boot()
            line, self._line = bytes(self._line), bytearray()
            self._run_line(line)
        elif byte == CTRL_Z:
            # A PDU typed after the prompt was lost (a reset in between): Ctrl-Z ends the line,
            # and a line that is no command answers ERROR (inferred, docs/emulator.md).
            self._echo(bytes([byte]))
            self.release_boot()
            line, self._line = bytes(self._line), bytearray()
            if line and strip_prefix(line.decode("latin-1").strip()) is None:
                self.busy = True
                self._complete([], self.error())
            else:
                self._run_line(line)
        elif byte == BACKSPACE:
            self._echo(bytes([byte]))
            self._line = self._line[:-1]
        elif byte == 0x0A and not self._line:
            self._echo(b"\n")
        else:
            self._echo(bytes([byte]))
            self._line.append(byte)
            if bytes(self._line).upper() == b"A/":
                self._echo(b"\r")
                self._line = bytearray()
                self._run_line(self._last_line)

    def _echo(self, data: bytes) -> None:
        if self.s.echo:
            self.write(data)

    def _prompt_byte(self, byte: int) -> None:
        prompt = self._prompt
        assert prompt is not None
        if byte == CTRL_Z:
            self._prompt = None
            data, self._pdu = self._pdu.decode("latin-1"), bytearray()
            self.busy = True
            self.notify()
            result = commands_sms.finish_input(self, prompt, data)
            self._complete([result.info] if result.info else [], result)
        elif byte == ESC:
            self._prompt, self._pdu = None, bytearray()
            self.busy = True
            self._complete([], Result())
        else:
            self._echo(bytes([byte]))
            if prompt.kind == "text":
                self._pdu.append(0x0A if byte == 0x0D else byte)   # CR in a text is a new line
            elif chr(byte) not in "\r\n \t":
                self._pdu.append(byte)

    def _run_line(self, raw: bytes) -> None:
        text = raw.decode("latin-1").strip()
        body = strip_prefix(text)
        if body is None:
            return   # not a command line: real modems ignore it
        self._last_line = raw
        self.busy = True
        self.lines_received += 1
        self.notify()
        try:
            commands = parse_line(body)
        except ParseError:
            self._complete([], self.error())
            return
        blocks: list[list[str]] = []
        last = Result()
        afters: list[Callable[[], None]] = []
        delay = 0.0
        for command in commands:
            last = self.dispatch(command)
            delay += last.delay
            if last.info:
                blocks.append(last.info)
            if last.after:
                afters.append(last.after)
            if last.final != "OK" or last.prompt:
                break
        self._complete(blocks, Result(final=last.final, prompt=last.prompt, delay=delay,
                                      after=_chain(afters)))

    def dispatch(self, command: Command) -> Result:
        handler = self._handlers.get(command.name)
        if handler is None:
            return self.error()
        try:
            return handler(self, command)
        except (ValueError, IndexError):
            return self.error()

    def _complete(self, blocks: list[list[str]], result: Result) -> None:
        """Write the answer after the modelled latency, then take the next queued input."""
        def finish() -> None:
            if result.prompt is not None:
                self.at(self.timing.prompt_delay, lambda: self._open_prompt(result.prompt))
                if blocks:
                    self.write(self._frame(blocks, None))
                return
            self.write(self._frame(blocks, result.final))
            self.busy = False
            if result.after:
                result.after()
            if self.s.cnmi[0] == 2 and self.urc_buffer:
                self.flush_urc_buffer()
            self._drain_queue()
        self.at(self.timing.command_latency + result.delay, finish)

    def _open_prompt(self, prompt: Prompt | None) -> None:
        self._prompt = prompt
        self.write(b"\r\n> ")
        self.busy = False
        order = self.faults.take_reset_in_prompt()
        if order is not None:
            log.info("%s: fault: reset inside the prompt (banners %s the PDU)", self.name,
                     order.value)
            self.reset(hold_banners=order is BannerOrder.AFTER)
            return
        self._drain_queue()

    def enter_prompt(self, prompt: Prompt) -> None:
        """Sit at the ``> `` prompt a predecessor's ``AT+CMGS`` opened: the next bytes are PDU."""
        self._prompt, self._pdu, self.busy = prompt, bytearray(), False

    def _drain_queue(self) -> None:
        queued, self._queued = bytes(self._queued), bytearray()
        if queued:
            self._receive(queued)


def _chain(fns: list[Callable[[], None]]) -> Callable[[], None] | None:
    if not fns:
        return None

    def run() -> None:
        for fn in fns:
            fn()
    return run
