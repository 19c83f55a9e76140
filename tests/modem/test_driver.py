"""The driver end to end against the in-process emulator (emu:// URLs, fast timing)."""
from __future__ import annotations

import logging
import threading

import pytest

from gateway.errors import CmsError, ModemUnavailableError, SendInDoubtError
from gateway.modem.errors import CmsPolicy, classify_cms
from gateway.modem.health import EventKind, ModemState, Registration, SimState
from gateway.sms.decode import decode_pdu
from gateway.sms.pdu import encode_text
from gateway.sms.text import SubmitOptions
from tests.modem.conftest import FAST, Recorder, eventually

DEST = "+447700900123"


def parts(text: str, report: bool = True):
    return encode_text(DEST, text, SubmitOptions(status_report=report))


def test_start_brings_the_modem_up_and_reports_health(make_rig):
    rig = make_rig("sim800")
    assert rig.modem.wait_ready(5)
    health = rig.modem.health()
    assert health.state is ModemState.READY and health.ok
    assert health.model == "SIMCOM_SIM800" and health.imei.isdigit() and len(health.imei) == 15
    assert health.imsi and health.iccid.startswith("89")
    assert health.registration is Registration.HOME and health.sim is SimState.READY
    assert health.rssi == 20 and health.dbm == -73 and health.operator == "SIMGATE"
    assert rig.listener.details(EventKind.BOOTED)
    assert rig.emu.s.cnmi == (2, 1, 0, 1, 0)   # +CMTI for SMS, +CDS for reports (SIM800: ds<=1)


def test_sim7600_profile_comes_up_too(make_rig):
    rig = make_rig("sim7600")
    assert rig.modem.wait_ready(5)
    health = rig.modem.health()
    assert health.model.startswith("SIMCOM_SIM7600") and health.iccid.startswith("89")
    assert health.network_mode == "LTE" and health.registration is Registration.HOME
    assert rig.emu.s.cereg == 1          # LTE registration URCs enabled too


