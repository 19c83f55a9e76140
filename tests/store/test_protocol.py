"""Every backend implements the whole documented contract, with the documented signatures."""
from __future__ import annotations

import inspect

import pytest

from gateway.store import Store
from gateway.store import protocol

ROLES = [protocol.AccountStorage, protocol.AcceptStorage, protocol.DispatchStorage, protocol.ReportStorage,
         protocol.InboundStorage, protocol.EventStorage, protocol.StorageHealth, protocol.Storage]
IMPLEMENTATIONS = [Store]


def _methods(proto: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for klass in proto.__mro__ if klass.__module__ == protocol.__name__
        for name, fn in vars(klass).items() if callable(fn) and not name.startswith("_")
    }


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.__name__)
def test_implementation_has_every_method_of_the_role(impl: type, role: type) -> None:
    for name, sig in _methods(role).items():
        assert hasattr(impl, name), f"{impl.__name__} lacks {role.__name__}.{name}"
        got = inspect.signature(getattr(impl, name))
        assert list(got.parameters) == list(sig.parameters), f"{name}: {got} != {sig}"
        for p, q in zip(got.parameters.values(), sig.parameters.values()):
            assert (p.kind, p.default) == (q.kind, q.default), f"{name}.{p.name}: {got} != {sig}"


def test_every_atomic_write_says_so() -> None:
    """The contract names what is atomic; a writing method without the word is a gap."""
    writes = {"create_account", "set_password", "delete_account", "insert_messages", "take_reports",
              "claim_next_part", "record_part_sent", "record_part_retry", "release_part", "fail_message",
              "expire_due", "recover_in_doubt", "apply_status_report", "add_raw_report", "insert_inbound", "add_inbound_part",
              "take_inbound", "add_modem_event", "prune"}
    methods = {name for role in ROLES for name in _methods(role)}
    assert writes <= methods
    for role in ROLES:
        for name in writes & set(vars(role)):
            assert "atomically" in (vars(role)[name].__doc__ or "").lower(), f"{role.__name__}.{name}"
