from __future__ import annotations

from gateway.auth import CACHE_TTL, LoginGuard, hash_password, verify_password
from gateway.clock import ManualClock


def test_password_hashes() -> None:
    h = hash_password("s3cret-pass")
    assert h.startswith("scrypt$") and "s3cret" not in h
    assert verify_password("s3cret-pass", h)
    assert not verify_password("wrong", h)
    assert not verify_password("x", "garbage")
    assert not verify_password("x", "md5$a$b")


def _guard(accounts: dict[str, tuple[int, str]], clock: ManualClock) -> LoginGuard:
    return LoginGuard(accounts.get, failure_delay=0.2, clock=clock)


def test_failed_logins_lock_the_name_with_a_doubling_delay() -> None:
    clock = ManualClock()
    g = _guard({"alice": (1, hash_password("alice-password"))}, clock)
    assert g.check("alice", "wrong") is None  # locked 0.2 s
    assert g.check("alice", "alice-password") is None  # refused unchecked inside the lock
    clock.advance(0.21)
    assert g.check("alice", "wrong") is None  # second failure: locked 0.4 s
    clock.advance(0.3)
    assert g.check("alice", "alice-password") is None
    clock.advance(0.11)
    assert g.check("alice", "alice-password") == 1  # success clears the count
    assert g.check("alice", "wrong") is None
    clock.advance(0.21)
    assert g.check("alice", "alice-password") == 1


def test_lock_is_capped() -> None:
    clock = ManualClock()
    g = _guard({}, clock)
    for _ in range(20):
        g.check("mallory", "guess")
        clock.advance(31)
    assert g.check("mallory", "guess") is None
    clock.advance(30.01)
    g.check("mallory", "guess")  # never locked longer than 30 s


def test_cached_login_expires_so_a_changed_password_stops_working() -> None:
    clock = ManualClock()
    accounts = {"bob": (2, hash_password("old-password"))}
    g = _guard(accounts, clock)
    assert g.check("bob", "old-password") == 2
    accounts["bob"] = (2, hash_password("new-password"))  # `simgate user passwd` elsewhere
    assert g.check("bob", "old-password") == 2  # still cached
    clock.advance(CACHE_TTL + 1)
    assert g.check("bob", "old-password") is None
    clock.advance(1)
    assert g.check("bob", "new-password") == 2


def test_deleted_account_stops_working_after_the_cache() -> None:
    clock = ManualClock()
    accounts = {"carol": (3, hash_password("carol-password"))}
    g = _guard(accounts, clock)
    assert g.check("carol", "carol-password") == 3
    del accounts["carol"]
    clock.advance(CACHE_TTL + 1)
    assert g.check("carol", "carol-password") is None


def test_hash_cost_is_injectable_and_travels_with_the_hash():
    from gateway.auth import DEFAULT_HASHER, PasswordHasher

    cheap = PasswordHasher(n=16, r=1, p=1)
    stored = cheap.hash("pa55word!")
    assert stored.startswith("scrypt$16$1$1$")
    assert DEFAULT_HASHER.verify("pa55word!", stored)  # cost read from the hash, not the hasher
    assert not DEFAULT_HASHER.verify("pa55word?", stored)
    assert not cheap.verify("pa55word!", "scrypt$1048577$8$1$AA==$AA==")  # absurd cost refused
