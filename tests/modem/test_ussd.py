"""+CUSD decoding against real answers (Gammu's at-ussd dumps): plain, UCS-2 hex, GSM 7-bit hex."""
from __future__ import annotations

from pathlib import Path

import pytest

from hypothesis import given
from hypothesis import strategies as st

from gateway.modem.ussd import UssdError, decode_ussd_text, parse_cusd

USSD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gammu" / "at-ussd"


def cusd(name: str) -> str:
    path = USSD / name
    if not path.is_file():
        pytest.skip(f"shared test data missing: {path}")
    return path.read_text(encoding="latin-1").strip().splitlines()[0].split(":", 1)[1].strip()


@pytest.mark.parametrize("name, status, dcs, text", [
    ("02-E160.dump", 0, 15, "Ihr Guthaben für die Nr.4915783647410 beträgt 5.78 Euro"),
    ("03-unknown.dump", 1, None, "Kontostand: 3.00 EUR Bitte w{hlen Sie: 1 Konto aufladen 2 "
                                 "CallNow Transfer"),
    ("04-unknown.dump", 2, 0, "Maaf, permintaan Anda tidak dapat kami proses. Silakan coba "
                              "beberapa saat lagi."),
    ("issue109-E3276.dump", 0, 72,
     "Для справки о балансе наберите *105#. Услуга бесплатна."),
    ("issue178-dell.dump", 0, 15, "On DATA Pack u have 3Gb 817Mb 169kb valid until 21/05/2016   "
                                  "upto time of data recharge done by u."),
    ("issue377-HE910-D.dump", 2, 17, "رصيدك 107.93 د.ل،الصلاحية  2018-11-09"),
])
def test_recorded_answers(name, status, dcs, text):
    reply = parse_cusd(cusd(name))
    assert (reply.status, reply.dcs, reply.text) == (status, dcs, text)


def test_ucs2_hex_despite_dcs_15():
    reply = parse_cusd(cusd("Uissue358-Quectel_M35.dump"))
    assert reply.text.startswith("Havi keret: 0Ft. Feltöltött egyenleg: 7777Ft")
    assert reply.text.endswith("*111#")


def test_unquoted_packed_7bit_without_dcs():
    text = parse_cusd(cusd("01-E160.dump")).text
    assert text.startswith("Ihr Guthaben") and text.endswith("beträgt 7.95 Euro")


@pytest.mark.parametrize("raw, dcs, text", [
    ("Balance 5.00", 15, "Balance 5.00"), ("1234", None, "1234"), ("", 15, ""),
    ("0042", 72, "B"), ("12345678", 15, "12345678"), ("00420043", None, "BC"),
])
def test_short_and_plain_texts_stay_plain(raw, dcs, text):
    assert decode_ussd_text(raw, dcs) == text


def test_status_only_and_bad_status():
    assert parse_cusd("4").status == 4 and parse_cusd("4").text == ""
    with pytest.raises(UssdError):
        parse_cusd('x,"text"')


@given(st.text(max_size=60), st.one_of(st.none(), st.integers(min_value=0, max_value=255)))
def test_decoding_never_fails(raw, dcs):
    assert isinstance(decode_ussd_text(raw, dcs), str)
    try:
        parse_cusd(raw)
    except UssdError:
        pass


@given(st.binary(min_size=2, max_size=40))
def test_any_hex_payload_decodes_to_text(data):
    assert isinstance(decode_ussd_text(data.hex().upper(), 15), str)
