"""The backends the storage contract suite runs against.

Every test in ``tests/store/test_contract*.py`` takes ``store`` (an open, started storage) or
``reopen`` (open the same storage again, as a restarted gateway would). To run the suite on a
new backend, add a ``Backend`` to ``BACKENDS``: its ``open`` gets a per-test directory and
returns a started ``Storage`` whose data lives there (or in a database named after it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from gateway.store import Store
from gateway.store.protocol import Storage


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[Path], Storage]


def _sqlite(where: Path) -> Storage:
    return Store.open(where / "simgate.db")


BACKENDS = (Backend("sqlite", _sqlite),)


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def reopen(backend: Backend, tmp_path: Path) -> Callable[[], Storage]:
    return lambda: backend.open(tmp_path)


@pytest.fixture
def store(reopen: Callable[[], Storage]) -> Iterator[Storage]:
    s = reopen()
    try:
        yield s
    finally:
        s.close()
