"""Issue 9: the field defects of a real-behaving SIM800 / SIM7600, whole stack.

Each test drives the gateway as ``simgate run`` assembles it (``build_stack`` of
test_gateway_faults, i.e. ``gateway.runtime.assemble``) against an emulator fault that models one
behaviour of real modems. A test marked ``xfail(strict=True)`` fails on the driver of its day:
the marker names what the driver must do, and goes when the fix lands.
"""
from __future__ import annotations

import itertools
from dataclasses import replace
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import Clock, ManualClock
from gateway.emulator import EmulatedModem, Timing, VirtualNetwork
from gateway.lifecycle import MessageState
from gateway.runtime import open_serial
from tests.integration.conftest import wait_for
from tests.integration.test_gateway_faults import Stack, build_stack

_names = itertools.count()


@pytest.fixture
def make_emu() -> Iterator[Callable[..., EmulatedModem]]:
    """Emulated modems that outlive a stack (a restarted gateway finds the same modem)."""
    made: list[EmulatedModem] = []

    def make(profile: str = "sim800", *, timing: Timing | None = None, clock: Clock | None = None,
             **kwargs: Any) -> EmulatedModem:
        emu = EmulatedModem(profile=profile, msisdn="+447700900001", network=VirtualNetwork(clock=clock),
                            timing=timing or Timing.fast(), name=f"field{next(_names)}", clock=clock, **kwargs)
        made.append(emu)
        return emu
    yield make
    for emu in made:
        emu.close()
        emu.network.close()


def driver_profile(emu: EmulatedModem) -> dict[str, Any]:
    return {"profile": "waveshare-sim7600" if emu.profile.name == "sim7600" else "waveshare-sim800"}


def sent_once(stack: Stack, number: str, timeout: float = 5) -> None:
    """Exactly one SMS to ``number`` reached the emulated network, and its message finished."""
    wait_for(lambda: stack.sent_to(number), timeout, f"an SMS to {number} on the network")
    assert len(stack.sent_to(number)) == 1


# --- item 1: a reboot between the "> " prompt and Ctrl-Z ---------------------------------------

@pytest.mark.parametrize("profile, banners", [("sim800", "after"), ("sim800", "before"), ("sim7600", "after")])
def test_reset_inside_the_prompt_loses_no_message(tmp_path: Path, make_emu: Callable[..., EmulatedModem],
                                                  profile: str, banners: str) -> None:
    emu = make_emu(profile, ipr=115200)   # a fixed rate: the rebooted SIM800 says RDY and echoes
    for stack in build_stack(tmp_path, emu=emu, modem_config=driver_profile(emu)):
        emu.faults.reset_in_prompt(banners)
        mid = stack.send("41790000101", "brown-out at the prompt")
        sent_once(stack, "41790000101")
        assert stack.wait_final(mid).state is MessageState.DELIVERED
        assert len(stack.sent_to("41790000101")) == 1


def test_reset_right_after_ctrl_z_sends_once(tmp_path: Path, make_emu: Callable[..., EmulatedModem]) -> None:
    """The opposite case: the SMS went out before the reboot, so "assume sent" is right."""
    emu = make_emu("sim800", ipr=115200)
    for stack in build_stack(tmp_path, emu=emu):
        emu.faults.reset_after_send()
        mid = stack.send("41790000102", "brown-out after Ctrl-Z")
        sent_once(stack, "41790000102")
        # Its report came while the modem rebooted (CNMI lost): SENT until validity, never failed.
        wait_for(lambda: stack.state(mid).state in (MessageState.SENT, MessageState.DELIVERED), 10, "the send")
        wait_for(lambda: stack.modem.ready, 10, "the modem back after the reboot")
        stack.send("41790000103", "after the reboot")
        sent_once(stack, "41790000103")
        assert len(stack.sent_to("41790000102")) == 1


# --- item 2: status reports emitted while the gateway is stopped -------------------------------

