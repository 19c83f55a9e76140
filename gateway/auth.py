"""API credentials: scrypt password hashes and a login guard.

Why a guard instead of sleeping: a sleeping request thread is a thread an attacker can take from
everyone else. Here a user name is locked after a failed login for a delay that doubles with
each failure in a row; attempts inside the lock are refused without checking the password, so
guessing cannot go faster than the lock and no thread waits. Verified logins are cached for a
short time (scrypt costs ~50 ms by design) and expire, so a password changed or an account
deleted from the CLI stops working within ``CACHE_TTL`` seconds.
"""
from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import os
import threading
from base64 import b64decode, b64encode
from dataclasses import dataclass
from typing import Callable

from gateway.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)

LOCK_MAX = 30.0  # seconds
CACHE_TTL = 60.0  # seconds
_MAX_ENTRIES = 10_000  # bounded memory under a spray of user names


@dataclass(frozen=True)
class PasswordHasher:
    """scrypt with its cost as a value, so tests can make it cheap and production keeps it dear.

    The parameters are written into every hash (``scrypt$n$r$p$salt$digest``), so a hash made
    with one cost verifies under any hasher: changing the cost never locks an account out. The
    older form ``scrypt$salt$digest`` is read with the default cost (n=2**14, r=8, p=1).
    Memory per check is 128 * n * r bytes (16 MiB at the default).
    """

    n: int = 2**14
    r: int = 8
    p: int = 1

    def hash(self, password: str) -> str:
        salt = os.urandom(16)
        digest = self._scrypt(password, salt, self.n, self.r, self.p)
        return "scrypt$%d$%d$%d$%s$%s" % (
            self.n, self.r, self.p, b64encode(salt).decode(), b64encode(digest).decode()
        )

    def verify(self, password: str, stored: str) -> bool:
        fields = stored.split("$")
        try:
            if len(fields) == 3 and fields[0] == "scrypt":
                n, r, p = DEFAULT_HASHER.n, DEFAULT_HASHER.r, DEFAULT_HASHER.p
                salt, digest = b64decode(fields[1]), b64decode(fields[2])
            elif len(fields) == 6 and fields[0] == "scrypt":
                n, r, p = int(fields[1]), int(fields[2]), int(fields[3])
                salt, digest = b64decode(fields[4]), b64decode(fields[5])
            else:
                return False
        except (ValueError, binascii.Error):
            return False
        if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            return False  # a stored hash is not allowed to make us allocate without bound
        candidate = self._scrypt(password, salt, n, r, p)
        return hmac.compare_digest(candidate, digest)

    @staticmethod
    def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        maxmem = 128 * n * r * p + 1024 * 1024
        return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=32)


DEFAULT_HASHER = PasswordHasher()


def hash_password(password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(password)


def verify_password(password: str, stored: str, hasher: PasswordHasher = DEFAULT_HASHER) -> bool:
    return hasher.verify(password, stored)


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
