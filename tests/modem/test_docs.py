"""docs/modem.md cannot rot: every profile key, setting, state and +CMS code is documented."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gateway.modem.driver import ModemSettings
from gateway.modem.errors import cms_table
from gateway.modem.health import EventKind, ModemState
from gateway.modem.profiles import profile_keys

DOC = Path(__file__).resolve().parents[2] / "docs" / "modem.md"


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_every_profile_key_is_documented(doc):
    missing = [key for key in profile_keys() if f"| `{key}` |" not in doc]
    assert not missing


def test_every_setting_is_documented(doc):
    missing = [f.name for f in dataclasses.fields(ModemSettings) if f"| `{f.name}` |" not in doc]
    assert not missing


def test_every_state_and_event_kind_is_documented(doc):
    assert not [s.value for s in ModemState if s.value not in doc]
    assert not [k.value for k in EventKind if f"`{k.value}`" not in doc]


def test_cms_table_matches_the_code(doc):
    for code, info in cms_table().items():
        assert f"| {code} | {info.meaning} | {info.policy.value} |" in doc, code