REPORTS = 5


def reports_lost_across_a_restart(tmp_path: Path, make_emu: Callable[..., EmulatedModem], profile: str,
                                  modem_config: dict[str, Any], *, kill: bool = False) -> int:
    """Send REPORTS messages, stop the gateway, let every report come, start it again: how many
    messages never got theirs. The emulator's network runs on a ManualClock, so "while stopped"
    is exact: no report can slip in before the stop or after the start. ``kill``: the port
    vanishes under the gateway before it stops (as for kill -9 or a power loss of the Pi), so
    nothing it would do on a graceful stop reaches the modem."""
    clock = ManualClock()
    emu = make_emu(profile, clock=clock, timing=Timing.fast().replace(
        report_delay=10.0, cnma_timeout=5.0, redelivery_delay=5.0))
    config = driver_profile(emu) | modem_config
    first = build_stack(tmp_path, emu=emu, modem_config=config)
    try:
        stack = next(first)
        ids = [stack.send(f"4179000020{i}", f"report {i}") for i in range(REPORTS)]
        wait_for(lambda: all(stack.state(mid).state is MessageState.SENT for mid in ids), 10, "every part sent")
        if kill:
            # A killed (or unpowered) Pi drives no GPIO either: without this, the still-running
            # driver sees the port vanish and its ladder presses PWRKEY, switching the modem off.
            emu.pwrkey = lambda pressed: None  # type: ignore[method-assign]
            emu.faults.unplug()
        stack.runtime.stop()
    finally:
        first.close()
        if kill:
            del emu.pwrkey  # the instance attribute goes, the modem's own method is back
        emu.faults.plug()
    clock.advance(10.0)                               # the reports come: nobody reads the port

    def emitted() -> bool:
        # A report is due report_delay after its SMS reached the network, which may be a
        # network delay after +CMGS: move the clock on until every one has come.
        if len({r.reference for r in emu.reports}) == REPORTS:
            return True
        clock.advance(0.5)
        return False
    try:
        wait_for(emitted, 15, "every report emitted")
    except AssertionError:
        raise AssertionError(f"reports emitted {emu.reports!r}; the network holds "
                             f"{emu.network.pending_for(emu.msisdn)}; modem power {emu.power}, "
                             f"PWRKEY presses {emu.pwrkey_presses}") from None
    clock.advance(5.0)                                # CSMS=1: no AT+CNMA, routing off, SC retries
    for stack in build_stack(tmp_path, emu=emu, modem_config=config):
        def delivered() -> int:
            clock.advance(1.0)                        # the SC's retries, SR reads at start
            return sum(stack.state(mid).state is MessageState.DELIVERED for mid in ids)
        try:
            wait_for(lambda: delivered() == REPORTS, 10, "every report after the restart", interval=0.05)
        except AssertionError:
            pass
        lost = REPORTS - delivered()
        print(f"reports lost across restarts ({profile}, {modem_config or 'defaults'}, "
              f"{'kill -9' if kill else 'graceful stop'}): {lost} of {REPORTS}")
        return lost
    raise AssertionError("the restarted stack did not come up")


@pytest.mark.parametrize("kill", [False, True], ids=["graceful", "kill"])
@pytest.mark.parametrize("profile, modem_config", [
    pytest.param("sim7600", {}, id="sim7600-stored"),
    pytest.param("sim800", {}, id="sim800-defaults"),
    pytest.param("sim800", {"csms": 1}, id="sim800-csms1-redelivered"),
])
def test_reports_emitted_while_stopped_are_not_lost(tmp_path: Path, make_emu: Callable[..., EmulatedModem],
                                                    profile: str, modem_config: dict[str, Any], kill: bool) -> None:
    assert reports_lost_across_a_restart(tmp_path, make_emu, profile, modem_config, kill=kill) == 0


