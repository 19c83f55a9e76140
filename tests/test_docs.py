"""Docs that cannot rot: each of these fails when code grows something the docs do not name."""
from __future__ import annotations

from pathlib import Path

from gateway.lifecycle import STATE_STATUS, MessageState

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_message_state_and_its_status_is_documented() -> None:
    text = (DOCS / "statuses.md").read_text()
    for state in MessageState:
        assert f"`{state.value}`" in text, state
        assert STATE_STATUS[state].name in text, state
