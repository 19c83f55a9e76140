"""The supervisor against the emulator: stored SMS at start, rescans, SIM, PIN and network."""
from __future__ import annotations

import logging

import pytest

from gateway.errors import ModemUnavailableError
from gateway.modem.health import EventKind, ModemState, Registration, SimState
from gateway.sms.decode import decode_pdu
from gateway.sms.pdu import encode_text
from gateway.sms.text import SubmitOptions
from gateway.modem.driver import Modem
from gateway.modem.profiles import profile_for_model
from tests.modem.conftest import FAST, Recorder
from tests.modem.scripted_serial import ScriptedSerial, healthy_modem

def parts(text: str):
    return encode_text("+447700900123", text, SubmitOptions())


def test_sms_stored_before_start_is_read_at_start(make_rig):
    rig = make_rig(start=False)
    rig.emu.inject_sms("+447700900555", "while you were away")
    rig.emu.inject_sms("+447700900556", "and another")
    assert rig.emu.wait_until(lambda: len(rig.emu.storage["SM"].listing(None)) == 2, 2)
    rig.modem.start()
    rig.listener.wait(lambda r: len(r.delivered) == 2)
    assert sorted(decode_pdu(p).text for p in rig.listener.delivered) == [
        "and another", "while you were away"]
    assert rig.emu.wait_until(lambda: not rig.emu.storage["SM"].listing(None), 2)


def test_listener_failure_leaves_the_sms_stored_for_the_next_scan(make_rig):
    rig = make_rig(settings=FAST.__class__(**{**FAST.__dict__, "rescan_interval_s": 0.2}))
    assert rig.modem.wait_ready(5)
    rig.listener.fail_deliver = True
    rig.emu.inject_sms("+447700900555", "keep me")
    rig.listener.wait(lambda r: r.details(EventKind.ERROR))
    assert len(rig.emu.storage["SM"].listing(None)) == 1      # still on the SIM
    rig.listener.fail_deliver = False
    rig.listener.wait(lambda r: len(r.delivered) == 1)        # the rescan found it
    assert decode_pdu(rig.listener.delivered[0]).text == "keep me"
    assert rig.emu.wait_until(lambda: not rig.emu.storage["SM"].listing(None), 2)


