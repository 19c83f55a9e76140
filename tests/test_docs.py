"""Docs that cannot rot: each of these fails when code grows something the docs do not name."""
from __future__ import annotations

import re
from pathlib import Path

from gateway.lifecycle import STATE_STATUS, MessageState

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_every_message_state_and_its_status_is_documented() -> None:
    text = (DOCS / "statuses.md").read_text()
    for state in MessageState:
        assert f"`{state.value}`" in text, state
        assert STATE_STATUS[state].name in text, state


def test_every_module_is_in_the_architecture_map() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "gateway").rglob("*.py"))
    missing = [m for m in modules if f"`{m}`" not in text]
    assert not missing, f"docs/architecture.md does not say who owns {missing}"
    named = set(re.findall(r"`(gateway/[\w/]+\.py)`", text))
    assert not named - set(modules), f"docs/architecture.md names modules that do not exist: {named - set(modules)}"
