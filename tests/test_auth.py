from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import pytest

from gateway.auth import (
    BURST,
    LOCK_MAX,
    MAX_USERNAME,
    LoginGuard,
    PasswordHasher,
    client_key,
    hash_password,
    verify_password,
)
from gateway.clock import ManualClock
from gateway.errors import AuthError, LoginBusyError

CHEAP = PasswordHasher(n=16, r=1, p=1)
DELAY = 0.2
REFILL = DELAY * 2**BURST  # 6.4 s


def test_password_hashes() -> None:
    h = hash_password("s3cret-pass")
    assert h.startswith("scrypt$") and "s3cret" not in h
    assert verify_password("s3cret-pass", h)
    assert not verify_password("wrong", h)
    assert not verify_password("x", "garbage")
    assert not verify_password("x", "md5$a$b")


def test_hash_cost_is_injectable_and_travels_with_the_hash() -> None:
    from gateway.auth import DEFAULT_HASHER

    stored = CHEAP.hash("pa55word!")
    assert stored.startswith("scrypt$16$1$1$")
    assert DEFAULT_HASHER.verify("pa55word!", stored)  # cost read from the hash, not the hasher
    assert not DEFAULT_HASHER.verify("pa55word?", stored)
    assert not CHEAP.verify("pa55word!", "scrypt$1048577$8$1$AA==$AA==")  # absurd cost refused


@dataclass(frozen=True)
class CountingHasher(PasswordHasher):
    """Records every check (the stored hash it was given) and can hold checks at a gate."""

    calls: list[str] = field(default_factory=list, compare=False, hash=False)
    gate: threading.Event | None = field(default=None, compare=False, hash=False)
    inside: list[int] = field(default_factory=lambda: [0, 0], compare=False, hash=False)  # now, max
    cond: threading.Condition = field(default_factory=threading.Condition, compare=False, hash=False)

    def verify(self, password: str, stored: str) -> bool:
        with self.cond:
            self.calls.append(stored)
            self.inside[0] += 1
            self.inside[1] = max(self.inside[1], self.inside[0])
            self.cond.notify_all()
        try:
            if self.gate is not None:
                assert self.gate.wait(10), "test gate never opened"
            return super().verify(password, stored)
        finally:
            with self.cond:
                self.inside[0] -= 1
                self.cond.notify_all()


def _guard(accounts: dict[str, tuple[int, str]], clock: ManualClock, **kw: object) -> LoginGuard:
    kw.setdefault("hasher", CHEAP)
    return LoginGuard(accounts.get, failure_delay=DELAY, clock=clock, **kw)  # type: ignore[arg-type]


def test_login_throttling_is_a_token_bucket_per_user_and_client() -> None:
    clock = ManualClock()
    g = _guard({"alice": (1, CHEAP.hash("alice-password"))}, clock)
    for _ in range(BURST):
        assert g.check("alice", "wrong", "10.0.0.9") is None
    assert g.check("alice", "alice-password", "10.0.0.9") is None  # no token: refused unchecked
    clock.advance(REFILL - 0.01)
    assert g.check("alice", "alice-password", "10.0.0.9") is None
    clock.advance(0.02)  # one token back
    assert g.check("alice", "alice-password", "10.0.0.9") == 1  # success refills the bucket
    for _ in range(BURST):
        assert g.check("alice", "wrong", "10.0.0.9") is None
    assert g.check("alice", "wrong", "10.0.0.9") is None


def test_login_throttling_never_refuses_the_real_user_because_someone_else_failed() -> None:
    clock = ManualClock()
    g = _guard({"alice": (1, CHEAP.hash("alice-password"))}, clock)
    assert g.check("alice", "alice-password", "192.168.1.10") == 1  # logged in, cached
    for _ in range(50):  # a guesser elsewhere, one per second
        g.check("alice", "guess", "192.168.1.66")
        clock.advance(1)
        assert g.check("alice", "alice-password", "192.168.1.10") == 1  # cache checked first
    fresh = _guard({"alice": (1, CHEAP.hash("alice-password"))}, clock)
    for _ in range(20):
        fresh.check("alice", "guess", "192.168.1.66")
    assert fresh.check("alice", "alice-password", "192.168.1.10") == 1  # not cached: own bucket


