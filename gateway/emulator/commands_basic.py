"""V.250 basics, identification, SIM, power, radio and USSD commands of the emulated modem.

Each handler takes the modem and one parsed command and returns a ``Result``; it runs under the
modem's lock. Model differences come from ``modem.profile`` only. Formats follow 3GPP TS 27.007
and the SIMCom manuals (HARDWARE.md sections 1, 3.1, 3.5, 4.2).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.emulator.atparse import Command, Kind

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem, Result

Handler = Callable[["EmulatedModem", Command], "Result"]
HANDLERS: dict[str, Handler] = {}


def _result(**kwargs: object) -> "Result":
    from gateway.emulator.modem import Result
    return Result(**kwargs)  # type: ignore[arg-type]


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn
    return register


def info(*lines: str) -> "Result":
    return _result(info=list(lines))


def flag(m: "EmulatedModem", c: Command, allowed: range = range(2)) -> int:
    value = c.int_arg(0, 0) if c.args else 0
    if value not in allowed:
        raise ValueError(value)
    return value


def sim_error(m: "EmulatedModem", sms: bool = False) -> "Result | None":
    """The error a SIM-dependent command gets when the SIM is absent or locked, else None."""
    from gateway.emulator.modem import SimState
    codes = {SimState.ABSENT: (10, 310), SimState.PIN: (11, 311), SimState.PUK: (12, 316),
             SimState.BLOCKED: (13, 313)}
    if m.sim_state is SimState.READY:
        return None
    cme, cms = codes[m.sim_state]
    return m.cms(cms) if sms else m.cme(cme)


# --- V.250 basics ------------------------------------------------------------------------------

@handles("E")
def cmd_echo(m: "EmulatedModem", c: Command) -> "Result":
    m.s.echo = bool(flag(m, c))
    return _result()


@handles("V")
def cmd_verbose(m: "EmulatedModem", c: Command) -> "Result":
    m.s.verbose = bool(flag(m, c))
    return _result()


@handles("Q")
def cmd_quiet(m: "EmulatedModem", c: Command) -> "Result":
    m.s.quiet = bool(flag(m, c))
    return _result()


@handles("X", "&C", "&D", "L", "M", "H")
def cmd_accepted(m: "EmulatedModem", c: Command) -> "Result":
    flag(m, c, range(5))
    return _result()


@handles("Z")
def cmd_reset_profile(m: "EmulatedModem", c: Command) -> "Result":
    from dataclasses import replace
    flag(m, c, range(1))
    m.s = replace(m.saved)
    return _result()


@handles("&F")
def cmd_factory(m: "EmulatedModem", c: Command) -> "Result":
    from dataclasses import replace
    flag(m, c, range(1))
    m.s = replace(m.factory)
    return _result()


@handles("&W")
def cmd_save(m: "EmulatedModem", c: Command) -> "Result":
    from dataclasses import replace
    flag(m, c, range(1))
    m.saved = replace(m.s)
    return _result()


@handles("&V")
def cmd_view(m: "EmulatedModem", c: Command) -> "Result":
    s = m.s
    return info(f"E: {int(s.echo)}", f"Q: {int(s.quiet)}", f"V: {int(s.verbose)}",
                f"+CMEE: {s.cmee}", f"+IPR: {m.ipr}", f"+CMGF: {s.cmgf}",
                f'+CSCS: "{s.cscs}"', "+CNMI: " + ",".join(map(str, s.cnmi)))


@handles("I")
def cmd_info(m: "EmulatedModem", c: Command) -> "Result":
    flag(m, c, range(1))
    return info(*(line.format(model=m.profile.model, imei=m.identity["imei"])
                  for line in m.profile.ati))


@handles("+CHUP")
def cmd_hang_up(m: "EmulatedModem", c: Command) -> "Result":
    return _result() if c.kind in (Kind.EXEC, Kind.TEST) else m.error()


@handles("D")
def cmd_dial(m: "EmulatedModem", c: Command) -> "Result":
    return _result(final="NO CARRIER")


_S_REGISTERS = {"S0": 0, "S3": 13, "S4": 10, "S5": 8, "S6": 2, "S7": 60, "S8": 2, "S10": 15}


def cmd_sreg(m: "EmulatedModem", c: Command) -> "Result":
    if c.kind is Kind.READ:
        return info(f"{_S_REGISTERS[c.name]:03d}")
    if c.kind is Kind.SET:
        value = c.int_arg(0, 0)
        if value is None or not 0 <= value <= 255:
            raise ValueError(value)
    return _result()


for _name in _S_REGISTERS:
    HANDLERS[_name] = cmd_sreg


# --- identification ------------------------------------------------------------------------------

def _ident(text: Callable[["EmulatedModem"], str], needs_sim: bool = False) -> Handler:
    def handler(m: "EmulatedModem", c: Command) -> "Result":
        if c.kind is Kind.TEST:
            return _result()
        if c.kind is not Kind.EXEC:
            return m.error()
        if needs_sim and (err := sim_error(m)) is not None:
            return err
        return info(text(m))
    return handler


for _names, _fn, _sim in (
        (("+CGMI", "+GMI"), lambda m: m.profile.manufacturer, False),
        (("+CGMM", "+GMM"), lambda m: m.profile.model, False),
        (("+CGMR", "+GMR"), lambda m: m.profile.revision_format.format(revision=m.profile.revision),
         False),
        (("+CGSN", "+GSN"), lambda m: m.identity["imei"], False),
        (("+CIMI",), lambda m: m.identity["imsi"], True),
        (("+GCAP",), lambda m: m.profile.gcap, False),
        (("+CNUM",), lambda m: f'+CNUM: "","{m.msisdn}",{145 if m.msisdn.startswith("+") else 129}',
         True)):
    for _n in _names:
        HANDLERS[_n] = _ident(_fn, _sim)


def cmd_iccid(m: "EmulatedModem", c: Command) -> "Result":
    if c.name not in m.profile.iccid_commands:
        return m.error()
    from gateway.emulator.modem import SimState
    if c.kind is Kind.TEST:
        return _result()
    if m.sim_state is SimState.ABSENT:
        return m.cme(10)
    return info(m.profile.iccid_format.format(iccid=m.identity["iccid"]))


HANDLERS["+CCID"] = HANDLERS["+CICCID"] = cmd_iccid


# --- SIM -----------------------------------------------------------------------------------------

@handles("+CPIN")
def cmd_cpin(m: "EmulatedModem", c: Command) -> "Result":
    from gateway.emulator.modem import SimState
    state = m.sim_state
    if c.kind is Kind.TEST:
        return _result()
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
            return _result(after=m.sim_unlocked)
        m.pin_attempts -= 1
        if m.pin_attempts <= 0:
            m.sim_state = SimState.PUK
        return m.cme(16)
    if len(c.args) < 2:           # SIM PUK state: AT+CPIN="<puk>","<new pin>"
        return m.cme(12)
    if c.str_arg(0) == m.puk and c.str_arg(1):
        m.pin, m.sim_state, m.pin_attempts, m.puk_attempts = c.str_arg(1), SimState.READY, 3, 10
        return _result(after=m.sim_unlocked)
    m.puk_attempts -= 1
    if m.puk_attempts <= 0:
        m.sim_state = SimState.BLOCKED
    return m.cme(16)


# --- settings ------------------------------------------------------------------------------------

def _setting(attr: str, test: str, allowed: Callable[["EmulatedModem"], set[int]]) -> Handler:
    def handler(m: "EmulatedModem", c: Command) -> "Result":
        if c.kind is Kind.TEST:
            return info(test)
        if c.kind is Kind.READ:
            return info(f"{c.name}: {getattr(m.s, attr)}")
        if c.kind is Kind.SET:
            value = c.int_arg(0)
            if value not in allowed(m):
                return m.error()
            setattr(m.s, attr, value)
            return _result()
        return m.error()
    return handler


HANDLERS["+CMEE"] = _setting("cmee", "+CMEE: (0-2)", lambda m: {0, 1, 2})


@handles("+CSCS")
def cmd_cscs(m: "EmulatedModem", c: Command) -> "Result":
    if c.kind is Kind.TEST:
        return info(m.profile.cscs_test)
    if c.kind is Kind.READ:
        return info(f'+CSCS: "{m.s.cscs}"')
    if c.kind is Kind.SET and c.str_arg(0, "").upper() in m.profile.charsets:
        m.s.cscs = c.str_arg(0, "").upper()
        return _result()
    return m.error()


@handles("+IPR")
def cmd_ipr(m: "EmulatedModem", c: Command) -> "Result":
    if c.kind is Kind.TEST:
        return info(m.profile.ipr_test)
    if c.kind is Kind.READ:
        return info(f"+IPR: {m.ipr}")
    allowed = {int(x) for x in re.findall(r"\d+", m.profile.ipr_test)}
    if c.kind is Kind.SET and c.int_arg(0) in allowed:
        m.ipr = c.int_arg(0) or 0   # a saved setting: survives resets (HARDWARE.md 2.2)
        return _result()
    return m.error()


@handles("+CFUN")
def cmd_cfun(m: "EmulatedModem", c: Command) -> "Result":
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
        return _result(after=m.reset)
    m.cfun = fun
    m.update_registration()
    return _result()


# --- radio ---------------------------------------------------------------------------------------

@handles("+CSQ")
def cmd_csq(m: "EmulatedModem", c: Command) -> "Result":
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


def _creg(m: "EmulatedModem", c: Command) -> "Result":
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
        return _result()
    return m.error()


HANDLERS["+CREG"] = HANDLERS["+CGREG"] = HANDLERS["+CEREG"] = _creg


@handles("+COPS")
def cmd_cops(m: "EmulatedModem", c: Command) -> "Result":
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
        return m.cme(32) if mode == 1 else _result()
    if mode == 2:
        m.cfun_deregistered = True
        m.network_available = False
        m.update_registration()
    elif mode in (0, 1, 4) and m.cfun_deregistered:
        m.cfun_deregistered = False
        m.network_available = True
        m.update_registration()
    return _result()


@handles("+CPSI")
def cmd_cpsi(m: "EmulatedModem", c: Command) -> "Result":
    if not m.profile.lte:
        return m.error()
    if c.kind is Kind.TEST:
        return info("+CPSI: (0-255)")
    if c.kind is Kind.SET:
        return _result()
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


# --- power ---------------------------------------------------------------------------------------

@handles("+CPOWD", "+CPOF")
def cmd_power_off(m: "EmulatedModem", c: Command) -> "Result":
    if c.name != m.profile.power_off_command:
        return m.error()
    if c.kind is Kind.TEST:
        return _result()
    delay = m.timing.power_off_delay
    if c.name == "+CPOF" and c.kind is Kind.EXEC:
        return _result(after=lambda: m.at(delay, lambda: m.power_off(urc=None)))
    if c.name == "+CPOWD" and c.kind is Kind.SET and c.int_arg(0) in (0, 1):
        urc = m.profile.power_down_urc if c.int_arg(0) == 1 else None
        if urc:   # the URC is the whole answer; then the module stops listening
            m.emit_line(urc)
        m.uart_up = False
        return _result(final=None, after=lambda: m.at(delay, lambda: m.power_off(urc=None)))
    return m.error()


@handles("+CBC")
def cmd_cbc(m: "EmulatedModem", c: Command) -> "Result":
    if c.kind is Kind.TEST:
        return _result()
    if m.profile.lte:
        return info("+CBC: 4.080V")
    return info("+CBC: 0,85,4080")


@handles("+CCLK")
def cmd_cclk(m: "EmulatedModem", c: Command) -> "Result":
    if c.kind is Kind.READ:
        return info(m.now().strftime('+CCLK: "%y/%m/%d,%H:%M:%S+00"'))
    return _result()


# --- USSD ----------------------------------------------------------------------------------------

@handles("+CUSD")
def cmd_cusd(m: "EmulatedModem", c: Command) -> "Result":
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
        return _result()
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
        return _result()
    return _result(after=lambda: m.at(m.timing.ussd_delay, lambda: m.emit_line(line)))
