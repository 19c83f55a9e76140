"""Timing presets: fast is all zero, demo reports within about a second, real is realistic."""
from __future__ import annotations

import pytest

from gateway.emulator import Timing


def test_fast_is_zero() -> None:
    fast = Timing.fast()
    assert (fast.command_latency, fast.prompt_delay, fast.cmgs_latency, fast.network_delay,
            fast.report_delay, fast.boot_time, fast.pwrkey_min, fast.baud) == (
        0, 0, 0, 0, 0, 0, 0, None)


def test_demo_reports_within_a_second() -> None:
    demo = Timing.demo()
    assert demo.cmgs_latency + demo.report_delay <= 1.0
    assert demo.boot_time and demo.boot_time <= 1.0


def test_real_is_close_to_the_hardware() -> None:
    real = Timing.real()
    assert real.cmgs_latency == 2.0 and real.cmgs_jitter == 6.0   # 2-8 s, HARDWARE.md section 5
    assert real.baud == 115200 and real.boot_time is None
    assert real.pwrkey_min == 1.0 and real.pwrkey_repower == 33.0


def test_replace_and_named() -> None:
    assert Timing.fast().replace(cmgs_latency=2.5).cmgs_latency == 2.5
    assert Timing.named("demo") == Timing.demo()
    with pytest.raises(ValueError, match="unknown timing"):
        Timing.named("slow")
