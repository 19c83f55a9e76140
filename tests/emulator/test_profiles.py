"""Model profiles: the documented SIM800 / SIM7600 differences are data."""
from __future__ import annotations

import pytest

from gateway.emulator.profiles import PROFILES, get_profile


def test_documented_differences() -> None:
    sim800, sim7600 = get_profile("sim800"), get_profile("SIM7600")
    assert (sim800.index_base, sim7600.index_base) == (1, 0)
    assert 2 not in sim800.cnmi_ranges[3] and 2 in sim7600.cnmi_ranges[3]
    assert (sim800.power_off_command, sim7600.power_off_command) == ("+CPOWD", "+CPOF")
    assert (sim800.ipr_default, sim7600.ipr_default) == (0, 115200)
    assert (sim800.cmee_default, sim7600.cmee_default) == (0, 2)
    assert not sim800.lte and sim7600.lte
    assert [b for _, b in sim7600.boot_banners] == ["RDY", "+CPIN: {cpin}", "SMS DONE", "PB DONE"]
    assert get_profile("sim800c").power_down_urc == "NORMAL POWER OFF"


@pytest.mark.parametrize("profile", sorted(PROFILES.values(), key=lambda p: p.name),
                         ids=lambda p: p.name)
def test_profiles_are_consistent(profile) -> None:  # type: ignore[no-untyped-def]
    fractions = [f for f, _ in profile.boot_banners]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert set(dict(profile.capacity)) == set(profile.memories)
    assert all(target in profile.memories for _, target in profile.memory_aliases)
    assert all(profile.cnmi_default[i] in profile.cnmi_ranges[i] for i in range(5))


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown modem profile"):
        get_profile("sim900")
