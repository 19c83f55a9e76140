"""The init dialog pieces against a scripted port: probing, SIM states, identity, SMS setup."""
from __future__ import annotations

import pytest

from gateway.errors import AtCommandError
from gateway.modem.at import AtChannel
from gateway.modem.health import SimState
from gateway.modem.profiles import profile_for_model
from gateway.modem.session import (configure_sms, probe, query_sim, read_identity, unlock_sim)
from tests.modem.scripted_serial import ScriptedSerial, table_responder

OK = "\r\nOK\r\n"


@pytest.fixture
def channel_for():
    channels = []

    def make(responder):
        port = ScriptedSerial(responder)
        channel = AtChannel(port, lambda urc: None, name="session")
        channel.start()
        channels.append(channel)
        return channel, port

    yield make
    for channel in channels:
        channel.close()


def test_probe_needs_several_ats_on_autobaud(channel_for):
    answered = {"count": 0}

    def autobaud(chunk):
        answered["count"] += 1
        return OK if answered["count"] >= 2 else None   # the first AT only trains the rate

    channel, port = channel_for(autobaud)
    assert probe(channel, attempts=3, timeout=0.1)
    assert port.written == ["AT\r", "AT\r"]


def test_probe_gives_up_and_error_counts_as_alive(channel_for):
    silent, _ = channel_for(lambda chunk: None)
    assert not probe(silent, attempts=2, timeout=0.05)
    erroring, _ = channel_for(lambda chunk: "\r\nERROR\r\n")
    assert probe(erroring, attempts=1, timeout=0.5)


@pytest.mark.parametrize("answer, state", [
    ("\r\n+CPIN: READY\r\n\r\nOK\r\n", SimState.READY),
    ("\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n", SimState.PIN_REQUIRED),
    ("\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n", SimState.PUK_REQUIRED),
    ("\r\n+CME ERROR: 10\r\n", SimState.ABSENT),
    ("\r\n+CME ERROR: SIM not inserted\r\n", SimState.ABSENT),
    ("\r\n+CME ERROR: SIM busy\r\n", SimState.NOT_READY),
    ("\r\n+CMS ERROR: 310\r\n", SimState.ABSENT),
    ("\r\nERROR\r\n", SimState.UNKNOWN),
])
def test_query_sim(channel_for, answer, state):
    channel, _ = channel_for(table_responder({"AT+CPIN?\r": answer}))
    assert query_sim(channel, 0.5) is state


def test_unlock_sim_reports_rejection(channel_for):
    channel, port = channel_for(table_responder({'AT+CPIN="0000"\r': "\r\n+CME ERROR: 16\r\n"}))
    assert not unlock_sim(channel, "0000", 0.5)
    assert port.written == ['AT+CPIN="0000"\r']


def test_identity_with_sim7600_style_prefixes(channel_for):
    channel, _ = channel_for(table_responder({
        "AT+CGMM\r": "\r\nSIMCOM_SIM7600E-H\r\n\r\nOK\r\n",
        "AT+CGMR\r": "\r\n+CGMR: LE20B04SIM7600M22\r\n\r\nOK\r\n",
        "AT+CGSN\r": "\r\n867584030000000\r\n\r\nOK\r\n",
        "AT+CIMI\r": "\r\n+CME ERROR: 10\r\n",
        "AT+CICCID\r": "\r\n+ICCID: 8944000000000000000\r\n\r\nOK\r\n",
    }))
    identity = read_identity(channel, profile_for_model("sim7600"), 0.5)
    assert (identity.model, identity.revision, identity.imei, identity.imsi, identity.iccid) == (
        "SIMCOM_SIM7600E-H", "LE20B04SIM7600M22", "867584030000000", "", "8944000000000000000")


def test_configure_sms_falls_back_when_cnmi_is_refused(channel_for):
    table = {
        "AT+CSCA?\r": '\r\n+CSCA: "",129\r\n\r\nOK\r\n',
        "AT+CPMS=?\r": '\r\n+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")\r\n\r\nOK\r\n',
        'AT+CPMS="SM","SM","SM"\r': "\r\n+CPMS: 0,30,0,30,0,30\r\n\r\nOK\r\n",
        "AT+CNMI=?\r": "\r\n+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)\r\n\r\nOK\r\n",
        "AT+CNMI=2,1,0,1,0\r": "\r\nERROR\r\n",
        "AT+CSMS?\r": "\r\n+CSMS: 1,1,1,1\r\n\r\nOK\r\n",
        "AT+CMMS=?\r": "\r\nERROR\r\n",
    }
    channel, port = channel_for(table_responder(table))
    reports: list[str] = []
    info = configure_sms(channel, profile_for_model("sim800"), smsc=None, cnmi=None, csms=None,
                         use_cmms=True, timeout=0.5, report=reports.append)
    assert (info.storage, info.cnmi, info.cnma_needed, info.cmms) == ("SM", "2,1,0,0,0", True,
                                                                      False)
    assert any("SMSC" in r for r in reports) and any("2,1,0,1,0 refused" in r for r in reports)
    assert port.written[0] == "AT+CMGF=0\r"


def test_configure_sms_sets_the_configured_smsc_and_needs_pdu_mode(channel_for):
    channel, port = channel_for(table_responder({"AT+CMGF=0\r": "\r\nERROR\r\n"}))
    with pytest.raises(AtCommandError):
        configure_sms(channel, profile_for_model("sim800"), smsc="+447700900000", cnmi=None,
                      csms=None, use_cmms=False, timeout=0.5, report=lambda text: None)
    channel2, port2 = channel_for(table_responder({}))
    configure_sms(channel2, profile_for_model("sim800"), smsc="+447700900000", cnmi="2,1,0,1,0",
                  csms=0, use_cmms=False, timeout=0.5, report=lambda text: None)
    assert port2.written[:3] == ["AT+CMGF=0\r", "AT+CSMS=0\r", 'AT+CSCA="+447700900000"\r']
    assert "AT+CNMI=2,1,0,1,0\r" in port2.written


def test_iccid_falls_back_to_ccid_when_ciccid_errors(channel_for):
    """Issue 9 item 7: some SIM7600 firmwares refuse AT+CICCID but answer AT+CCID."""
    channel, _ = channel_for(table_responder({
        "AT+CGMM\r": "\r\nSIMCOM_SIM7600E-H\r\n\r\nOK\r\n",
        "AT+CGMR\r": "\r\n+CGMR: LE20B04SIM7600M22\r\n\r\nOK\r\n",
        "AT+CGSN\r": "\r\n867584030000000\r\n\r\nOK\r\n",
        "AT+CIMI\r": "\r\n234150000000000\r\n\r\nOK\r\n",
        "AT+CICCID\r": "\r\nERROR\r\n",
        "AT+CCID\r": "\r\n8944000000000000001\r\n\r\nOK\r\n",
    }))
    identity = read_identity(channel, profile_for_model("sim7600"), 0.5)
    assert identity.iccid == "8944000000000000001"