def test_login_throttling_wait_is_capped() -> None:
    clock = ManualClock()
    g = LoginGuard({}.get, failure_delay=10.0, clock=clock, hasher=CHEAP)  # 10 * 2**5 > cap
    for _ in range(BURST + 3):
        g.check("mallory", "guess", "10.0.0.1")
    calls = CountingHasher(n=16, r=1, p=1)
    g._hasher = calls  # type: ignore[misc]
    g.check("mallory", "guess", "10.0.0.1")
    assert calls.calls == []
    clock.advance(LOCK_MAX + 0.01)
    g.check("mallory", "guess", "10.0.0.1")
    assert len(calls.calls) == 1  # never throttled longer than LOCK_MAX


def test_login_throttling_off_with_zero_delay() -> None:
    clock = ManualClock()
    g = LoginGuard({"a": (1, CHEAP.hash("pw-pw-pw-pw"))}.get, failure_delay=0.0, clock=clock)
    for _ in range(50):
        assert g.check("a", "wrong", "x") is None
    assert g.check("a", "pw-pw-pw-pw", "x") == 1


def test_login_throttling_counter_is_race_free_under_32_concurrent_guesses() -> None:
    clock = ManualClock()
    hasher = CountingHasher(n=16, r=1, p=1, gate=threading.Event())
    g = _guard({"alice": (1, CHEAP.hash("alice-password"))}, clock, hasher=hasher, max_parallel=32)
    refused: list[int] = []
    done = threading.Condition()

    def guess() -> None:
        result = g.check("alice", "wrong", "10.0.0.66")
        with done:
            refused.append(1 if result is None else 0)
            done.notify_all()

    threads = [threading.Thread(target=guess) for _ in range(32)]
    for t in threads:
        t.start()
    with done:  # everyone has either been refused unchecked or is held inside a check
        assert done.wait_for(lambda: len(refused) + hasher.inside[0] == 32, timeout=10)
    assert hasher.inside[0] == BURST
    hasher.gate.set()  # type: ignore[union-attr]
    for t in threads:
        t.join(10)
    assert len(hasher.calls) == BURST and sum(refused) == 32


def test_login_throttling_a_spray_of_names_does_not_wipe_every_lock() -> None:
    clock = ManualClock()
    g = _guard({"alice": (1, CHEAP.hash("alice-password"))}, clock, max_entries=1000)
    for _ in range(BURST):
        g.check("alice", "guess", "10.0.0.66")
    for i in range(1050):  # made-up names: more than the table holds
        g.check(f"user{i}", "guess", "10.0.0.66")
        if i == 500:
            g.check("alice", "guess", "10.0.0.66")  # the attacker keeps at it: still recent
    calls = CountingHasher(n=16, r=1, p=1)
    g._hasher = calls  # type: ignore[misc]
    assert g.check("alice", "alice-password", "10.0.0.66") is None
    assert calls.calls == []
    for i in range(1000, 1050):  # the newest buckets are all still there, one token spent
        for _ in range(BURST):
            g.check(f"user{i}", "guess", "10.0.0.66")
    assert len(calls.calls) == 50 * (BURST - 1) and len(g._buckets) <= 1000


def test_login_password_change_takes_effect_at_once() -> None:
    clock = ManualClock()
    accounts = {"bob": (2, CHEAP.hash("old-password"))}
    g = _guard(accounts, clock)
    assert g.check("bob", "old-password", "c") == 2
    accounts["bob"] = (2, CHEAP.hash("new-password"))  # `simgate user passwd` elsewhere
    assert g.check("bob", "old-password", "c") is None  # the cache holds the old hash: a miss
    assert g.check("bob", "new-password", "c") == 2


def test_login_deleted_account_stops_working_at_once() -> None:
    clock = ManualClock()
    accounts = {"carol": (3, CHEAP.hash("carol-password"))}
    g = _guard(accounts, clock)
    assert g.check("carol", "carol-password", "c") == 3
    del accounts["carol"]
    assert g.check("carol", "carol-password", "c") is None


def test_login_cache_hits_skip_the_hash_and_expire() -> None:
    clock = ManualClock()
    hasher = CountingHasher(n=16, r=1, p=1)
    g = _guard({"dave": (4, CHEAP.hash("dave-password"))}, clock, hasher=hasher)
    for _ in range(5):
        assert g.check("dave", "dave-password", "c") == 4
    assert len(hasher.calls) == 1
    clock.advance(3600)
    assert g.check("dave", "dave-password", "c") == 4
    assert len(hasher.calls) == 2


