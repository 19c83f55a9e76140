"""The result-code vocabulary: what ends a command, what is unsolicited, what an error means."""
from __future__ import annotations

import pytest

from gateway.errors import AtCommandError, CmeError, CmsError
from gateway.modem.codes import (AtResponse, UrcKind, classify_urc, final_error, is_final,
                                 line_prefix, line_value)


@pytest.mark.parametrize("line, kind", [
    ("RDY", UrcKind.BOOT), ("+CFUN: 1", UrcKind.BOOT), ("SMS DONE", UrcKind.BOOT),
    ("PB DONE", UrcKind.BOOT), ("NORMAL POWER DOWN", UrcKind.POWER_DOWN),
    ("NORMAL POWER OFF", UrcKind.POWER_DOWN), ("UNDER-VOLTAGE POWER DOWN", UrcKind.POWER_DOWN),
    ("UNDER-VOLTAGE WARNNING", UrcKind.VOLTAGE_WARNING), ("+CMTE: 2", UrcKind.POWER_DOWN),
    ("+CMTE: -1", UrcKind.VOLTAGE_WARNING), ("+CPIN: NOT INSERTED", UrcKind.SIM),
    ('+CUSD: 0,"Balance 5.00",15', UrcKind.USSD), ("+CEREG: 1", UrcKind.REGISTRATION),
    ('+CDSI: "SR",2', UrcKind.STATUS_REPORT_STORED), ("+ZPASR: \"UMTS\"", UrcKind.OTHER),
    ("866123456789012", None), ("OK", None),
])
def test_classify_urc(line, kind):
    assert classify_urc(line) is kind


@pytest.mark.parametrize("line, final", [
    ("OK", True), ("ERROR", True), ("+CMS ERROR: 500", True), ("+CME ERROR: SIM busy", True),
    ("COMMAND NOT SUPPORT", True), ("OK then", False), ("0A0B0C", False), ("+CMGS: 5", False),
    ("ok", False),
])
def test_final_results_match_whole_lines(line, final):
    assert is_final(line) is final


@pytest.mark.parametrize("final, kind, code", [
    ("OK", None, None), ("ERROR", AtCommandError, None), ("+CMS ERROR: 304", CmsError, 304),
    ("+CME ERROR: 16", CmeError, 16), ("+CME ERROR: incorrect password", CmeError, 16),
])
def test_final_error(final, kind, code):
    error = final_error("AT+X", final)
    assert (type(error) if error else None) is kind
    if error is not None:
        assert error.code == code and error.command == "AT+X"


def test_prefix_value_and_response_helpers():
    assert line_prefix('+CMTI: "SM",3') == "+CMTI" and line_value('+CMTI: "SM",3') == '"SM",3'
    assert line_prefix("^SYSINFO: 2,3") == "^SYSINFO" and line_prefix("RDY") == ""
    response = AtResponse("AT+CMGL=4", ("+CMGL: 1,1,,3", "0011", "+CMGL: 2,1,,3", "+CMGL: 3,1,,3",
                                        "0033", "IMEI 1"), "OK")
    assert response.pairs("+CMGL") == [("1,1,,3", "0011"), ("2,1,,3", ""), ("3,1,,3", "0033")]
    assert response.values("+cmgl") == ["1,1,,3", "2,1,,3", "3,1,,3"]
    assert response.first("+CSQ") is None
