"""The supervisor's recovery ladder, each step driven by an emulator fault (or a scripted port)."""
from __future__ import annotations

import threading

import pytest

from gateway.errors import ModemUnavailableError, SendInDoubtError
from gateway.modem.driver import Modem
from gateway.modem.health import EventKind, ModemState
from gateway.modem.profiles import profile_for_model
from gateway.sms.pdu import encode_text
from gateway.sms.text import SubmitOptions
from tests.modem.conftest import FAST, Recorder
from tests.modem.scripted_serial import ScriptedSerial, healthy_modem

(PART,) = encode_text("+447700900123", "ladder", SubmitOptions())


def presses(rig) -> int:
    """How many times the PWRKEY pin went high (pressed)."""
    states = [s.state for s in rig.factory.pin(6).states]
    return sum(1 for before, after in zip(states, states[1:]) if after and not before)


def steps(rig) -> list[str]:
    return [d for d in rig.listener.details(EventKind.RECOVERY) if d.startswith("step")]


def test_command_timeout_resyncs_and_reinitialises(make_rig):
    rig = make_rig(pwrkey=True)
    assert rig.modem.wait_ready(5)
    rig.emu.faults.no_answer(0.3)
    rig.listener.wait(lambda r: any(d.startswith("step 2") for d in steps(rig)))
    assert rig.modem.wait_ready(5)
    assert steps(rig)[:2] == ["step 1: re-sync (ESC, AT)", "step 2: re-init"]
    assert presses(rig) == 0                 # never touched PWRKEY for a short silence
    rig.sent_mr(PART.pdu, PART.tpdu_length)


def power_cycled_after(make_rig, fault: str):
    """A ready modem, the fault, then wait until the ladder's PWRKEY step brought it back."""
    rig = make_rig(pwrkey=True, boot_timeout_s=0.5)
    assert rig.modem.wait_ready(5)
    getattr(rig.emu.faults, fault)()
    rig.listener.wait(lambda r: "step 4: PWRKEY power cycle" in steps(rig), timeout=10)
    rig.listener.wait(lambda r: len(r.details(EventKind.BOOTED)) >= 2, timeout=10)
    assert rig.modem.wait_ready(5)
    return rig


def test_hung_modem_is_power_cycled_through_pwrkey(make_rig):
    rig = power_cycled_after(make_rig, "hang")
    assert steps(rig) == ["step 1: re-sync (ESC, AT)", "step 3: AT+CFUN=1,1",
                          "step 4: PWRKEY power cycle"]
    assert presses(rig) == 2                 # off, then on
    assert rig.modem.health().counters.recoveries >= 1
    rig.sent_mr(PART.pdu, PART.tpdu_length)


def test_without_pwrkey_the_ladder_stops_at_cfun_and_says_so(make_rig):
    rig = make_rig(pwrkey=False, boot_timeout_s=0.5)
    assert rig.modem.wait_ready(5)
    rig.emu.faults.hang()
    rig.listener.wait(lambda r: rig.modem.health().state is ModemState.FAILED, timeout=10)
    assert any("no PWRKEY pin" in d and "AT+CFUN=1,1" in d
               for d in rig.listener.details(EventKind.RECOVERY))
    assert "step 4: PWRKEY power cycle" not in steps(rig)
    with pytest.raises(ModemUnavailableError):
        rig.modem.send(PART.pdu, PART.tpdu_length)


def test_silent_power_loss_needs_one_press_only(make_rig):
    """PWRKEY toggles: when the modem turns out to be off, the 'off' press switched it on."""
    rig = power_cycled_after(make_rig, "power_off")
    assert presses(rig) == 1
    assert rig.emu.power_state != "off"


def test_powered_off_at_start_is_switched_on_after_probing(make_rig):
    rig = make_rig("sim7600", pwrkey=True, powered=False)
    assert rig.modem.wait_ready(5)
    assert presses(rig) == 1
    assert rig.listener.details(EventKind.POWERED_ON)