def test_login_unknown_user_costs_a_dummy_hash_of_the_same_cost() -> None:
    clock = ManualClock()
    hasher = CountingHasher(n=32, r=2, p=1)
    g = _guard({"erin": (5, hasher.hash("erin-password"))}, clock, hasher=hasher)
    assert g.check("erin", "wrong", "c") is None
    assert g.check("nobody", "wrong", "c") is None
    assert g.check("nobody", "", "c") is None
    known, unknown, empty = hasher.calls
    assert unknown.split("$")[:4] == known.split("$")[:4] == ["scrypt", "32", "2", "1"]
    assert empty == unknown


def test_login_hash_checks_are_bounded_in_parallel() -> None:
    clock = ManualClock()
    hasher = CountingHasher(n=16, r=1, p=1, gate=threading.Event())
    g = _guard({}, clock, hasher=hasher, max_parallel=2, busy_timeout=10)
    threads = [threading.Thread(target=g.check, args=(f"u{i}", "wrong", "c")) for i in range(16)]
    for t in threads:
        t.start()
    with hasher.cond:
        assert hasher.cond.wait_for(lambda: hasher.inside[0] == 2, timeout=10)
        # Proving a negative needs a deadline: a third check would have entered by now.
        assert not hasher.cond.wait_for(lambda: hasher.inside[0] > 2, timeout=0.3)
    hasher.gate.set()  # type: ignore[union-attr]
    for t in threads:
        t.join(10)
    assert len(hasher.calls) == 16 and hasher.inside[1] == 2


def test_login_busy_is_an_auth_error_and_spends_no_token() -> None:
    clock = ManualClock()
    hasher = CountingHasher(n=16, r=1, p=1, gate=threading.Event())
    g = _guard({"f": (6, CHEAP.hash("f-password"))}, clock, hasher=hasher, max_parallel=1,
               busy_timeout=0)
    holder = threading.Thread(target=g.check, args=("other", "x", "c"))
    holder.start()
    with hasher.cond:
        assert hasher.cond.wait_for(lambda: hasher.inside[0] == 1, timeout=10)
    for _ in range(BURST + 2):
        with pytest.raises(LoginBusyError) as info:
            g.check("f", "f-password", "c")
        assert isinstance(info.value, AuthError)
    hasher.gate.set()  # type: ignore[union-attr]
    holder.join(10)
    assert g.check("f", "f-password", "c") == 6  # the busy refusals cost no token


def test_login_names_over_the_cap_are_refused_unchecked_and_logged_bounded(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    hasher = CountingHasher(n=16, r=1, p=1)
    name = "a" * MAX_USERNAME
    g = _guard({name: (7, CHEAP.hash("g-password"))}, clock, hasher=hasher)
    assert g.check(name, "g-password", "c") == 7
    with caplog.at_level(logging.WARNING, logger="gateway.auth"):
        assert g.check("x\n" * 95_000, "pw", "c") is None  # 190 KB
        assert g.check("mallory\nINFO forged line", "pw", "c\r\n") is None
    assert len(hasher.calls) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert all(len(m) < 600 and "\n" not in m and "\r" not in m for m in messages), messages


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.7", "192.0.2.7"), ("2001:db8::1", "2001:db8::/64"),
    ("2001:db8:0:0:ffff::9", "2001:db8::/64"), ("::ffff:192.0.2.7", "192.0.2.7"), ("", ""),
    ("not an address", "not an address"),
])
def test_client_key_groups_an_ipv6_host_by_its_64(address: str, key: str) -> None:
    assert client_key(address) == key


def test_login_hashes_run_on_at_most_max_parallel_threads() -> None:
    """Each thread that runs scrypt keeps its 16 MiB in its own malloc arena: 16 request
    threads checking passwords kept 16 x 16 MiB resident (bench/hostile.py)."""
    clock = ManualClock()
    hasher = CountingHasher(n=16, r=1, p=1)
    seen: set[tuple[int, str]] = set()
    lock = threading.Lock()
    original = hasher.verify

    def verify(password: str, stored: str) -> bool:
        with lock:
            seen.add((threading.get_ident(), threading.current_thread().name))
        return original(password, stored)

    object.__setattr__(hasher, "verify", verify)
    g = _guard({}, clock, hasher=hasher, max_parallel=2, busy_timeout=10)
    callers = [threading.Thread(target=g.check, args=(f"u{i}", "wrong", "c")) for i in range(16)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(10)
    assert len(hasher.calls) == 16
    assert 1 <= len(seen) <= 2
    assert all(name.startswith("password-check") for _ident, name in seen)