@pytest.mark.parametrize("kill", [False, True], ids=["graceful", "kill"])
def test_reports_lost_across_restarts_without_storage_or_redelivery(
        tmp_path: Path, make_emu: Callable[..., EmulatedModem], kill: bool) -> None:
    """SIM800 forced to CSMS 0: after a kill a +CDS nobody reads is gone (docs/modem.md says so);
    a graceful stop parks routing (CNMI mode 0 buffers), so nothing is lost there."""
    lost = reports_lost_across_a_restart(tmp_path, make_emu, "sim800", {"csms": 0}, kill=kill)
    assert lost == (REPORTS if kill else 0)


# --- item 3: a modem left in the "> " prompt by a crashed predecessor ---------------------------

def test_modem_left_in_the_prompt_is_ready_quickly_without_pwrkey(
        tmp_path: Path, make_emu: Callable[..., EmulatedModem]) -> None:
    emu = make_emu("sim800")
    predecessor = open_serial(emu.url, timeout=0.1)
    predecessor.write(b"AT\rATE0\rAT+CMGS=20\r")
    assert emu.wait_until(lambda: emu.in_prompt, 3)
    predecessor.close()                               # kill -9 between AT+CMGS and Ctrl-Z
    for stack in build_stack(tmp_path, emu=emu, ready_timeout=5):
        assert emu.pwrkey_presses == []
        stack.send("41790000301", "after the crash")
        sent_once(stack, "41790000301")
    assert emu.pwrkey_presses == []


# --- item 4: a report racing its own send -------------------------------------------------------

def test_report_racing_its_own_send_is_credited_to_its_own_message(tmp_path: Path) -> None:
    """A goes in doubt (the modem took it and never answered); B to the same number gets its
    report before its own ``+CMGS: <mr>`` (a fast SC). The report is B's, not the in-doubt A's,
    although no sent part has its TP-MR when it arrives (default policy: assume sent)."""
    number = "41790000401"
    for stack in build_stack(tmp_path):
        stack.net.set_outcome(f"*{number}", "delivered", delay=3600.0)   # only the racing report comes
        stack.emu.faults.in_doubt(1)
        a = stack.send(number, "A: taken, never answered")
        wait_for(lambda: stack.state(a).state is MessageState.SENT, 10, "A recorded sent in doubt")
        assert [p["mr"] for p in stack.store.message_parts(stack.state(a).pk)] == [None]
        stack.emu.faults.report_before_result(1)
        b = stack.send(number, "B: its report beats its +CMGS")
        assert stack.wait_final(b).state is MessageState.DELIVERED
        assert [r.routed for r in stack.emu.reports] == ["+CDS"]
        assert [s.mr for s in stack.sent_to(number)] == [0, 1]
        assert stack.state(a).state is MessageState.SENT    # not DELIVERED by B's report
        assert stack.store.pending_reports() == 0


# --- item 5: inbound duplicates -----------------------------------------------------------------

def sim_empty(emu: EmulatedModem) -> bool:
    return not any(emu.storage.all_messages().values())


def inbox_after_the_reassembly_timeout(stack: Stack) -> list[Any]:
    """Every stored inbound message once incomplete groups were flushed: the reassembly time-out
    (an hour by default) is taken as passed, and housekeeping runs its round."""
    stack.runtime.inbound.config = replace(stack.runtime.inbound.config, reassembly_timeout=0.0)
    stack.runtime.housekeeping.run_once()
    return stack.gateway.inbox(stack.account)


def test_part_redelivered_after_assembly_is_stored_once(tmp_path: Path) -> None:
    for stack in build_stack(tmp_path):
        text = "a long message, " * 12
        stack.emu.inject_sms("+41791234567", text)
        [first] = wait_for(lambda: stack.store.inbound_logs(), 10, "the assembled message")
        wait_for(lambda: sim_empty(stack.emu), 10, "the SIM emptied")
        stack.emu.faults.redeliver(1)
        wait_for(lambda: len(stack.emu.received) == 3, 10, "the redelivered part")
        wait_for(lambda: sim_empty(stack.emu), 10, "the redelivered part taken off the SIM")
        inbox = inbox_after_the_reassembly_timeout(stack)
        assert [(m.message_id, m.text) for m in inbox] == [(first.message_id, text)]
        assert len(stack.store.inbound_logs()) == 1