def test_a_modem_still_booting_at_start_is_not_switched_off(make_rig, gpio):
    rig = make_rig("sim7600", pwrkey=True, start=False)
    rig.emu.faults.power_off()
    rig.emu.timing = rig.emu.timing.replace(boot_time=1.5)   # UART up after 0.75 s
    rig.emu.pwrkey(True)
    rig.emu.pwrkey(False)                                     # the HAT switched itself on
    rig.modem.start()
    assert rig.modem.wait_ready(5)
    assert presses(rig) == 0


def test_already_on_at_start_is_never_pulsed(make_rig):
    rig = make_rig("sim7600", pwrkey=True, powered=True)
    assert rig.modem.wait_ready(5)
    assert presses(rig) == 0
    assert rig.factory.pin(6).state is False


def test_off_at_start_without_pwrkey_fails_with_a_reason(make_rig):
    rig = make_rig(pwrkey=False, powered=False)
    rig.listener.wait(lambda r: rig.modem.health().state is ModemState.FAILED)
    assert "switch it on by hand" in (rig.modem.health().last_error or "")


def test_spontaneous_reboot_reinitialises_and_in_flight_send_is_in_doubt(make_rig):
    settings = FAST.__class__(**{**FAST.__dict__, "send_timeout_s": 30.0})
    rig = make_rig("sim7600", settings=settings)
    assert rig.modem.wait_ready(5)
    rig.emu.faults.in_doubt()                # Ctrl-Z accepted, no result...
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            rig.modem.send(PART.pdu, PART.tpdu_length)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    worker = threading.Thread(target=send)
    worker.start()
    assert rig.emu.wait_until(lambda: len(rig.emu.sent) == 1, 2)
    rig.emu.faults.reset()                   # ...then a brown-out: RDY, +CPIN: READY, SMS DONE
    worker.join(5)
    assert not worker.is_alive()             # at once, not after the 30 s send time-out
    assert isinstance(outcome[0], SendInDoubtError)
    rig.listener.wait(lambda r: r.details(EventKind.REBOOTED))
    rig.listener.wait(lambda r: len(r.details(EventKind.BOOTED)) >= 2)
    assert rig.modem.wait_ready(5)
    assert rig.emu.s.cnmi == (2, 1, 0, 2, 0) and rig.emu.s.cmgf == 0   # ds=2: reports in SR
    rig.sent_mr(PART.pdu, PART.tpdu_length)


def test_silent_sim800_reset_is_noticed_by_the_returning_echo(make_rig):
    """SIM800 on autobaud says nothing after a reset; the echo (ATE1 again) gives it away."""
    rig = make_rig("sim800")
    assert rig.modem.wait_ready(5)
    rig.emu.faults.reset()
    rig.listener.wait(lambda r: r.details(EventKind.REBOOTED))
    rig.listener.wait(lambda r: len(r.details(EventKind.BOOTED)) >= 2)
    assert rig.emu.s.cnmi == (2, 1, 0, 1, 0) and rig.emu.s.echo is False
    assert rig.modem.health().counters.reboots == 1


def test_under_voltage_backs_off_and_powers_on_again(make_rig):
    rig = make_rig(pwrkey=True)
    assert rig.modem.wait_ready(5)
    rig.emu.faults.under_voltage()
    rig.listener.wait(lambda r: any("POWER DOWN" in d for d in r.details(EventKind.UNDER_VOLTAGE)))
    rig.listener.wait(lambda r: any("powered-down" in d for d in r.details(EventKind.STATE)))
    rig.listener.wait(lambda r: len(r.details(EventKind.BOOTED)) >= 2)
    assert any("WARNNING" in d for d in rig.listener.details(EventKind.UNDER_VOLTAGE))
    assert presses(rig) == 1
    assert rig.modem.wait_ready(5)


