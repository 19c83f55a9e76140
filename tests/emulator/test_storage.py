"""Message memories: slots from the model's base, capacity, stat changes, deletion."""
from __future__ import annotations

import pytest

from gateway.emulator.storage import Memory, MessageStorage, Stat, StorageFull, StoredMessage

PDU = "07914477000900000400000000000000000000"


@pytest.mark.parametrize("base", [0, 1])
def test_lowest_free_slot_from_base(base: int) -> None:
    memory = Memory("SM", 3, base)
    assert [memory.store(StoredMessage(Stat.REC_UNREAD, PDU)) for _ in range(3)] == [
        base, base + 1, base + 2]
    with pytest.raises(StorageFull):
        memory.store(StoredMessage(Stat.REC_UNREAD, PDU))
    memory.delete(base + 1)
    assert memory.store(StoredMessage(Stat.STO_SENT, PDU)) == base + 1
    assert memory.valid_index(base) and not memory.valid_index(base + 3)
    assert not memory.valid_index(base - 1)


def test_listing_stat_and_delete_where() -> None:
    memory = Memory("ME", 10, 1)
    for stat in (Stat.REC_UNREAD, Stat.REC_READ, Stat.STO_UNSENT, Stat.STO_SENT):
        memory.store(StoredMessage(stat, PDU))
    assert [i for i, _ in memory.listing(None)] == [1, 2, 3, 4]
    assert [i for i, _ in memory.listing(Stat.STO_UNSENT)] == [3]
    memory.set_stat(1, Stat.REC_READ)
    memory.delete_where({Stat.REC_READ})
    assert [i for i, _ in memory.listing(None)] == [3, 4]
    assert memory.used == 2 and memory.get(1) is None


def test_tpdu_length_excludes_smsc() -> None:
    assert StoredMessage(Stat.REC_READ, PDU).tpdu_length == len(PDU) // 2 - 8


def test_message_storage_snapshot() -> None:
    storage = MessageStorage({"SM": 2, "ME": 5}, 0)
    storage["ME"].store(StoredMessage(Stat.REC_UNREAD, PDU))
    assert "SM" in storage and "SR" not in storage
    assert storage.all_messages() == {"SM": {}, "ME": {0: StoredMessage(Stat.REC_UNREAD, PDU)}}
    assert [m.name for m in storage] == ["SM", "ME"]
