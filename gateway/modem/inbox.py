"""Stored SMS and status reports: read, hand to the listener, delete only afterwards.

The SIM is the safe place for a message until the listener has committed it; so a listener
failure leaves it stored, and the next scan (``AT+CMGL=4``) hands it over again.
"""
from __future__ import annotations

import logging
from typing import Callable

from gateway.errors import CmeError, CmsError
from gateway.modem.at import AtChannel
from gateway.modem.replies import parse_cmgl_header, pdu_kind

log = logging.getLogger(__name__)

# (kind, pdu) -> True when the listener committed it; kind is "deliver" or "status-report".
HandOver = Callable[[str, str], bool]


class Inbox:
    def __init__(self, channel: AtChannel, storage: str, hand_over: HandOver,
                 timeout: float) -> None:
        self._channel = channel
        self._storage = storage
        self._hand_over = hand_over
        self._timeout = timeout

    def read(self, memory: str, index: int) -> bool:
        """After ``+CMTI``/``+CDSI``: read one entry, hand it over, delete it."""
        with_memory = self._select(memory)
        try:
            try:
                response = self._channel.command(f"AT+CMGR={index}", expect=("+CMGR",),
                                                 timeout=self._timeout)
            except (CmsError, CmeError) as exc:
                if exc.code in (321, 21, 22):
                    log.info("%s index %d is empty (already handled)", memory, index)
                    return False
                raise
            pairs = response.pairs("+CMGR")
            if not pairs or not pairs[0][1]:
                log.info("%s index %d holds no PDU", memory, index)
                return False
            return self._take(memory, index, pairs[0][1])
        finally:
            if with_memory:
                self._restore()

    def scan(self, memories: tuple[str, ...]) -> int:
        """``AT+CMGL=4`` over each memory; returns how many entries the listener took."""
        taken = 0
        for memory in memories:
            switched = self._select(memory)
            try:
                response = self._channel.command("AT+CMGL=4", expect=("+CMGL",),
                                                 timeout=self._timeout)
                for header, body in response.pairs("+CMGL"):
                    index, _stat = parse_cmgl_header(header)
                    if body and self._take(memory, index, body):
                        taken += 1
            except (CmsError, CmeError) as exc:
                log.info("listing %s failed: %s", memory, exc)
            finally:
                if switched:
                    self._restore()
        return taken

    def _take(self, memory: str, index: int, pdu: str) -> bool:
        kind = pdu_kind(pdu)
        if kind not in ("deliver", "status-report"):
            # A stored SMS-SUBMIT (or junk): not ours to consume, and never deleted by us.
            log.info("%s index %d is a %s PDU: left in place", memory, index, kind or "unknown")
            return False
        if not self._hand_over(kind, pdu):
            return False
        self._channel.command(f"AT+CMGD={index}", timeout=self._timeout)
        return True

    def _select(self, memory: str) -> bool:
        """Point the read/delete memory (mem1) at ``memory``; True when it had to switch."""
        if memory == self._storage:
            return False
        self._channel.command(f'AT+CPMS="{memory}"', expect=("+CPMS",), timeout=self._timeout)
        return True

    def _restore(self) -> None:
        self._channel.command(f'AT+CPMS="{self._storage}"', expect=("+CPMS",),
                              timeout=self._timeout)
