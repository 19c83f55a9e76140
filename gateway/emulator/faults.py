"""The fault plan: the misbehaviour of real modems (HARDWARE.md 4.3, section 8), on demand.

Tests and the CLI call these to make the next sends fail, the modem fall silent, reset, lose
the network or the SIM, brown out, or take a message and never answer. Every method acts under
the modem's lock, so a fault lands between two bytes, never inside a state change.
"""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem

FAULT_KINDS = ("no_answer", "garbage", "reset", "cms_errors", "cms_error_rate", "deregister",
               "register",
               "remove_sim", "insert_sim", "under_voltage", "hang", "power_off", "in_doubt", "urc",
               "reset_in_prompt", "reset_after_send", "stuck_in_prompt", "redeliver", "unplug",
               "plug", "swap", "report_before_result")


class BannerOrder(Enum):
    """Where a reset inside the ``> `` prompt puts its boot banners relative to the host's PDU.

    ``AFTER`` is the field capture of issue 9: the UART is up (factory ATE1) before ``RDY``, so
    the PDU and Ctrl-Z are echoed first. ``BEFORE`` is a faster boot: the banners reach the host
    before it has written the PDU.
    """
    BEFORE = "before"
    AFTER = "after"


RANDOM_CMS_CODES = (38, 41, 42, 47, 111, 331, 332, 500)
"""The network-side failures real sends see (HARDWARE.md section 8, item 6)."""


