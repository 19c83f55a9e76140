"""API credentials: scrypt password hashes and a login guard.

Why a guard instead of sleeping: a sleeping request thread is a thread an attacker can take from
everyone else. What the guard promises, and why each part is there:

- **Throttled per (user name, client address)** by a token bucket: a client gets ``burst``
  password checks, then one more per refill interval. Attempts without a token are refused
  without checking, so guessing cannot go faster than the bucket, and a guesser elsewhere never
  locks the real user out (the old lock per user name did: one wrong password a second made an
  already logged-in user fail 107 of 120 requests). The token is taken *before* the check,
  under the lock, so 32 concurrent guesses get ``burst`` checks, not 32.
- **The login cache first**: a verified (name, stored hash, password) is remembered, and a hit
  is never throttled. The account is looked up on every request (one indexed read) and the
  cache key holds the stored hash, so a password changed or an account deleted by another
  process (the CLI, straight in the database) takes effect at the next request.
- **Bounded cost**: at most ``max_parallel`` scrypt runs at once (16 MiB each at the default
  cost), always on the same ``max_parallel`` checker threads: glibc keeps a freed buffer in the
  arena of the thread that allocated it, so checks spread over 16 request threads kept 16 x 16
  MiB resident (bench/hostile.py: 322 MiB after 16 concurrent wrong logins without
  ``MALLOC_ARENA_MAX``); an unknown user name costs one check against a dummy hash of the same cost, so timing
  does not tell which names exist; over-long names and passwords are refused unchecked; names
  are logged escaped and bounded (``gateway.logsafe``).
- **Bounded memory**: buckets and cache entries are evicted oldest first, never all at once.
"""
from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import os
import ipaddress
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from base64 import b64decode, b64encode
from dataclasses import dataclass
from typing import Callable

from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.errors import LoginBusyError
from gateway.logsafe import shown

log = logging.getLogger(__name__)

LOCK_MAX = 30.0  # seconds: the longest a throttled client waits for its next check
CACHE_TTL = 60.0  # seconds a verified login is remembered (a changed hash misses at once)
MAX_ENTRIES = 10_000  # buckets and cache entries each: bounded memory under a name spray
MAX_USERNAME = 64  # what Gateway.create_account allows
MAX_PASSWORD = 1024
BURST = 5  # password checks a (user, client) gets before the refill rate applies
MAX_PARALLEL = 2  # concurrent scrypt runs: 2 x 16 MiB at the default cost
BUSY_TIMEOUT = 5.0  # seconds a login waits for a free check slot before a 503


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


@dataclass(frozen=True)
class Bucket:
    """A token bucket's state: ``tokens`` left at monotonic time ``at``."""

    tokens: float
    at: float

    def refilled(self, now: float, rate: float, capacity: float) -> Bucket:
        return Bucket(min(capacity, self.tokens + max(0.0, now - self.at) * rate), now)


