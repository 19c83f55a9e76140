"""Issue 9 item 2, driver side: status reports that arrive while simgate is down or restarting.

SIM7600 stores reports (CNMI ds=2, "SR" memory, +CDSI): they wait there and are read at start.
SIM800 can only route them inline (+CDS, ds=1): with AT+CSMS=1 each must be acknowledged
(AT+CNMA) after the listener took it, else the network sends it again.  The numbers these tests
measure are quoted in docs/modem.md ("Status reports across a restart").
"""
from __future__ import annotations

from gateway.modem.driver import Modem
from gateway.modem.health import EventKind
from gateway.sms.decode import decode_pdu
from gateway.sms.pdu import encode_text
from gateway.sms.text import SubmitOptions
from tests.modem.conftest import FAST, Recorder, eventually

DEST = "+447700900123"
REPORTS = 10


def sent_with_reports(rig, count: int) -> list[int]:
    (part,) = encode_text(DEST, "report me", SubmitOptions(status_report=True))
    return [rig.modem.send(part.pdu, part.tpdu_length) for _ in range(count)]


def restarted(rig) -> tuple[Modem, Recorder]:
    """A fresh driver on the same (still powered) emulated modem, as after a simgate restart."""
    listener = Recorder()
    modem = Modem(rig.emu.url, rig.profile, listener, settings=FAST)
    modem.start()
    assert modem.wait_ready(5)
    return modem, listener


def test_sim7600_stores_reports_and_the_next_start_reads_every_one(make_rig):
    rig = make_rig("sim7600")
    assert rig.modem.wait_ready(5)
    assert rig.emu.s.cnmi[3] == 2                          # ds=2 chosen: reports go to SR
    rig.net.set_outcome("*", "delivered", delay=0.3)
    mrs = sent_with_reports(rig, REPORTS)
    rig.modem.stop()                                       # simgate is down...
    assert rig.emu.wait_until(lambda: len(rig.emu.reports) == REPORTS, 5)  # ...reports arrive
    assert len(rig.emu.storage["SR"].listing(None)) == REPORTS
    modem, listener = restarted(rig)
    try:
        listener.wait(lambda r: len(r.reports) == REPORTS)
        assert sorted(decode_pdu(p).reference for p in listener.reports) == sorted(mrs)
        assert rig.emu.wait_until(lambda: not rig.emu.storage["SR"].listing(None), 2)
    finally:
        modem.stop()


def test_sim7600_report_the_listener_refused_stays_in_sr_until_it_is_taken(make_rig):
    rig = make_rig("sim7600", settings=FAST.__class__(**{**FAST.__dict__,
                                                        "rescan_interval_s": 0.2}))
    assert rig.modem.wait_ready(5)
    rig.listener.fail_reports = True
    (mr,) = sent_with_reports(rig, 1)
    rig.listener.wait(lambda r: r.details(EventKind.ERROR))
    assert len(rig.emu.storage["SR"].listing(None)) == 1   # not deleted: it was not stored
    rig.listener.fail_reports = False
    rig.listener.wait(lambda r: len(r.reports) == 1)
    assert decode_pdu(rig.listener.reports[0]).reference == mr
    assert rig.emu.wait_until(lambda: not rig.emu.storage["SR"].listing(None), 2)


def test_sim800_asks_for_phase_2_plus_and_acknowledges_each_report_after_the_hand_over(
        make_rig, caplog):
    import logging
    rig = make_rig("sim800")
    assert rig.modem.wait_ready(5)
    assert rig.emu.s.csms == 1 and rig.emu.s.cnmi[3] == 1
    with caplog.at_level(logging.DEBUG, logger="gateway.modem.at"):
        (mr,) = sent_with_reports(rig, 1)
        rig.listener.wait(lambda r: len(r.reports) == 1)
        assert eventually(lambda: rig.emu.ack_pending is None)
    assert decode_pdu(rig.listener.reports[0]).reference == mr
    written = [m for m in rig.at_log(caplog) if ">>" in m]
    assert sum("AT+CNMA" in m for m in written) == 1


def test_sim800_report_the_listener_refused_is_not_acknowledged_and_comes_again(make_rig):
    rig = make_rig("sim800")
    rig.emu.timing = rig.emu.timing.replace(cnma_timeout=0.2, redelivery_delay=1.0)
    assert rig.modem.wait_ready(5)
    rig.listener.fail_reports = True
    (mr,) = sent_with_reports(rig, 1)
    rig.listener.wait(lambda r: r.details(EventKind.ERROR))
    rig.listener.fail_reports = False
    # Unacknowledged: the modem dropped routing (CNMI 0) and the network tries again; the poll
    # restored AT+CNMI in time, so the second delivery is taken.
    rig.listener.wait(lambda r: len(r.reports) == 1)
    assert decode_pdu(rig.listener.reports[0]).reference == mr
    assert any("dropped new-message routing" in d for d in rig.listener.details(EventKind.ERROR))
    assert rig.emu.s.cnmi[1:4] == (1, 0, 1)


def test_sim800_reports_while_simgate_is_killed_count(make_rig):
    """What a SIM800 recovers after a kill -9 (no parking): measured, not promised
    (docs/modem.md quotes the figure)."""
    rig = make_rig("sim800")
    rig.emu.timing = rig.emu.timing.replace(cnma_timeout=0.2, redelivery_delay=1.0)
    assert rig.modem.wait_ready(5)
    rig.net.set_outcome("*", "delivered", delay=0.3)
    sent_with_reports(rig, REPORTS)
    rig.emu.faults.no_answer(1.0)        # the parking commands go unheard, as after a kill -9
    rig.modem.stop()
    assert rig.emu.s.cnmi[0] == 2 and rig.emu.s.csms == 1
    assert rig.emu.wait_until(lambda: len(rig.emu.reports) >= REPORTS, 5)
    modem, listener = restarted(rig)
    try:
        # The one report whose acknowledgement was still awaited is sent again by the network;
        # every other one was routed to a closed port and acknowledged by nobody, then dropped.
        listener.wait(lambda r: len(r.reports) >= 1, timeout=5)
        assert eventually(lambda: len(listener.reports) == 1, 2)
    finally:
        modem.stop()


def test_sim800_graceful_restart_loses_no_report(make_rig):
    """stop() parks routing (CSMS 0, CNMI mode 0): the modem buffers the +CDS lines, and the
    next start's AT+CNMI flushes them to the new driver."""
    rig = make_rig("sim800")
    assert rig.modem.wait_ready(5)
    rig.net.set_outcome("*", "delivered", delay=0.3)
    mrs = sent_with_reports(rig, REPORTS)
    rig.modem.stop()
    assert rig.emu.s.cnmi[0] == 0 and rig.emu.s.csms == 0
    assert rig.emu.wait_until(lambda: len(rig.emu.reports) >= REPORTS, 5)
    modem, listener = restarted(rig)
    try:
        listener.wait(lambda r: len(r.reports) == REPORTS)
        assert sorted(decode_pdu(p).reference for p in listener.reports) == sorted(mrs)
        assert rig.emu.s.csms == 1 and rig.emu.s.cnmi == (2, 1, 0, 1, 0)
    finally:
        modem.stop()
