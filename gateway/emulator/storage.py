"""The emulated SIM (SM), phone (ME) and status-report (SR) message memories.

Real memories are small and numbered from a model-specific base (SIM800 1, SIM7600 0); a full
memory is what makes the network hold incoming SMS. Stored entries keep the PDU exactly as
``+CMGR`` / ``+CMGL`` return it (SMSC address included).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from gateway.sms import tpdu_length


class Stat(IntEnum):
    """PDU-mode ``<stat>`` of 3GPP TS 27.005."""
    REC_UNREAD = 0
    REC_READ = 1
    STO_UNSENT = 2
    STO_SENT = 3


@dataclass(frozen=True)
class StoredMessage:
    stat: Stat
    pdu: str

    @property
    def tpdu_length(self) -> int:
        """The ``<length>`` of +CMGR / +CMGL: octets after the SMSC address."""
        return tpdu_length(self.pdu)


class StorageFull(Exception):
    """No free slot in the memory (+CMS ERROR: 322)."""


class Memory:
    def __init__(self, name: str, capacity: int, base: int) -> None:
        self.name = name
        self.capacity = capacity
        self.base = base
        self.slots: dict[int, StoredMessage] = {}

    @property
    def used(self) -> int:
        return len(self.slots)

    def valid_index(self, index: int) -> bool:
        return self.base <= index < self.base + self.capacity

    def store(self, message: StoredMessage) -> int:
        for index in range(self.base, self.base + self.capacity):
            if index not in self.slots:
                self.slots[index] = message
                return index
        raise StorageFull(self.name)

    def get(self, index: int) -> StoredMessage | None:
        return self.slots.get(index)

    def set_stat(self, index: int, stat: Stat) -> None:
        self.slots[index] = StoredMessage(stat, self.slots[index].pdu)

    def delete(self, index: int) -> None:
        self.slots.pop(index, None)

    def delete_where(self, stats: set[Stat]) -> None:
        for index in [i for i, m in self.slots.items() if m.stat in stats]:
            del self.slots[index]

    def listing(self, stat: Stat | None) -> list[tuple[int, StoredMessage]]:
        """Entries in index order; ``stat`` None means all (``AT+CMGL=4``)."""
        return sorted((i, m) for i, m in self.slots.items() if stat is None or m.stat == stat)


class MessageStorage:
    """All memories of one modem: ``storage["SM"]`` is a Memory. Survives power cycles."""

    def __init__(self, capacities: dict[str, int], base: int) -> None:
        self._memories = {name: Memory(name, cap, base) for name, cap in capacities.items()}

    def __getitem__(self, name: str) -> Memory:
        return self._memories[name]

    def __contains__(self, name: object) -> bool:
        return name in self._memories

    def __iter__(self) -> Iterator[Memory]:
        return iter(self._memories.values())

    def all_messages(self) -> dict[str, dict[int, StoredMessage]]:
        """A snapshot ``{memory: {index: StoredMessage}}`` for assertions and status."""
        return {name: dict(sorted(m.slots.items())) for name, m in self._memories.items()}
