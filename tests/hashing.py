"""The password hasher every test fixture uses.

Why cheap: the production cost (scrypt n=2**14, r=8: ~50 ms and 16 MiB per hash) is there to slow
attackers; fixtures hashing two accounts per test spent ~23 s of the suite on it. A hash records
its own cost, so cheap hashes verify through the same code as dear ones.
"""
from __future__ import annotations

from gateway.auth import PasswordHasher

CHEAP_HASHER = PasswordHasher(n=16, r=1, p=1)
