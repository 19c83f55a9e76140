"""The recovery ladder, and switching the modem on.

Each step runs only when the previous one did not bring the modem back:
  1. re-sync: ESC (leaves a half-entered PDU), then ``AT`` probes;
  2. re-init: the whole init dialog again (settings are lost after a reboot);
  3. ``AT+CFUN=1,1``: the modem resets itself;
  4. PWRKEY power cycle through GPIO (off pulse, settle, on pulse only if still silent).
Without a PWRKEY pin the ladder stops after step 3, says so in an event, and the supervisor
starts over after ``retry_interval_s``.  PWRKEY toggles, so it is only pressed after ``AT`` went
unanswered: pressing a working modem's key would switch it off.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.errors import AtCommandError, AtTimeoutError, ModemUnavailableError
from gateway.modem.at import AtChannel
from gateway.modem.errors import LadderExhausted, PoweredDown
from gateway.modem.health import EventKind, ModemState
from gateway.modem.session import probe

if TYPE_CHECKING:
    from gateway.modem.driver import Modem
    from gateway.modem.supervisor import Supervisor

log = logging.getLogger(__name__)

__all__ = ["LadderExhausted", "PoweredDown", "Recovery"]


class Recovery:
    def __init__(self, modem: Modem, supervisor: Supervisor) -> None:
        self.m = modem
        self.s = supervisor

    def bring_up(self) -> None:
        settings = self.m.settings
        self.m.set_state(ModemState.STARTING)
        channel = self.s.channel()
        # A predecessor killed between AT+CMGS=<n> and Ctrl-Z leaves the modem at the "> "
        # prompt, where our "AT" would only become PDU body: ESC leaves the prompt (and is
        # ignored in command mode).
        channel.write_escape()
        if not probe(channel, settings.probe_attempts, settings.probe_timeout_s):
            # A modem still booting (a HAT that powers up by itself, a Pi that booted faster)
            # would be switched *off* by a press: give it its boot time before pressing.
            log.info("no answer to AT: waiting up to %g s for a booting modem",
                     self.m.profile.boot_timeout_s)
            if self.wait_boot():
                if not self.s.initialise():
                    self.ladder("initialisation failed")
                return
            if self._shows_life():
                # Bytes came back, so the modem is on: a "switch on" press would switch it
                # off.  The ladder re-syncs, resets, and power-cycles only as its last step.
                self.ladder("the modem sends bytes but does not answer AT")
                return
            if self.m.power is None:
                raise LadderExhausted("the modem does not answer AT and no PWRKEY pin is "
                                      "configured: switch it on by hand")
            self.m.emit(EventKind.POWERED_ON, "no answer to AT: pressing PWRKEY to switch on")
            self.m.power.pulse(self.m.profile.pulse_on_s)
            self.s.forget_boot()
            if not self.wait_boot():
                self.ladder("no answer after the power-on pulse")
                return
        if not self.s.initialise():
            self.ladder("initialisation failed")

    def _shows_life(self) -> bool:
        """Any byte from the modem on the current port (echo, URC, boot banner, garbage)."""
        channel = self.m.channel
        return channel is not None and channel.bytes_received > 0

    def after_power_down(self) -> None:
        self.m.set_state(ModemState.POWERED_DOWN)
        backoff = self.m.settings.under_voltage_backoff_s
        self.m.emit(EventKind.RECOVERY, f"modem powered down: waiting {backoff:g} s before "
                                        "switching it on again")
        if not self.s.sleep(backoff):
            self.bring_up()

    def wait_boot(self) -> bool:
        """Probe until the modem answers or the profile's boot time is over."""
        deadline = self.m.clock.monotonic() + self.m.profile.boot_timeout_s
        while not self.m.stopping.is_set():
            try:
                if probe(self.s.channel(), 1, self.m.settings.probe_timeout_s):
                    return True
            except ModemUnavailableError as exc:  # a USB node not back yet
                log.debug("port not available yet: %s", exc)
                if self.s.sleep(0.2):
                    return False
            if self.m.clock.monotonic() >= deadline:
                return False
        return False

    def ladder(self, reason: str) -> None:
        m, settings = self.m, self.m.settings
        m.set_state(ModemState.RECOVERING, last_error=reason)
        m.tracker.count(recoveries=1)
        m.emit(EventKind.RECOVERY, f"recovering: {reason}")
        channel: AtChannel | None
        port_error: ModemUnavailableError | None = None
        try:
            channel = self.s.channel()
        except ModemUnavailableError as exc:
            channel = None
            port_error = exc
            m.emit(EventKind.RECOVERY, f"serial port unavailable: {exc}")
        if channel is not None:
            m.emit(EventKind.RECOVERY, "step 1: re-sync (ESC, AT)")
            try:
                channel.write_escape()
                alive = probe(channel, settings.probe_attempts, settings.probe_timeout_s)
            except ModemUnavailableError:
                alive = False
            if alive:
                m.emit(EventKind.RECOVERY, "step 2: re-init")
                if self.s.initialise():
                    return
            m.emit(EventKind.RECOVERY, "step 3: AT+CFUN=1,1")
            if self._soft_reset(channel) and self.s.initialise():
                return
        if m.power is None:
            if port_error is not None:
                raise port_error
            m.emit(EventKind.RECOVERY, "no PWRKEY pin configured: the ladder stops at "
                                       "AT+CFUN=1,1; power-cycle the modem by hand")
            raise LadderExhausted("modem unresponsive after AT+CFUN=1,1 and no PWRKEY pin")
        m.emit(EventKind.RECOVERY, "step 4: PWRKEY power cycle")
        if self._power_cycle() and self.s.initialise():
            return
        raise LadderExhausted("modem unresponsive after a PWRKEY power cycle")

    def _soft_reset(self, channel: AtChannel) -> bool:
        self.s.boot_seen.clear()
        try:
            channel.command("AT+CFUN=1,1", timeout=self.m.settings.command_timeout_s)
        except (AtTimeoutError, AtCommandError, ModemUnavailableError) as exc:
            log.info("AT+CFUN=1,1: %s", exc)
        self.s.forget_boot()
        # Give the reset time to happen before probing, or the old session may answer.
        self.m.clock.wait(self.s.boot_seen, min(self.m.profile.boot_timeout_s, 5.0))
        return self.wait_boot()

    def _power_cycle(self) -> bool:
        m, profile = self.m, self.m.profile
        assert m.power is not None
        self.s.boot_seen.clear()
        m.power.pulse(profile.pulse_off_s)
        m.emit(EventKind.POWERED_OFF, f"PWRKEY pulse {profile.pulse_off_s:g} s (off)")
        if self.s.sleep(profile.off_settle_s):
            return False
        self.s.forget_boot()
        try:
            alive = self.s.boot_seen.is_set() or probe(self.s.channel(), 2,
                                                     m.settings.probe_timeout_s)
        except ModemUnavailableError:
            alive = False
        if alive:  # the modem had been off: that pulse switched it on
            return self.wait_boot()
        m.power.pulse(profile.pulse_on_s)
        m.emit(EventKind.POWERED_ON, f"PWRKEY pulse {profile.pulse_on_s:g} s (on)")
        return self.wait_boot()
