"""Inbox: read, hand over, delete only after the listener returned; memories switched back."""
from __future__ import annotations

import pytest

from gateway.modem.at import AtChannel
from gateway.modem.inbox import Inbox
from tests.modem.scripted_serial import ScriptedSerial, table_responder

DELIVER = "0791198948004544040C9119894882006200007050307040042206CF35689E9603"
SUBMIT = "0791361907001003B17A0C913619397750320000AD11CD701E340FB3C3F23CC81D0689C3BF"
REPORT = "07917248014000F506B70AA18092020000317071518590803170715185418000"

LISTING = (f"\r\n+CMGL: 1,1,,25\r\n{DELIVER}\r\n+CMGL: 2,3,,29\r\n{SUBMIT}\r\n"
           f"+CMGL: 3,0,,24\r\n{REPORT}\r\n\r\nOK\r\n")


@pytest.fixture
def rig():
    channels = []

    def make(table, accept=True):
        port = ScriptedSerial(table_responder(table))
        channel = AtChannel(port, lambda urc: None, name="inbox")
        channel.start()
        channels.append(channel)
        taken: list[tuple[str, str]] = []

        def hand_over(kind, pdu):
            taken.append((kind, pdu))
            return accept

        return Inbox(channel, "SM", hand_over, timeout=1.0), port, taken

    yield make
    for channel in channels:
        channel.close()


def test_scan_hands_over_deliver_and_report_and_deletes_only_those(rig):
    inbox, port, taken = rig({"AT+CMGL=4\r": LISTING})
    assert inbox.scan(("SM",)) == 2
    assert taken == [("deliver", DELIVER), ("status-report", REPORT)]
    assert port.written == ["AT+CMGL=4\r", "AT+CMGD=1\r", "AT+CMGD=3\r"]   # SUBMIT left alone


def test_listener_failure_deletes_nothing(rig):
    inbox, port, taken = rig({"AT+CMGL=4\r": LISTING}, accept=False)
    assert inbox.scan(("SM",)) == 0
    assert len(taken) == 2 and not [w for w in port.written if "CMGD" in w]


def test_read_from_another_memory_switches_and_restores(rig):
    inbox, port, taken = rig({"AT+CMGR=0\r": f"\r\n+CMGR: 0,,24\r\n{REPORT}\r\n\r\nOK\r\n",
                              'AT+CPMS="SR"\r': "\r\n+CPMS: 1,50,0,30,0,30\r\n\r\nOK\r\n",
                              'AT+CPMS="SM"\r': "\r\n+CPMS: 0,30,0,30,0,30\r\n\r\nOK\r\n"})
    assert inbox.read("SR", 0)
    assert port.written == ['AT+CPMS="SR"\r', "AT+CMGR=0\r", "AT+CMGD=0\r", 'AT+CPMS="SM"\r']
    assert taken == [("status-report", REPORT)]


def test_reading_an_empty_index_is_skipped(rig):
    inbox, port, taken = rig({"AT+CMGR=7\r": "\r\n+CMS ERROR: 321\r\n"})
    assert not inbox.read("SM", 7)
    assert taken == [] and port.written == ["AT+CMGR=7\r"]


def test_scan_of_a_memory_the_modem_refuses_is_logged_not_fatal(rig):
    inbox, port, taken = rig({"AT+CMGL=4\r": "\r\n+CMS ERROR: 302\r\n"})
    assert inbox.scan(("SM",)) == 0