def test_garbage_and_stray_urcs_do_not_disturb_the_session(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    rig.emu.faults.garbage(b"\xff\xfe\x00garbage\xfd\r\n")
    rig.emu.faults.urc('+CMTI: "SM",7')      # an index that holds nothing: CMS 321, skipped
    rig.emu.faults.urc("+CMTE: 1")
    rig.listener.wait(lambda r: r.details(EventKind.UNDER_VOLTAGE))
    rig.sent_mr(PART.pdu, PART.tpdu_length)
    assert rig.modem.ready and rig.modem.health().counters.recoveries == 0


def test_cfun_reset_step_brings_back_a_modem_that_answers_at_but_not_init():
    """A scripted modem: AT works, every other command hangs until AT+CFUN=1,1 resets it."""
    state = {"wedged": True}

    def respond(chunk: str):
        command = chunk.strip()
        if command == "AT+CFUN=1,1":
            state["wedged"] = False
            return "\r\nOK\r\n\r\nRDY\r\n"
        if command in ("AT", "\x1b") or not state["wedged"]:
            return healthy_modem(chunk)
        return None

    port = ScriptedSerial(respond)
    listener = Recorder()
    profile = profile_for_model("sim800", boot_timeout_s=1.0)
    modem = Modem("scripted://", profile, listener, settings=FAST,
                  serial_factory=lambda url, **kw: port)
    modem.start()
    try:
        assert modem.wait_ready(10), listener.events
        assert [d for d in listener.details(EventKind.RECOVERY) if d.startswith("step")] == [
            "step 1: re-sync (ESC, AT)", "step 2: re-init", "step 3: AT+CFUN=1,1"]
        assert "AT+CFUN=1,1\r" in port.written
    finally:
        modem.stop()


# --- start-up on ManualClock: a modem left at the "> " prompt, a modem that only echoes ------


class LeftAtPrompt:
    """A SIM800 a killed predecessor left at the "> " prompt: input is PDU body until Ctrl-Z
    or ESC (ESC answers OK, as SIM800 does); afterwards a healthy modem."""

    def __init__(self) -> None:
        self.at_prompt = True
        self.swallowed: list[str] = []

    def __call__(self, chunk: str) -> str | None:
        if self.at_prompt:
            if chunk.endswith("\x1b"):
                self.at_prompt = False
                return "\r\nOK\r\n"
            if chunk.endswith("\x1a"):
                self.at_prompt = False
                return "\r\n+CMS ERROR: 304\r\n"
            self.swallowed.append(chunk)
            return None
        return healthy_modem(chunk)


def manual_modem(respond, *, power=None, profile=None):
    from gateway.clock import ManualClock
    clock = ManualClock()
    port = ScriptedSerial(respond)
    listener = Recorder()
    modem = Modem("scripted://", profile or profile_for_model("sim800"), listener,
                  settings=FAST, power=power, clock=clock, serial_factory=lambda url, **kw: port)
    return modem, port, listener, clock


def test_a_modem_left_at_the_prompt_is_ready_at_once_without_pwrkey():
    from tests.modem.conftest import FakePower
    power = FakePower()
    modem, port, listener, clock = manual_modem(LeftAtPrompt(), power=power,
                                                profile=profile_for_model("sim800",
                                                                          pwrkey_pin=6))
    start = clock.monotonic()
    modem.start()
    try:
        # The clock never moves: no probe may time out, no boot wait may pass.
        assert modem.wait_ready(5), listener.events
        assert clock.monotonic() == start
        assert power.pulses == []
        assert not listener.details(EventKind.POWERED_ON)
        assert port.written[:2] == ["\x1b", "AT\r"]       # ESC before the first probe
    finally:
        modem.stop()


def test_a_modem_that_sends_bytes_but_never_answers_is_not_switched_on():
    """Echo only (a wedged firmware): alive, so no "switch on" press; the ladder takes over."""
    from tests.modem.conftest import FakePower, drive
    power = FakePower()
    modem, port, listener, clock = manual_modem(
        lambda chunk: chunk if chunk != "\x1b" else None, power=power,
        profile=profile_for_model("sim800", pwrkey_pin=6, boot_timeout_s=1.0))
    modem.start()
    try:
        drive(clock, lambda: any(d.startswith("recovering") for d in
                                 listener.details(EventKind.RECOVERY)))
        assert power.pulses == []
        assert not listener.details(EventKind.POWERED_ON)
        assert "recovering: the modem sends bytes but does not answer AT" in \
            listener.details(EventKind.RECOVERY)
    finally:
        modem.stop()


class RebootsAtPrompt:
    """A healthy SIM800 (fixed baud) that browns out once, right after showing the "> " prompt:
    it comes back with factory echo (ATE1), so it echoes PDU + Ctrl-Z as command-line input,
    then says its boot banners."""

    BANNERS = "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nCall Ready\r\n\r\nSMS Ready\r\n"

    def __init__(self) -> None:
        self.echo = True
        self.rebooted = False
        self.rebooting = False
        self.sent = 0

    def __call__(self, chunk: str) -> str | None:
        echo = chunk if self.echo else ""
        command = chunk.strip()
        if command.startswith("AT+CMGS="):
            if not self.rebooted:
                self.rebooted = self.rebooting = True
                return echo + "\r\n> "
            return echo + "\r\n> "
        if chunk.endswith("\x1a"):
            if self.rebooting:
                self.rebooting, self.echo = False, True
                return chunk + self.BANNERS
            self.sent += 1
            return f"\r\n+CMGS: {self.sent}\r\n\r\nOK\r\n"
        if command == "ATE0":
            self.echo = False
            return echo + "\r\nOK\r\n"
        return echo + (healthy_modem(chunk) or "")


def test_a_reboot_between_prompt_and_ctrl_z_is_not_sent_and_the_modem_is_reinitialised():
    from gateway.modem.errors import NotSentReason, SendNotSentError
    modem, port, listener, clock = manual_modem(RebootsAtPrompt())
    modem.start()
    try:
        assert modem.wait_ready(5), listener.events
        with pytest.raises(SendNotSentError) as info:
            modem.send(PART.pdu, PART.tpdu_length)
        assert info.value.reason is NotSentReason.PDU_ECHOED
        health = modem.health()
        assert health.counters.not_sent == 1 and health.counters.in_doubt == 0
        assert listener.details(EventKind.NOT_SENT)
        assert not listener.details(EventKind.IN_DOUBT)
        # The banners reached the supervisor: re-initialised (echo off again), then it sends.
        listener.wait(lambda r: len(r.details(EventKind.BOOTED)) >= 2)
        assert modem.wait_ready(5)
        assert modem.send(PART.pdu, PART.tpdu_length) == 1
    finally:
        modem.stop()


def test_under_voltage_power_down_backs_off_exactly_the_setting_on_manual_clock():
    """Typed step POWERED_DOWN: wait under_voltage_backoff_s on the clock, then bring up (the
    modem answers, so PWRKEY stays untouched)."""
    from tests.modem.conftest import FakePower, drive
    settings = FAST.__class__(**{**FAST.__dict__, "under_voltage_backoff_s": 30.0,
                                 "health_interval_s": 1000.0, "command_timeout_s": 1000.0,
                                 "probe_timeout_s": 1000.0})
    power = FakePower()
    port = ScriptedSerial(healthy_modem)
    from gateway.clock import ManualClock
    clock = ManualClock()
    listener = Recorder()
    modem = Modem("scripted://", profile_for_model("sim800", pwrkey_pin=6), listener,
                  settings=settings, power=power, clock=clock, serial_factory=lambda u, **k: port)
    modem.start()
    try:
        assert modem.wait_ready(5)
        port.inject("\r\nUNDER-VOLTAGE POWER DOWN\r\n")
        drive(clock, lambda: len(listener.details(EventKind.BOOTED)) >= 2, step=0.5)
        states = [(e.time, e.detail) for e in listener.events if e.kind is EventKind.STATE]
        down = next(t for t, d in states if d.endswith("-> powered-down"))
        up = next(t for t, d in states if t >= down and d == "powered-down -> starting")
        assert 30.0 <= (up - down).total_seconds() <= 31.0   # the backoff, one clock step late at most
        assert any("UNDER-VOLTAGE POWER DOWN" in d
                   for d in listener.details(EventKind.UNDER_VOLTAGE))
        assert power.pulses == []
    finally:
        modem.stop()