class FaultPlan:
    def __init__(self, modem: "EmulatedModem") -> None:
        self._modem = modem
        self._cms: list[int] = []
        self._in_doubt = 0
        self._cms_rate = 0.0
        self._cms_codes: tuple[int, ...] = RANDOM_CMS_CODES
        self._prompt_resets: list[BannerOrder] = []
        self._send_resets = 0
        self._reports_first = 0

    def no_answer(self, seconds: float) -> None:
        """Ignore everything the host writes for ``seconds`` (no echo, no result)."""
        m = self._modem
        with m.lock:
            m.silent_until = m.clock.monotonic() + seconds

    def garbage(self, data: bytes) -> None:
        """Write raw bytes to the host now (a serial console, a baud mismatch, noise)."""
        m = self._modem
        with m.lock:
            m.write(bytes(data))

    def reset(self) -> None:
        """Spontaneous reset (brown-out): boot banners again, volatile settings lost."""
        with self._modem.lock:
            self._modem.reset()

    def cms_errors(self, code: int, count: int = 1) -> None:
        """The next ``count`` sends (AT+CMGS / AT+CMSS) answer ``+CMS ERROR: <code>``."""
        with self._modem.lock:
            self._cms.extend([int(code)] * int(count))

    def cms_error_rate(self, rate: float, codes: tuple[int, ...] = RANDOM_CMS_CODES) -> None:
        """From now on each send fails with probability ``rate``, a code drawn from ``codes``."""
        if not 0.0 <= rate <= 1.0 or not codes:
            raise ValueError("rate must be within 0..1 and codes not empty")
        with self._modem.lock:
            self._cms_rate, self._cms_codes = float(rate), tuple(int(c) for c in codes)

    def take_cms_error(self) -> int | None:
        if self._cms:
            return self._cms.pop(0)
        rng = self._modem.random
        if self._cms_rate and rng.random() < self._cms_rate:
            return rng.choice(self._cms_codes)
        return None

    def in_doubt(self, count: int = 1) -> None:
        """The next ``count`` sends reach the network, but the host never gets +CMGS."""
        with self._modem.lock:
            self._in_doubt += int(count)

    def take_in_doubt(self) -> bool:
        if self._in_doubt:
            self._in_doubt -= 1
            return True
        return False

    def reset_in_prompt(self, banners: BannerOrder | str = BannerOrder.AFTER) -> None:
        """The next ``> `` prompt is followed by a brown-out before Ctrl-Z (issue 9 item 1).

        SIM800 HATs brown out at the TX current peak of a send, i.e. exactly here. The rebooted
        modem has its factory settings (ATE1) and no prompt: the PDU and Ctrl-Z the host writes
        next arrive in command mode, are echoed, and the line answers ERROR. Nothing is sent.
        """
        order = BannerOrder(banners)
        with self._modem.lock:
            self._prompt_resets.append(order)

    def take_reset_in_prompt(self) -> BannerOrder | None:
        return self._prompt_resets.pop(0) if self._prompt_resets else None

    def reset_after_send(self, count: int = 1) -> None:
        """The next ``count`` sends reach the network, then the modem resets before ``+CMGS``.

        The counterpart of ``reset_in_prompt``: here the SMS really went out, so a driver that
        requeues on every reboot would send it twice.
        """
        with self._modem.lock:
            self._send_resets += int(count)

    def take_reset_after_send(self) -> bool:
        if self._send_resets:
            self._send_resets -= 1
            return True
        return False

    def report_before_result(self, count: int = 1) -> None:
        """The next ``count`` sends get their status report before their own ``+CMGS: <mr>``
        (issue 9 item 4): an SMSC that answers fast, as real SIM800s show. The report is routed
        as AT+CNMI says (``+CDS``, or stored with ``+CDSI``) the moment the network takes the
        SMS, whatever the report delay; the ``+CMGS`` result line and ``OK`` follow it. A host
        sees a report whose TP-MR it has not been told yet.
        """
        with self._modem.lock:
            self._reports_first += int(count)

    def take_report_before_result(self) -> bool:
        if self._reports_first:
            self._reports_first -= 1
            return True
        return False

    def stuck_in_prompt(self, length: int = 20) -> None:
        """Leave the modem at the ``> `` prompt of ``AT+CMGS=<length>``, as a host that crashed
        between the command and Ctrl-Z leaves it (issue 9 item 3): what comes next is PDU body."""
        from gateway.emulator.result import Prompt
        if not 1 <= int(length) <= 255:
            raise ValueError("length must be within 1..255")
        m = self._modem
        with m.lock:
            m.enter_prompt(Prompt("pdu", length=int(length)))

    def redeliver(self, part: int | None = None) -> None:
        """The network delivers the last SMS injected to this modem again (or one of its parts):
        an SC retrying a delivery whose acknowledgement it missed (issue 9 item 5)."""
        self._modem.network.redeliver(self._modem.msisdn, part)

    def unplug(self, seconds: float | None = None) -> None:
        """The port vanishes under the host (reads and writes fail, opening fails) until
        ``plug`` or ``seconds`` later: a USB node gone, or a port that appears after start."""
        self._modem.unplug(seconds)

    def plug(self) -> None:
        self._modem.plug()

    def swap(self) -> None:
        """Another modem and SIM on the port: new IMEI/IMSI/ICCID, empty memories, a reboot."""
        self._modem.swap()

    def deregister(self) -> None:
        """The network is lost: +CREG: 0 (if enabled), sends fail with CMS 331, no signal."""
        m = self._modem
        with m.lock:
            m.network_available = False
            m.update_registration()

    def register(self) -> None:
        m = self._modem
        with m.lock:
            m.network_available = True
            m.update_registration()

    def remove_sim(self) -> None:
        from gateway.emulator.modem import SimState
        m = self._modem
        with m.lock:
            m.sim_present = False
            m.sim_state = SimState.ABSENT
            m.sms_ready = False
            m.emit_line("+CPIN: NOT INSERTED")
            m.update_registration()

    def insert_sim(self) -> None:
        from gateway.emulator.modem import SimState
        m = self._modem
        with m.lock:
            if m.sim_present:
                return
            m.sim_present = True
            m.sim_state = SimState.PIN if m.pin else SimState.READY
            if m.sim_state is SimState.READY:
                m.sim_unlocked()
            else:
                m.emit_line("+CPIN: SIM PIN")

    def under_voltage(self) -> None:
        """Supply sags: the warning and power-down URCs, then off until PWRKEY."""
        m = self._modem
        with m.lock:
            *warnings, last = m.profile.under_voltage_urcs
            for line in warnings:
                m.emit_line(line)
            m.power_off(urc=last)

    def hang(self) -> None:
        """Answer nothing at all until the power is cycled (PWRKEY)."""
        with self._modem.lock:
            self._modem.hung = True

    def power_off(self) -> None:
        """Off without a word, as after a power cut; PWRKEY switches it on again."""
        with self._modem.lock:
            self._modem.power_off(urc=None)

    def urc(self, line: str) -> None:
        """Write an unsolicited line now, even in the middle of a command or at the prompt."""
        with self._modem.lock:
            self._modem.emit_line(line)

    def apply(self, kind: str, args: list[str]) -> None:
        """Run fault ``kind`` with string arguments (the control channel and CLI use this)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        if kind == "no_answer":
            self.no_answer(float(args[0]) if args else 10.0)
        elif kind == "garbage":
            self.garbage(bytes.fromhex(args[0]) if args else b"\xff\xfe\x00garbage\xfd")
        elif kind == "cms_error_rate":
            if not args:
                raise ValueError("cms_error_rate needs the rate (0..1) and optionally codes")
            self.cms_error_rate(float(args[0]), tuple(int(a) for a in args[1:]) or RANDOM_CMS_CODES)
        elif kind in ("cms_errors", "in_doubt"):
            numbers = [int(a) for a in args]
            if kind == "cms_errors":
                self.cms_errors(*(numbers or [500]))
            else:
                self.in_doubt(*numbers)
        elif kind == "reset_in_prompt":
            if len(args) > 1:
                raise ValueError("reset_in_prompt takes at most one argument: before | after")
            self.reset_in_prompt(args[0] if args else BannerOrder.AFTER)
        elif kind in ("reset_after_send", "stuck_in_prompt", "redeliver", "report_before_result"):
            if len(args) > 1:
                raise ValueError(f"{kind} takes at most one number")
            getattr(self, kind)(*(int(a) for a in args))
        elif kind == "unplug":
            if len(args) > 1:
                raise ValueError("unplug takes at most the seconds until the port is back")
            self.unplug(float(args[0]) if args else None)
        elif kind == "urc":
            if not args:
                raise ValueError("urc needs the line to send")
            self.urc(" ".join(args))
        else:
            if args:
                raise ValueError(f"fault {kind} takes no arguments")
            getattr(self, kind)()
