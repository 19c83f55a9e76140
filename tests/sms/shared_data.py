"""Access to the third-party vectors in <repo>/../shared/data (never copied into the project)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def load(name: str) -> dict[str, Any] | None:
    path = DATA / name
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def params(name: str, select: Any) -> list[Any]:
    """pytest params for the vectors of ``name`` that ``select`` accepts, ids = vector ids;
    a single skipping param when the shared data directory is absent."""
    data = load(name)
    if data is None:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"{DATA / name} is absent (shared test data not checked out)"))]
    return [pytest.param(v, id=str(v["id"])) for v in data["vectors"] if select(v)]