def test_send_returns_tp_mr_and_the_network_gets_it(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    (part,) = parts("hello")
    first = rig.modem.send(part.pdu, part.tpdu_length)
    second = rig.modem.send(part.pdu, part.tpdu_length)
    assert second == (first + 1) % 256
    assert [r.mr for r in rig.emu.sent] == [first, second]   # what the network received
    assert [r.destination for r in rig.emu.sent] == [DEST, DEST]
    assert rig.emu.sent[0].text == "hello"
    assert rig.modem.health().counters.sent == 2


def test_concatenated_parts_use_cmms_and_return_one_mr_each(make_rig, caplog):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    encoded = parts("x" * 400)
    assert len(encoded) == 3
    with caplog.at_level(logging.DEBUG, logger="gateway.modem.at"):
        mrs = [rig.modem.send(p.pdu, p.tpdu_length, more_to_follow=p.seq < p.total)
               for p in encoded]
    assert len(set(mrs)) == 3
    written = [m for m in rig.at_log(caplog) if ">>" in m]
    assert sum("AT+CMMS=1" in m for m in written) == 2     # before parts 1 and 2, not after 3
    assert [r.parts[1:] for r in rig.emu.sent] == [(3, 1), (3, 2), (3, 3)]


@pytest.mark.parametrize("code, policy", [(38, CmsPolicy.RETRY), (1, CmsPolicy.PERMANENT),
                                          (331, CmsPolicy.HOLD)])
def test_cms_error_is_raised_with_its_code(make_rig, code, policy):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    rig.emu.faults.cms_errors(code)
    (part,) = parts("refused")
    with pytest.raises(CmsError) as info:
        rig.modem.send(part.pdu, part.tpdu_length)
    assert info.value.code == code and classify_cms(info.value.code).policy is policy
    rig.sent_mr(part.pdu, part.tpdu_length)   # the next one goes through


def test_no_result_after_ctrl_z_is_in_doubt_and_the_modem_recovers(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    rig.emu.faults.in_doubt()
    (part,) = parts("maybe")
    with pytest.raises(SendInDoubtError):
        rig.modem.send(part.pdu, part.tpdu_length)
    assert len(rig.emu.sent) == 1                     # it did reach the network
    rig.listener.wait(lambda r: r.details(EventKind.IN_DOUBT))
    rig.listener.wait(lambda r: rig.modem.ready and r.details(EventKind.RECOVERY))
    rig.sent_mr(part.pdu, part.tpdu_length)


def test_send_before_ready_is_unavailable(make_rig):
    rig = make_rig(start=False)
    (part,) = parts("early")
    with pytest.raises(ModemUnavailableError):
        rig.modem.send(part.pdu, part.tpdu_length)
    assert not rig.modem.ready and not rig.modem.wait_ready(0.01)


def test_incoming_sms_cmti_read_handed_over_then_deleted(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    rig.emu.inject_sms("+447700900555", "hi there")
    rig.listener.wait(lambda r: len(r.delivered) == 1)
    assert decode_pdu(rig.listener.delivered[0]).text == "hi there"
    assert rig.emu.wait_until(lambda: not rig.emu.storage["SM"].listing(None), 2)
    assert rig.modem.health().counters.received == 1


def test_status_report_inline_cds(make_rig):
    rig = make_rig("sim800")
    assert rig.modem.wait_ready(5)
    (part,) = parts("report me")
    mr = rig.modem.send(part.pdu, part.tpdu_length)
    rig.listener.wait(lambda r: len(r.reports) == 1)
    report = decode_pdu(rig.listener.reports[0])
    assert report.reference == mr and report.recipient.number.endswith("447700900123")


def test_status_report_stored_cdsi_is_read_from_sr_and_deleted(make_rig):
    rig = make_rig("sim7600", settings=FAST.__class__(**{**FAST.__dict__, "cnmi": "2,1,0,2,0"}))
    assert rig.modem.wait_ready(5)
    (part,) = parts("report via SR")
    mr = rig.modem.send(part.pdu, part.tpdu_length)
    rig.listener.wait(lambda r: len(r.reports) == 1)
    assert decode_pdu(rig.listener.reports[0]).reference == mr
    assert rig.emu.wait_until(lambda: not rig.emu.storage["SR"].listing(None), 2)


def test_routed_cmt_with_csms_1_is_acknowledged(make_rig, caplog):
    settings = FAST.__class__(**{**FAST.__dict__, "cnmi": "2,2,0,1,0", "csms": 1})
    rig = make_rig(settings=settings)
    assert rig.modem.wait_ready(5)
    with caplog.at_level(logging.DEBUG, logger="gateway.modem.at"):
        rig.emu.inject_sms("+447700900555", "routed")
        rig.listener.wait(lambda r: len(r.delivered) == 1)
        assert eventually(lambda: rig.emu.ack_pending is None)
    assert any(">> 'AT+CNMA\\r'" in m for m in rig.at_log(caplog))
    assert decode_pdu(rig.listener.delivered[0]).text == "routed"
    assert not rig.emu.storage["SM"].listing(None)      # mt=2: never stored
    assert rig.emu.s.cnmi[1] == 2                        # acked in time: routing kept


def test_ussd_balance(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    assert rig.modem.ussd("*100#", timeout=2) == "Your balance is 12.34 GBP."
    rig.net.set_ussd("*101#", "Guthaben: 3,00 EUR")
    assert rig.modem.ussd("*101#", timeout=2) == "Guthaben: 3,00 EUR"


@pytest.mark.parametrize("model, command", [("sim800", "AT+CPOWD=1"), ("sim7600", "AT+CPOF")])
def test_stop_with_power_off(make_rig, model, command):
    rig = make_rig(model)
    assert rig.modem.wait_ready(5)
    rig.modem.stop(power_off=True)
    assert rig.emu.wait_until(lambda: rig.emu.power_state == "off", 2)
    assert any(command in d for d in rig.listener.details(EventKind.POWERED_OFF))
    assert rig.modem.health().state is ModemState.STOPPED
    assert not any(t.name.startswith("modem-") and t.is_alive() for t in threading.enumerate()
                   if t.name.endswith(rig.profile.name))


def test_stop_joins_every_thread(make_rig):
    rig = make_rig()
    assert rig.modem.wait_ready(5)
    before = {t.name for t in threading.enumerate()}
    assert {"modem-sim800", "modem-sim800-at-reader", "modem-sim800-urc"} <= before
    rig.modem.stop()
    alive = {t.name for t in threading.enumerate() if t.is_alive()}
    assert not alive & {"modem-sim800", "modem-sim800-at-reader", "modem-sim800-urc"}


def test_a_second_opener_of_the_same_port_is_refused(tmp_path):
    """Two readers on one UART split its bytes between them (seen with a stale process that
    reopened a recycled pty): the driver opens the port exclusively."""
    import serial

    from gateway.emulator import EmulatorHost, Timing
    from gateway.modem.driver import Modem
    from gateway.modem.profiles import load_profile

    host = EmulatorHost(tmp_path, timing=Timing.fast())
    pty = host.start()
    holder = serial.serial_for_url(pty, timeout=0.1, exclusive=True)
    try:
        listener = Recorder()
        modem = Modem(pty, load_profile("waveshare-sim800"), listener)
        modem.start()
        try:
            listener.wait(lambda r: modem.health().state is ModemState.FAILED)
            assert "cannot open" in (modem.health().last_error or "")
            with pytest.raises(ModemUnavailableError):
                modem.send("00", 1)
        finally:
            modem.stop()
    finally:
        holder.close()
        host.stop()