def client_key(address: str) -> str:
    """The throttle's notion of "one client": the address, or its /64 for IPv6.

    One IPv6 host commonly owns a whole /64; keyed per address it would get 2**64 buckets.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginGuard:
    """Checks a user name and password against ``lookup`` (name -> (account id, hash) or None).

    ``failure_delay`` sets the refill: after ``burst`` failed checks a (user, client) gets one
    check per ``failure_delay * 2**burst`` seconds (6.4 s at the default 0.2 s), at most
    ``LOCK_MAX``; 0 turns throttling off. A success refills the client's bucket.
    ``LoginBusyError`` when no check slot frees within ``busy_timeout`` seconds (nothing was
    checked and no token is spent).
    """

    def __init__(
        self,
        lookup: Callable[[str], tuple[int, str] | None],
        *,
        failure_delay: float,
        clock: Clock = SYSTEM_CLOCK,
        hasher: PasswordHasher = DEFAULT_HASHER,
        burst: int = BURST,
        max_parallel: int = MAX_PARALLEL,
        busy_timeout: float = BUSY_TIMEOUT,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._lookup = lookup
        self._clock = clock
        self._hasher = hasher
        self._burst = float(burst)
        refill = min(LOCK_MAX, failure_delay * 2**burst)
        self._rate = 1.0 / refill if refill > 0 else 0.0  # tokens per second; 0: no throttle
        self._busy_timeout = busy_timeout
        self._max_entries = max_entries
        self._max_parallel = max_parallel
        self._slots = threading.BoundedSemaphore(max_parallel)
        # Created lazily by the executor, ended when the guard is collected.
        self._checkers = ThreadPoolExecutor(max_parallel, thread_name_prefix="password-check")
        self._lock = threading.Lock()
        self._secret = os.urandom(32)  # cache keys are HMACs: no password digest in memory
        self._cache: OrderedDict[bytes, tuple[int, float]] = OrderedDict()
        self._buckets: OrderedDict[tuple[str, str], Bucket] = OrderedDict()
        # Checked for unknown names: same cost as a real hash, matches no password.
        self._dummy = "scrypt$%d$%d$%d$%s$%s" % (
            hasher.n, hasher.r, hasher.p, b64encode(os.urandom(16)).decode(),
            b64encode(os.urandom(32)).decode(),
        )

    def check(self, username: str, password: str, client: str = "") -> int | None:
        """The account id, or None (wrong, unknown, throttled or refused unchecked)."""
        if not username or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            log.warning("login refused unchecked: user name %s (%d characters) or password "
                        "(%d characters) too long or empty", shown(username, 64), len(username),
                        len(password))
            return None
        found = self._lookup(username)
        stored = found[1] if found is not None else self._dummy
        key = hmac.new(self._secret, "\0".join((username, stored, password)).encode(),
                       hashlib.sha256).digest()
        who = (username, client_key(client))
        now = self._clock.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and found is not None and hit[0] == found[0] and hit[1] > now:
                self._cache.move_to_end(key)
                return found[0]
            if not self._take_token(who, now):
                log.warning("login for %s from %s refused unchecked: throttled after %d "
                            "failures", shown(username, 64), shown(client, 64), int(self._burst))
                return None
        if not self._slots.acquire(timeout=self._busy_timeout):
            with self._lock:
                self._give_back(who, now)
            log.warning("login for %s from %s not checked: %d checks already running",
                        shown(username, 64), shown(client, 64), self._max_parallel)
            raise LoginBusyError("too many logins are being checked at once; retry in a moment")
        try:
            # The slot is held, so the pool never queues: this waits only for the hash itself.
            checked = self._checkers.submit(self._hasher.verify, password, stored).result()
            ok = checked and found is not None
        finally:
            self._slots.release()
        with self._lock:
            if ok:
                assert found is not None
                self._buckets.pop(who, None)
                self._cache[key] = (found[0], now + CACHE_TTL)
                self._cache.move_to_end(key)
                while len(self._cache) > self._max_entries:
                    self._cache.popitem(last=False)
                return found[0]
            left = self._buckets[who].tokens if who in self._buckets else self._burst
        log.warning("failed login for %s from %s (%s; %d checks left before throttling)",
                    shown(username, 64), shown(client, 64),
                    "no such user" if found is None else "wrong password", int(left))
        return None

    def _take_token(self, who: tuple[str, str], now: float) -> bool:
        """Under ``self._lock``: spend one token of ``who``'s bucket, or False if it is empty."""
        if self._rate == 0.0:
            return True
        bucket = self._buckets.get(who, Bucket(self._burst, now))
        bucket = bucket.refilled(now, self._rate, self._burst)
        if bucket.tokens < 1.0:
            self._buckets[who] = bucket
            self._buckets.move_to_end(who)  # in use: the last to be evicted
            return False
        self._buckets[who] = Bucket(bucket.tokens - 1.0, now)
        self._buckets.move_to_end(who)
        while len(self._buckets) > self._max_entries:
            self._buckets.popitem(last=False)  # the oldest, not every lock at once
        return True

    def _give_back(self, who: tuple[str, str], now: float) -> None:
        bucket = self._buckets.get(who)
        if bucket is not None:
            self._buckets[who] = Bucket(min(self._burst, bucket.tokens + 1.0), bucket.at)
