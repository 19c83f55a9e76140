"""SIM, functionality, radio, registration and USSD commands of the emulated modem.

Formats follow 3GPP TS 27.007 and the SIMCom manuals (HARDWARE.md 3.5, 4.2): PIN/PUK with the
attempt counters, AT+CFUN, AT+CSQ, AT+CREG/+CGREG/+CEREG with their URCs, AT+COPS, the
SIM7600's AT+CPSI?, and USSD answered by the virtual network.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gateway.emulator.atparse import Command, Kind
from gateway.emulator.commands_basic import HANDLERS, handles, info, sim_error
from gateway.emulator.result import Result
from gateway.emulator.state import SimState

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem


# --- SIM -----------------------------------------------------------------------------------------

@handles("+CPIN")
def cmd_cpin(m: "EmulatedModem", c: Command) -> Result:
    state = m.sim_state
    if c.kind is Kind.TEST:
        return Result()
    if c.kind is Kind.READ:
        if state in (SimState.ABSENT, SimState.BLOCKED):
            return sim_error(m) or m.error()
        return info(f"+CPIN: {state.value}")
    if c.kind is not Kind.SET:
        return m.error()
    if state in (SimState.ABSENT, SimState.BLOCKED):
        return sim_error(m) or m.error()
    if state is SimState.READY:
        return m.cme(3)
    if state is SimState.PIN:
        if c.str_arg(0) == m.pin:
            m.sim_state, m.pin_attempts = SimState.READY, 3
            return Result(after=m.sim_unlocked)
        m.pin_attempts -= 1
        if m.pin_attempts <= 0:
            m.sim_state = SimState.PUK
        return m.cme(16)
    if len(c.args) < 2:           # SIM PUK state: AT+CPIN="<puk>","<new pin>"
        return m.cme(12)
    if c.str_arg(0) == m.puk and c.str_arg(1):
        m.pin, m.sim_state, m.pin_attempts, m.puk_attempts = c.str_arg(1), SimState.READY, 3, 10
        return Result(after=m.sim_unlocked)
    m.puk_attempts -= 1
    if m.puk_attempts <= 0:
        m.sim_state = SimState.BLOCKED
    return m.cme(16)


@handles("+CFUN")
def cmd_cfun(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info(m.profile.cfun_test)
    if c.kind is Kind.READ:
        return info(f"+CFUN: {m.cfun}")
    if c.kind is not Kind.SET:
        return m.error()
    fun, rst = c.int_arg(0), c.int_arg(1, 0)
    allowed = {int(x) for x in re.findall(r"\d", m.profile.cfun_test.split("),")[0])}
    if "4-7" in m.profile.cfun_test:
        allowed |= {4, 5, 6, 7}
    if fun not in allowed or rst not in (0, 1):
        return m.error()
    if rst == 1:
        return Result(after=m.reset)
    m.cfun = fun
    m.update_registration()
    return Result()


# --- radio ---------------------------------------------------------------------------------------

@handles("+CSQ")
def cmd_csq(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info("+CSQ: (0-31,99),(0-7,99)")
    if c.kind is not Kind.EXEC:
        return m.error()
    radio_on = m.cfun == 1 and m.network_available
    rssi, ber = m.signal if radio_on else (99, 99)
    return info(f"+CSQ: {rssi},{ber}")


def creg_urc(m: "EmulatedModem", name: str, n: int) -> str:
    net = m.network
    if n == 2 and m.registered():
        return f'{name}: {m.reg_stat},"{net.lac}","{net.cell_id}"'
    return f"{name}: {m.reg_stat}"


def _creg(m: "EmulatedModem", c: Command) -> Result:
    attr = {"+CREG": "creg", "+CGREG": "cgreg", "+CEREG": "cereg"}[c.name]
    if c.name == "+CEREG" and not m.profile.lte:
        return m.error()
    if c.kind is Kind.TEST:
        return info(f"{c.name}: (0-2)")
    if c.kind is Kind.READ:
        n = getattr(m.s, attr)
        return info(f"{c.name}: {n}," + creg_urc(m, c.name, n).split(": ", 1)[1])
    if c.kind is Kind.SET and c.int_arg(0) in (0, 1, 2):
        setattr(m.s, attr, c.int_arg(0))
        return Result()
    return m.error()


HANDLERS["+CREG"] = HANDLERS["+CGREG"] = HANDLERS["+CEREG"] = _creg


@handles("+COPS")
def cmd_cops(m: "EmulatedModem", c: Command) -> Result:
    net = m.network
    act = ",7" if m.profile.lte else ""
    if c.kind is Kind.TEST:
        if (err := sim_error(m)) is not None:
            return err
        return info(f'+COPS: (2,"{net.operator}","{net.operator_short}","{net.plmn}"{act}),,'
                    f"(0-4),(0-2)")
    if c.kind is Kind.READ:
        if not m.registered():
            return info("+COPS: 0")
        name = {0: net.operator, 1: net.operator_short, 2: net.plmn}[m.s.cops_format]
        return info(f'+COPS: 0,{m.s.cops_format},"{name}"{act}')
    if c.kind is not Kind.SET:
        return m.error()
    mode, fmt = c.int_arg(0), c.int_arg(1)
    if mode not in (0, 1, 2, 3, 4) or (fmt is not None and fmt not in (0, 1, 2)):
        return m.error()
    if fmt is not None:
        m.s.cops_format = fmt
    if mode in (1, 4) and c.str_arg(2) not in (None, net.operator, net.operator_short, net.plmn):
        return m.cme(32) if mode == 1 else Result()
    if mode == 2:
        m.cfun_deregistered = True
        m.network_available = False
        m.update_registration()
    elif mode in (0, 1, 4) and m.cfun_deregistered:
        m.cfun_deregistered = False
        m.network_available = True
        m.update_registration()
    return Result()


@handles("+CPSI")
def cmd_cpsi(m: "EmulatedModem", c: Command) -> Result:
    if not m.profile.lte:
        return m.error()
    if c.kind is Kind.TEST:
        return info("+CPSI: (0-255)")
    if c.kind is Kind.SET:
        return Result()
    if c.kind is not Kind.READ:
        return m.error()
    if not m.registered():
        return info("+CPSI: NO SERVICE,Online")
    net = m.network
    mcc, mnc = net.plmn[:3], net.plmn[3:]
    rssi = m.signal[0]
    return info(f"+CPSI: LTE,Online,{mcc}-{mnc},0x{net.lac},{int(net.cell_id, 16)},"
                f"{int(net.cell_id, 16) % 504},EUTRAN-BAND3,1300,5,5,-95,-{1100 - rssi * 10},"
                f"-{800 - rssi * 10},15")


# --- USSD ----------------------------------------------------------------------------------------

@handles("+CUSD")
def cmd_cusd(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info("+CUSD: (0-2)")
    if c.kind is Kind.READ:
        return info(f"+CUSD: {m.cusd_n}")
    if c.kind is not Kind.SET:
        return m.error()
    n = c.int_arg(0, 0)
    if n not in (0, 1, 2):
        return m.error()
    m.cusd_n = n
    request = c.str_arg(1)
    if n == 2 or request is None:
        return Result()
    if (err := sim_error(m)) is not None:
        return err
    if not m.registered():
        return m.cme(30)
    ucs2 = m.s.cscs == "UCS2"
    if ucs2:
        request = bytes.fromhex(request).decode("utf-16-be")
    answer = m.network.ussd_answer(request, m.msisdn)
    if answer is None:
        line = "+CUSD: 4"
    elif ucs2:
        line = f'+CUSD: 0,"{answer.encode("utf-16-be").hex().upper()}",72'
    else:
        line = f'+CUSD: 0,"{answer}",15'
    if n == 0 and answer is not None:
        return Result()
    return Result(after=lambda: m.at(m.timing.ussd_delay, lambda: m.emit_line(line)))
