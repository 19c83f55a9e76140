"""API accounts: one policy for user names and passwords, whoever asks (API, CLI, demo).

Why a module of its own: the CLI used to reach past the service into the store, so
``simgate user passwd alice --password x`` stored a one-letter password that ``user add`` would
have refused. Every path that creates an account or sets a password goes through ``Accounts``,
and ``Accounts`` checks ``PasswordPolicy`` before anything is hashed or written.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Protocol, Sequence

from gateway.auth import DEFAULT_HASHER, MAX_PASSWORD, MAX_USERNAME, PasswordHasher
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.errors import UnknownAccountError, ValidationError
from gateway.logsafe import shown

log = logging.getLogger(__name__)

USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,%d}" % MAX_USERNAME)


@dataclass(frozen=True)
class Account:
    """An authenticated caller: what the service and the dialects pass around."""

    id: int
    username: str


@dataclass(frozen=True)
class PasswordPolicy:
    """What a password must be. Generated passwords (``new_password``) always satisfy it."""

    min_length: int = 8
    max_length: int = MAX_PASSWORD  # the login guard refuses longer ones unchecked

    def check(self, password: str) -> str:
        if len(password) < self.min_length:
            raise ValidationError(f"password: at least {self.min_length} characters", "password")
        if len(password) > self.max_length:
            raise ValidationError(f"password: at most {self.max_length} characters", "password")
        return password

    def new_password(self) -> str:
        return secrets.token_urlsafe(max(12, self.min_length))


def check_username(username: str | None) -> str:
    """The name when it is 1-64 letters, digits or ``_.@-`` (the whole name: fullmatch)."""
    if not username or not USERNAME.fullmatch(username):
        raise ValidationError(f"username: 1-{MAX_USERNAME} letters, digits or _.@-", "username")
    return username


class StoredAccount(Protocol):
    """An account row as the store returns it."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def password_hash(self) -> str: ...


class AccountStore(Protocol):
    """What account administration needs of the store.

    ``create_account`` raises ValidationError when the name exists; ``set_password`` and
    ``delete_account`` return False when there is no such account; each is one atomic write.
    """

    def create_account(self, username: str, password_hash: str, now: float) -> StoredAccount: ...

    def set_password(self, username: str, password_hash: str) -> bool: ...

    def delete_account(self, username: str) -> bool: ...

    def account(self, username: str) -> StoredAccount | None: ...

    def accounts(self) -> Sequence[StoredAccount]: ...


class Accounts:
    """Account administration. Passwords are returned only when this generated them."""

    def __init__(self, store: AccountStore, *, hasher: PasswordHasher = DEFAULT_HASHER,
                 clock: Clock = SYSTEM_CLOCK, policy: PasswordPolicy = PasswordPolicy()) -> None:
        self._store = store
        self.hasher = hasher
        self.policy = policy
        self._clock = clock

    def create(self, username: str, password: str | None = None) -> tuple[Account, str]:
        """The new account and its password (generated when ``password`` is None or empty)."""
        check_username(username)
        password = self.policy.check(password) if password else self.policy.new_password()
        rec = self._store.create_account(username, self.hasher.hash(password),
                                         self._clock.now().timestamp())
        log.info("account %s created", shown(username, 64))
        return Account(rec.id, rec.username), password

    def set_password(self, username: str, password: str | None = None) -> str:
        """The password now in force; UnknownAccountError when there is no such account."""
        check_username(username)
        password = self.policy.check(password) if password else self.policy.new_password()
        if not self._store.set_password(username, self.hasher.hash(password)):
            raise UnknownAccountError(f"no account {username!r}")
        log.info("password of account %s changed", shown(username, 64))
        return password

    def delete(self, username: str) -> None:
        if not self._store.delete_account(username):
            raise UnknownAccountError(f"no account {username!r}")
        log.info("account %s deleted", shown(username, 64))

    def find(self, username: str) -> Account | None:
        rec = self._store.account(username)
        return Account(rec.id, rec.username) if rec else None

    def names(self) -> list[str]:
        return [rec.username for rec in self._store.accounts()]

    def credentials(self, username: str) -> tuple[int, str] | None:
        """(account id, stored hash) for the login guard."""
        rec = self._store.account(username)
        return (rec.id, rec.password_hash) if rec else None
