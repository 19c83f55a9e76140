"""Fixtures shared by every test package."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"published test data not found at {SHARED_DATA} (it sits beside the clone in CI)")
    return SHARED_DATA


@pytest.fixture
def store(tmp_path: Path):
    from gateway.store import Store

    s = Store.open(tmp_path / "simgate.db")
    try:
        yield s
    finally:
        s.close()
