"""Reply parsers: table-driven vectors (Gammu's recorded modem answers) and hypothesis."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.modem.errors import ReplyFormatError
from gateway.modem.health import Registration, SimState
from gateway.modem.replies import (choose_cnmi, choose_storage, parse_cmgl_header, parse_cops,
                                   parse_cpin, parse_cpsi_mode, parse_cpsi_online, parse_csq,
                                   parse_memory_index, parse_ranges, parse_registration,
                                   parse_storage_options, pdu_kind, split_fields)

GAMMU = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "gammu"


def gammu_value(folder: str, name: str, prefix: str) -> str | None:
    path = GAMMU / folder / name
    if not path.is_file():
        pytest.skip(f"shared test data missing: {path}")
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.strip()
        if line.startswith(prefix + ":"):
            return line[len(prefix) + 1:].strip()
    return None


@pytest.mark.parametrize("name, expected", [
    ("huawei.dump", Registration.HOME), ("none.dump", Registration.NOT_REGISTERED),
    ("siemens.dump", Registration.HOME), ("sierra312u.dump", Registration.ROAMING),
    ("telit.dump", Registration.HOME),
])
def test_gammu_creg(name, expected):
    assert parse_registration(gammu_value("at-creg", name, "+CREG"), query=True) is expected


@pytest.mark.parametrize("name", ["empty-lac.dump", "mismatched-quotes.dump", "single-quote.dump"])
def test_gammu_creg_corner_cases_still_say_home(name):
    assert parse_registration(gammu_value("at-creg-corner", name, "+CREG"),
                              query=True) is Registration.HOME


def test_gammu_creg_empty_answer_has_no_value():
    assert gammu_value("at-creg", "empty.dump", "+CREG") is None


@pytest.mark.parametrize("name, first, chosen", [
    ("alcatel-s320.dump", ["SM", "ME", "SM_P", "ME_P", "MT"], "SM"),
    ("brovi-e3372-325.dump", ["SM", "ME"], "SM"),
    ("generic.dump", ["SM", "ME"], "SM"),
])
def test_gammu_cpms_options(name, first, chosen):
    options = parse_storage_options(gammu_value("at-cpms", name, "+CPMS"))
    assert options[0] == first and len(options) == 3
    assert choose_storage(options) == chosen


def test_gammu_cpms_odd_forms():
    assert parse_storage_options(gammu_value("at-cpms", "samsung-j700.dump", "+CPMS")) == []
    assert parse_storage_options(gammu_value("at-cpms-sm", "iwow.dump", "+CPMS")) == [
        ["SM"], ["SM"], ["SM"]]
    sr = parse_storage_options(gammu_value("at-cpms-sr", "generic.dump", "+CPMS"))
    assert sr == [["ME", "SR"], ["ME", "SR"], ["ME"]] and choose_storage(sr) == "ME"
    wavecom = parse_storage_options('(("SM","BM","SR"),("SM"))')
    assert wavecom == [["SM", "BM", "SR"], ["SM"]] and choose_storage(wavecom) == "SM"
    assert choose_storage([], "ME") == "ME" and choose_storage([]) == "SM"


@pytest.mark.parametrize("name, cnmi", [
    ("01.dump", "2,1,0,1,0"), ("02.dump", "2,1,0,1,0"), ("03.dump", "2,1,0,1,0"),
])
def test_gammu_cnmi_choice(name, cnmi):
    assert choose_cnmi(parse_ranges(gammu_value("at-cnmi", name, "+CNMI"))) == cnmi


@pytest.mark.parametrize("test_reply, cnmi", [
    ("(0-3),(0-3),(0,2),(0,1),(0,1)", "2,1,0,1,0"),      # SIM800: ds=2 impossible
    ("(0-2),(0-3),(0,2),(0-2),(0,1)", "2,1,0,1,0"),      # SIM7600
    ("(0-2),(0-3),(0,2),(0,2),(0,1)", "2,1,0,2,0"),      # ds=1 missing: +CDSI instead
    ("(1),(0,1),(0),(0),(0)", "1,1,0,0,0"),
    ("(0-3),(0-3),(0,2),(0,1)", "2,1,0,1"),
    ("", "2,1,0,1,0"),
])
def test_cnmi_choice_within_what_the_modem_offers(test_reply, cnmi):
    assert choose_cnmi(parse_ranges(test_reply)) == cnmi


@pytest.mark.parametrize("value, rssi, dbm, ber", [
    ("17,99", 17, -79, None), ("99,99", None, None, None), ("0,0", 0, -113, 0),
    ("31,7", 31, -51, 7),
])
def test_csq(value, rssi, dbm, ber):
    signal = parse_csq(value)
    assert (signal.rssi, signal.dbm, signal.ber) == (rssi, dbm, ber)


@pytest.mark.parametrize("value", ["", "17", "x,y"])
def test_csq_malformed(value):
    with pytest.raises(ReplyFormatError):
        parse_csq(value)


@pytest.mark.parametrize("value, query, expected", [
    ("1", False, Registration.HOME), ("5", False, Registration.ROAMING),
    ('2,"5E25","605F"', False, Registration.SEARCHING), ("3", False, Registration.DENIED),
    ("0,0", True, Registration.NOT_REGISTERED),
    ("2,1,\"5E25\",\"605F\",7", True, Registration.HOME),
    ("1,4", True, Registration.UNKNOWN), ("0,6", True, Registration.HOME),
])
def test_registration_forms(value, query, expected):
    assert parse_registration(value, query=query) is expected


def test_cops_cpsi_cpin_cmgl_cmti():
    assert parse_cops('0,0,"Vodafone UK",7') == "Vodafone UK"
    assert parse_cops("0") is None
    assert parse_cpsi_online("LTE,Online,404-45,0x21F9,322642,453,EUTRAN-BAND40,39275,4,4,-168,"
                             "-1126,-773,7")
    assert not parse_cpsi_online("NO SERVICE,Online")
    assert parse_cpsi_mode("LTE,Online,404-45,0x21F9") == "LTE"
    assert parse_cpsi_mode("NO SERVICE,Online") == "NO SERVICE" and parse_cpsi_mode("") == "UNKNOWN"
    assert [parse_cpin(v) for v in ("READY", "SIM PIN", "SIM PUK", "NOT INSERTED", "NOT READY",
                                    "PH-NET PIN")] == [
        SimState.READY, SimState.PIN_REQUIRED, SimState.PUK_REQUIRED, SimState.ABSENT,
        SimState.NOT_READY, SimState.UNKNOWN]
    assert parse_cmgl_header("1,1,,161") == (1, 1)
    assert parse_cmgl_header("0,,24") == (0, None)
    assert parse_memory_index('"SM",3') == ("SM", 3)
    assert parse_memory_index('"SR",0') == ("SR", 0)


@pytest.mark.parametrize("pdu, kind", [
    ("0791361907001003B17A0C913619397750320000AD11CD701E340FB3C3F23CC81D0689C3BF", "submit"),
    ("0791198948004544040C9119894882006200007050307040042206CF35689E9603", "deliver"),
    ("07917248014000F506B70AA18092020000317071518590803170715185418000", "status-report"),
    ("0006230E9126983575169498610103409544C26101034095448200", "status-report"),
    ("07", None), ("", None), ("ZZ", None),
])
def test_pdu_kind_reads_only_the_mti(pdu, kind):
    assert pdu_kind(pdu) == kind


def test_split_fields_quotes():
    assert split_fields('0,"a,b",15') == ["0", "a,b", "15"]
    assert split_fields('1,"unterminated,still one') == ["1", "unterminated,still one"]
    assert split_fields("") == [""]


@given(st.text(max_size=80))
def test_parsers_fail_only_with_reply_format_errors(text):
    for parse in (parse_csq, lambda v: parse_registration(v, query=True),
                  lambda v: parse_registration(v, query=False), parse_memory_index,
                  parse_cmgl_header, parse_ranges):
        try:
            parse(text)
        except ReplyFormatError:
            pass
    parse_storage_options(text)
    parse_cops(text)
    parse_cpin(text)
    pdu_kind(text)


@given(st.text(alphabet=st.characters(blacklist_characters='"'), max_size=60))
def test_split_fields_without_quotes_is_a_plain_split(text):
    assert split_fields(text) == [part.strip() for part in text.split(",")]


@pytest.mark.parametrize("test_reply, cnmi", [
    ("(0-2),(0-3),(0,2),(0-2),(0,1)", "2,1,0,2,0"),      # SIM7600 with SR: stored reports
    ("(0-3),(0-3),(0,2),(0,1),(0,1)", "2,1,0,1,0"),      # ds=2 not offered: inline after all
])
def test_cnmi_prefers_stored_reports_when_the_modem_has_an_sr_memory(test_reply, cnmi):
    assert choose_cnmi(parse_ranges(test_reply), stored_reports=True) == cnmi
