"""Issue 9: the field defects of a real-behaving SIM800 / SIM7600, whole stack.

Each test drives the gateway as ``simgate run`` assembles it (``build_stack`` of
test_gateway_faults, i.e. ``gateway.runtime.assemble``) against an emulator fault that models one
behaviour of real modems. A test marked ``xfail(strict=True)`` fails on the driver of its day:
the marker names what the driver must do, and goes when the fix lands.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from gateway.emulator import EmulatedModem, Timing, VirtualNetwork
from gateway.lifecycle import MessageState
from tests.integration.conftest import wait_for
from tests.integration.test_gateway_faults import Stack, build_stack

_names = itertools.count()


def make_emu(profile: str = "sim800", *, timing: Timing | None = None, **kwargs: Any) -> EmulatedModem:
    return EmulatedModem(profile=profile, msisdn="+447700900001", network=VirtualNetwork(),
                         timing=timing or Timing.fast(), name=f"field{next(_names)}", **kwargs)


def driver_profile(emu: EmulatedModem) -> dict[str, Any]:
    return {"profile": "waveshare-sim7600" if emu.profile.name == "sim7600" else "waveshare-sim800"}


def sent_once(stack: Stack, number: str, timeout: float = 5) -> None:
    """Exactly one SMS to ``number`` reached the emulated network, and its message finished."""
    wait_for(lambda: stack.sent_to(number), timeout, f"an SMS to {number} on the network")
    assert len(stack.sent_to(number)) == 1


# --- item 1: a reboot between the "> " prompt and Ctrl-Z ---------------------------------------

@pytest.mark.parametrize("profile, banners", [("sim800", "after"), ("sim800", "before"), ("sim7600", "after")])
def test_reset_inside_the_prompt_loses_no_message(tmp_path: Path, profile: str, banners: str) -> None:
    emu = make_emu(profile, ipr=115200)   # a fixed rate: the rebooted SIM800 says RDY and echoes
    for stack in build_stack(tmp_path, emu=emu, modem_config=driver_profile(emu)):
        emu.faults.reset_in_prompt(banners)
        mid = stack.send("41790000101", "brown-out at the prompt")
        sent_once(stack, "41790000101")
        assert stack.wait_final(mid).state is MessageState.DELIVERED
        assert len(stack.sent_to("41790000101")) == 1


def test_reset_right_after_ctrl_z_sends_once(tmp_path: Path) -> None:
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