def test_identical_single_sms_delivered_twice_is_stored_once(tmp_path: Path) -> None:
    for stack in build_stack(tmp_path):
        stack.emu.inject_sms("+41791234567", "only once, please")
        wait_for(lambda: stack.store.inbound_logs(), 10, "the message")
        wait_for(lambda: sim_empty(stack.emu), 10, "the SIM emptied")
        stack.emu.faults.redeliver()
        wait_for(lambda: len(stack.emu.received) == 2, 10, "the redelivery")
        wait_for(lambda: sim_empty(stack.emu), 10, "the redelivery taken off the SIM")
        inbox = inbox_after_the_reassembly_timeout(stack)
        assert [m.text for m in inbox] == ["only once, please"]
        assert len(stack.store.inbound_logs()) == 1


# --- item 6: slow to notice ---------------------------------------------------------------------

def test_port_that_appears_after_start_is_picked_up_quickly(
        tmp_path: Path, make_emu: Callable[..., EmulatedModem]) -> None:
    emu = make_emu("sim800")
    emu.faults.unplug(1.0)                            # not openable when the gateway starts
    for stack in build_stack(tmp_path, emu=emu, modem_config={"retry_interval": 60.0}, ready_timeout=8):
        stack.send("41790000601", "the port is here now")
        sent_once(stack, "41790000601")


@pytest.mark.parametrize("profile, ipr, health_interval", [
    ("sim7600", None, 30.0),   # RDY ... PB DONE: the reboot is an event, no poll needed
    ("sim800", 115200, 30.0),  # a fixed rate: RDY as well
    ("sim800", None, 1.0),     # autobaud: silent until spoken to, so the health poll finds it
])
def test_modem_swapped_under_a_running_gateway_is_noticed(
        tmp_path: Path, make_emu: Callable[..., EmulatedModem], profile: str, ipr: int | None,
        health_interval: float) -> None:
    emu = make_emu(profile, ipr=ipr)
    config = driver_profile(emu) | {"health_interval": health_interval}
    for stack in build_stack(tmp_path, emu=emu, modem_config=config):
        assert stack.modem.health().imei == emu.identity["imei"]
        emu.faults.swap()
        wait_for(lambda: stack.modem.health().imei == emu.identity["imei"]
                 and stack.modem.health().imsi == emu.identity["imsi"], health_interval + 5,
                 "the new modem's identity in the health")
        wait_for(lambda: stack.modem.ready, 10, "the new modem in service")
        stack.send("41790000602", "through the new modem")
        sent_once(stack, "41790000602")


def test_sms_that_could_not_be_stored_is_retried_soon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.errors import StoreError
    for stack in build_stack(tmp_path):
        assert stack.modem.settings.rescan_interval_s >= 600
        handle = stack.runtime.inbound.handle_pdu
        failures: list[str] = []

        def locked_once(pdu: str) -> Any:
            if not failures:
                failures.append(pdu)
                raise StoreError("database is locked")
            return handle(pdu)
        monkeypatch.setattr(stack.runtime.inbound, "handle_pdu", locked_once)
        stack.emu.inject_sms("+41791234567", "store me when you can")
        wait_for(lambda: failures, 10, "the failed hand-over")
        assert not sim_empty(stack.emu)               # safely on the SIM meanwhile
        [rec] = wait_for(lambda: stack.store.inbound_logs(), 5, "the retried hand-over")
        assert rec.text == "store me when you can"
        wait_for(lambda: sim_empty(stack.emu), 10, "the SIM emptied")