def test_network_lost_holds_sends_until_registered_again(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    rig.emu.faults.deregister()
    rig.listener.wait(lambda r: rig.modem.health().state is ModemState.NO_NETWORK)
    (part,) = parts("later")
    with pytest.raises(ModemUnavailableError):
        rig.modem.send(part.pdu, part.tpdu_length)
    assert rig.modem.health().registration is Registration.NOT_REGISTERED
    rig.emu.faults.register()
    assert rig.modem.wait_ready(5)
    rig.sent_mr(part.pdu, part.tpdu_length)


def test_sim_removed_makes_health_red_and_sends_unavailable(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    rig.emu.faults.remove_sim()
    rig.listener.wait(lambda r: rig.modem.health().state is ModemState.NO_SIM)
    health = rig.modem.health()
    assert health.sim is SimState.ABSENT and not health.ok
    assert any("absent" in d for d in rig.listener.details(EventKind.SIM))
    (part,) = parts("held")
    with pytest.raises(ModemUnavailableError):
        rig.modem.send(part.pdu, part.tpdu_length)
    rig.emu.faults.insert_sim()
    assert rig.modem.wait_ready(5)
    rig.sent_mr(part.pdu, part.tpdu_length)


def test_pin_is_entered_once_when_required(make_rig, caplog):
    settings = FAST.__class__(**{**FAST.__dict__, "pin": "1234"})
    with caplog.at_level(logging.DEBUG, logger="gateway.modem.at"):
        rig = make_rig(settings=settings, emu_kwargs={"pin": "1234"})
        assert rig.modem.wait_ready(5)
    sent = [m for m in rig.at_log(caplog) if 'AT+CPIN="' in m and ">>" in m]
    assert len(sent) == 1


def test_wrong_pin_is_tried_once_and_never_again(make_rig, caplog):
    settings = FAST.__class__(**{**FAST.__dict__, "pin": "0000"})
    with caplog.at_level(logging.DEBUG, logger="gateway.modem.at"):
        rig = make_rig(settings=settings, emu_kwargs={"pin": "1234"})
        rig.listener.wait(lambda r: any("rejected" in d for d in r.details(EventKind.SIM)))
        rig.listener.wait(lambda r: rig.modem.health().state is ModemState.NO_SIM)
        rig.emu.faults.reset()            # even after a reboot: no second attempt
        rig.listener.wait(lambda r: rig.modem.health().counters.reboots >= 1 or
                          len([m for m in rig.at_log(caplog) if "AT+CPIN?" in m]) > 6)
    assert len([m for m in rig.at_log(caplog) if 'AT+CPIN="' in m and ">>" in m]) == 1
    assert rig.emu.pin_attempts == 2


def test_no_pin_sent_when_the_sim_is_ready(make_rig, caplog):
    settings = FAST.__class__(**{**FAST.__dict__, "pin": "1234"})
    with caplog.at_level(logging.DEBUG, logger="gateway.modem.at"):
        rig = make_rig(settings=settings)
        assert rig.modem.wait_ready(5)
    assert not [m for m in rig.at_log(caplog) if 'AT+CPIN="' in m]


def test_a_port_that_cannot_be_opened_fails_and_is_retried():
    listener = Recorder()
    opened: list[str] = []

    def factory(url, **kwargs):
        opened.append(url)
        raise OSError(2, "No such file or directory")

    modem = Modem("/dev/ttyUSB9", profile_for_model("sim7600"), listener, settings=FAST,
                  serial_factory=factory)
    modem.start()
    try:
        # Retried after retry_interval_s, failing again with the port's reason.
        listener.wait(lambda r: len(opened) >= 2 and modem.health().state is ModemState.FAILED)
        assert "cannot open /dev/ttyUSB9" in (modem.health().last_error or "")
    finally:
        modem.stop()


def test_a_port_that_breaks_is_reopened():
    listener = Recorder()
    ports: list[ScriptedSerial] = []

    def factory(url, **kwargs):
        ports.append(ScriptedSerial(healthy_modem))
        return ports[-1]

    modem = Modem("/dev/ttyUSB2", profile_for_model("sim800"), listener, settings=FAST,
                  serial_factory=factory)
    modem.start()
    try:
        assert modem.wait_ready(5)
        ports[0].fail_reads = OSError(5, "Input/output error")   # the USB node went away
        listener.wait(lambda r: len(ports) == 2 and len(r.details(EventKind.BOOTED)) >= 2)
        assert modem.wait_ready(5)
        assert modem.health().counters.reboots == 0
    finally:
        modem.stop()


# --- events, not polls (issue 9 item 6), on ManualClock ----------------------------------------


def manual(settings, factory, model: str = "sim800"):
    from gateway.clock import ManualClock
    clock = ManualClock()
    listener = Recorder()
    modem = Modem("/dev/ttyUSB2", profile_for_model(model), listener, settings=settings,
                  clock=clock, serial_factory=factory)
    return modem, listener, clock


# Real intervals; command time-outs longer than any test drives the clock, so moving the clock
# while the driver is busy (a few real milliseconds per step) can never time out a command.
SLOW_POLLS = FAST.__class__(**{**FAST.__dict__, "health_interval_s": 30.0,
                               "rescan_interval_s": 600.0, "retry_interval_s": 60.0,
                               "port_retry_interval_s": 5.0, "handover_retry_s": 5.0,
                               "command_timeout_s": 1000.0, "probe_timeout_s": 1000.0,
                               "prompt_timeout_s": 1000.0, "send_timeout_s": 1000.0})


def test_a_port_error_on_a_running_modem_reinitialises_at_once_not_at_the_next_poll():
    from tests.modem.conftest import drive
    ports: list[ScriptedSerial] = []

    def factory(url, **kwargs):
        ports.append(ScriptedSerial(healthy_modem))
        return ports[-1]
    modem, listener, clock = manual(SLOW_POLLS, factory)
    modem.start()
    try:
        assert modem.wait_ready(5)
        ports[0].fail_reads = OSError(5, "Input/output error")   # the modem was swapped
        took = drive(clock, lambda: len(ports) == 2 and len(listener.details(EventKind.BOOTED)) >= 2,
                     step=0.05)
        assert took < 3.0                        # the 30 s health poll never came into it
        assert modem.wait_ready(5)
    finally:
        modem.stop()


def test_a_port_that_appears_after_start_is_picked_up_on_the_port_interval():
    from tests.modem.conftest import drive
    attempts: list[float] = []

    def factory(url, **kwargs):
        attempts.append(clock.monotonic())
        if len(attempts) < 3:
            raise OSError(2, "No such file or directory")
        return ScriptedSerial(healthy_modem)
    modem, listener, clock = manual(SLOW_POLLS, factory)
    modem.start()
    try:
        drive(clock, lambda: modem.ready, step=0.25)
        # Two 5 s waits, never the 60 s ladder retry (the clock moves on while init runs, so
        # the time to ready says little; the gaps between attempts are exact).
        assert [b - a for a, b in zip(attempts, attempts[1:])] == [5.0, 5.0]
    finally:
        modem.stop()


def test_a_refused_hand_over_is_retried_after_the_short_delay_not_the_rescan(make_rig):
    from gateway.clock import ManualClock
    from tests.modem.conftest import drive
    rig = make_rig(start=False)
    rig.emu.inject_sms("+447700900555", "keep me")      # stored before start: no +CMTI read
    assert rig.emu.wait_until(lambda: len(rig.emu.storage["SM"].listing(None)) == 1, 2)
    clock = ManualClock()
    refused_at: list[float] = []
    taken_at: list[float] = []
    on_deliver = rig.listener.on_deliver

    def timed(pdu: str) -> None:
        if not refused_at:
            refused_at.append(clock.monotonic())
            raise RuntimeError("database is locked")
        on_deliver(pdu)
        taken_at.append(clock.monotonic())
    rig.listener.on_deliver = timed
    modem = Modem(rig.emu.url, rig.profile, rig.listener, settings=SLOW_POLLS, clock=clock)
    modem.start()
    try:
        assert modem.wait_ready(5)
        drive(clock, lambda: bool(taken_at), step=0.25)
        # handover_retry_s (5), not rescan_interval_s (600) nor the health poll (30). drive() moves
        # the clock on while a loaded machine's driver thread is still reading, so the upper
        # bound is the next poll, not 5 s plus one step.
        assert 5.0 <= taken_at[0] - refused_at[0] < 30.0
        assert rig.emu.wait_until(lambda: not rig.emu.storage["SM"].listing(None), 2)
    finally:
        modem.stop()
