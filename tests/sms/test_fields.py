"""TS 23.040 field codecs (gateway/sms/fields.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import EncodingError, PduError
from gateway.sms.fields import (
    Reader, dcs_info, decode_address, decode_smsc, decode_timestamp, encode_address,
    encode_smsc, encode_timestamp, pack_septets, parse_address, parse_udh, udh_concat,
    unpack_septets,
)
from gateway.sms.messages import Address, Concat
from tests.sms.shared_data import load

TON_NAMES = {"international": 1, "alphanumeric": 5, "unknown": 0, "national": 2}
NPI_NAMES = {"isdn": 1, "unknown": 0}


def _address_vectors() -> list[Any]:
    data = load("pdu_vectors.json")
    if data is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared/data is absent"))]
    return [pytest.param(v, id=v["number"]) for v in data["address_field_vectors"]["vectors"]]


@pytest.mark.parametrize("vector", _address_vectors())
def test_smspdudecoder_address_vectors(vector: dict[str, Any]) -> None:
    expected = Address(vector["number"], TON_NAMES[vector["ton"]], NPI_NAMES[vector["npi"]])
    if "field_smsc" in vector:
        raw = bytes.fromhex(vector["field_smsc"])
        assert decode_smsc(Reader(raw)) == expected
        assert encode_smsc(expected) == raw
    else:
        raw = bytes.fromhex(vector["field"])
        assert decode_address(Reader(raw), "address") == expected
        assert encode_address(expected) == raw


@pytest.mark.parametrize(("text", "address"), [
    ("+41793026727", Address("41793026727", 1, 1)),
    ("41793026727", Address("41793026727", 1, 1)),
    ("0791234567", Address("0791234567", 0, 1)),
    ("12345", Address("12345", 0, 1)),
    ("*100#", Address("*100#", 0, 1)),
    ("InfoSMS", Address("InfoSMS", 5, 0)),
    ("cab", Address("cab", 5, 0)),  # semi-octets a/b/c only through an explicit Address
    ("+41 79", Address("+41 79", 5, 0)),
])
def test_parse_address(text: str, address: Address) -> None:
    assert parse_address(text) == address


def test_address_limits() -> None:
    with pytest.raises(EncodingError):
        encode_address(Address("TwelveChars!", 5, 0))
    with pytest.raises(EncodingError):
        encode_address(Address("1" * 21, 1, 1))
    with pytest.raises(EncodingError):
        parse_address(" ")
    assert encode_address(Address("*#", 0, 1)) == bytes.fromhex("0281BA")


def test_timestamp_zones() -> None:
    minus5 = datetime(2010, 6, 21, 14, 3, 43, tzinfo=timezone(timedelta(hours=-5)))
    assert encode_timestamp(minus5) == bytes.fromhex("0160124130340A")
    assert decode_timestamp(bytes.fromhex("0160124130340A")) == minus5
    assert decode_timestamp(bytes.fromhex("99309251619580")).year == 1999
    with pytest.raises(EncodingError):
        encode_timestamp(datetime(2020, 1, 1))
    with pytest.raises(EncodingError):
        encode_timestamp(datetime(2020, 1, 1, tzinfo=timezone(timedelta(minutes=10))))
    for bad in ("01601241303A0A", "0100124130340A", "01601241303400".replace("00", "FF")):
        with pytest.raises(PduError):
            decode_timestamp(bytes.fromhex(bad))


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2089, 12, 31),
                    timezones=st.sampled_from([timezone(timedelta(minutes=15 * q))
                                               for q in range(-79, 80)])))
def test_timestamp_roundtrip(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    assert decode_timestamp(encode_timestamp(moment)) == moment


@given(st.binary(max_size=200).map(lambda b: bytes(x & 0x7F for x in b)),
       st.integers(0, 6))
def test_septet_packing_roundtrip(septets: bytes, fill: int) -> None:
    packed = pack_septets(septets, fill)
    assert len(packed) == (fill + 7 * len(septets) + 7) // 8
    assert unpack_septets(packed, len(septets), fill) == septets


def test_unpack_truncated() -> None:
    with pytest.raises(PduError):
        unpack_septets(b"\x00", 3)


def test_udh_parsing() -> None:
    ies = parse_udh(bytes.fromhex("0003AA0201" "240101"))
    assert [(ie.iei, ie.data) for ie in ies] == [(0, b"\xaa\x02\x01"), (0x24, b"\x01")]
    assert udh_concat(ies) == Concat(0xAA, 2, 1, 8)
    assert udh_concat(parse_udh(bytes.fromhex("0003AA0203"))) is None  # seq > total: ignored
    with pytest.raises(PduError):
        parse_udh(bytes.fromhex("0003AA02"))
    with pytest.raises(PduError):
        parse_udh(b"\x00")


@pytest.mark.parametrize(("dcs", "info"), [
    (0x00, ("gsm7", None)), (0x04, ("8bit", None)), (0x08, ("ucs2", None)),
    (0x10, ("gsm7", 0)), (0x14, ("8bit", 0)), (0x18, ("ucs2", 0)), (0x11, ("gsm7", 1)),
    (0x0C, ("gsm7", None)), (0x24, ("8bit", None)), (0x48, ("ucs2", None)),
    (0xC0, ("gsm7", None)), (0xD8, ("gsm7", None)), (0xE0, ("ucs2", None)),
    (0xF0, ("gsm7", 0)), (0xF1, ("gsm7", 1)), (0xF4, ("8bit", 0)), (0xF5, ("8bit", 1)),
    (0xF9, ("ucs2", 1)), (0xFD, ("8bit", 1)),
    (0x80, ("gsm7", None)),
])
def test_dcs(dcs: int, info: tuple[str, int | None]) -> None:
    assert dcs_info(dcs) == info
