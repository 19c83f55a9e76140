"""TS 23.038 tables via gsmcodecs (gateway/sms/alphabet.py)."""
from __future__ import annotations

import pytest
from gsmcodecs import GSMCHARMAPS

from gateway.errors import EncodingError
from gateway.sms.alphabet import (
    ESC, GSM_DEFAULT, LANGUAGE_IDS, UCS2, Alphabet, charset, decode_septets, encode,
    encode_default, has_locking_table, language_id, units,
)

PAIRS = [(0, 0)] + [(lock, shift) for lid in range(1, 14)
                    for lock, shift in ((0, lid), (lid, 0), (lid, lid))
                    if lock == 0 or has_locking_table(lock)]


def test_every_gsmcodecs_language_is_known() -> None:
    assert sorted(LANGUAGE_IDS.values()) == sorted(k for k in GSMCHARMAPS if k)
    assert not has_locking_table(2) and all(has_locking_table(i) for i in (1, 3, 4, 13))


@pytest.mark.parametrize(("lock", "shift"), PAIRS)
def test_every_character_of_every_table_roundtrips(lock: int, shift: int) -> None:
    chars = "".join(sorted(charset(lock, shift)))
    septets = encode(chars, Alphabet("gsm7", lock, shift))
    assert septets is not None
    assert decode_septets(septets, lock, shift) == chars
    assert all(b < 0x80 for b in septets)
    # ESC only ever starts a pair
    assert all(septets[i + 1] != ESC for i, b in enumerate(septets[:-1]) if b == ESC)


def test_default_alphabet_specifics() -> None:
    assert encode("@£$¥", GSM_DEFAULT) == bytes((0x00, 0x01, 0x02, 0x03))
    assert encode("€", GSM_DEFAULT) == bytes((ESC, 0x65))
    assert encode("§", GSM_DEFAULT) == bytes((0x5F,))
    assert encode("`", GSM_DEFAULT) is None  # not in GSM 7-bit: never sent as '§'
    assert encode("ç", GSM_DEFAULT) is None  # 0x09 is 'Ç' since TS 23.038 v8
    assert units("a€", GSM_DEFAULT) == [b"a", bytes((ESC, 0x65))]
    assert units("😀", UCS2) == ["😀".encode("utf-16-be")]


def test_decode_fallbacks() -> None:
    assert decode_septets(bytes((ESC, 0x41))) == "A"  # unknown extension -> main table
    assert decode_septets(bytes((ESC, ESC, 0x41))) == " A"  # reserved ESC ESC -> space
    assert decode_septets(bytes((0x41, ESC))) == "A "  # dangling ESC
    assert decode_septets(bytes((ESC, 0x0A))) == "\x0c"  # page break
    assert decode_septets(bytes((0x0C,)), lock=4) == "\ufffd"  # undefined in Bengali table


def test_language_ids() -> None:
    assert language_id("tr") == 1 and language_id(" PT ") == 3 and language_id("13") == 13
    assert Alphabet("gsm7", 1, 1).language == "TR"
    assert Alphabet("gsm7", 0, 2).language_ies() == ((0x24, b"\x02"),)
    with pytest.raises(EncodingError):
        language_id("EN")


def test_encode_default() -> None:
    assert encode_default("Hi") == b"Hi"
    with pytest.raises(EncodingError):
        encode_default("Привет")
