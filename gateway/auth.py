"""API credentials: scrypt password hashes and a login guard.

Why a guard instead of sleeping: a sleeping request thread is a thread an attacker can take from
everyone else. Here a user name is locked after a failed login for a delay that doubles with
each failure in a row; attempts inside the lock are refused without checking the password, so
guessing cannot go faster than the lock and no thread waits. Verified logins are cached for a
short time (scrypt costs ~50 ms by design) and expire, so a password changed or an account
deleted from the CLI stops working within ``CACHE_TTL`` seconds.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from base64 import b64decode, b64encode
from typing import Callable

from gateway.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

_SCRYPT = dict(n=2**14, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32)
LOCK_MAX = 30.0  # seconds
CACHE_TTL = 60.0  # seconds
_MAX_ENTRIES = 10_000  # bounded memory under a spray of user names


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return "scrypt$%s$%s" % (b64encode(salt).decode(), b64encode(digest).decode())


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(candidate, b64decode(digest))


class LoginGuard:
    """Checks a user name and password against ``lookup`` (name -> (account id, hash) or None)."""

    def __init__(
        self,
        lookup: Callable[[str], tuple[int, str] | None],
        *,
        failure_delay: float,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._lookup = lookup
        self._failure_delay = failure_delay
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[int, float]] = {}
        self._failures: dict[str, tuple[int, float]] = {}

    def check(self, username: str, password: str) -> int | None:
        """The account id, or None (wrong, unknown, or locked)."""
        now = self._clock.monotonic()
        key = (username, hashlib.sha256(password.encode()).hexdigest())
        with self._lock:
            failures, locked_until = self._failures.get(username, (0, 0.0))
            cached = self._cache.get(key)
        if now < locked_until:
            log.warning("login for %r refused: locked for %.1f s after %d failures", username, locked_until - now, failures)
            return None
        if cached is not None and cached[1] > now:
            return cached[0]
        found = self._lookup(username)
        if found is not None and verify_password(password, found[1]):
            with self._lock:
                self._failures.pop(username, None)
                if len(self._cache) > _MAX_ENTRIES:
                    self._cache.clear()
                self._cache[key] = (found[0], now + CACHE_TTL)
            return found[0]
        delay = min(LOCK_MAX, self._failure_delay * 2**failures)
        with self._lock:
            self._cache.pop(key, None)
            if len(self._failures) > _MAX_ENTRIES:
                self._failures.clear()
            self._failures[username] = (failures + 1, now + delay)
        log.warning("failed login for %r (%d in a row); locked for %.1f s", username, failures + 1, delay)
        return None
