"""V.250 basics, identification, settings and power commands of the emulated modem.

Each handler takes the modem and one parsed command and returns a ``Result``; it runs under the
modem's lock. Model differences come from ``modem.profile`` only. Formats follow 3GPP TS 27.007
and the SIMCom manuals (HARDWARE.md sections 1, 3.1, 3.5, 4.2).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from gateway.emulator.atparse import Command, Kind
from gateway.emulator.result import Result
from gateway.emulator.state import SimState

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem

Handler = Callable[["EmulatedModem", Command], Result]
HANDLERS: dict[str, Handler] = {}



def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn
    return register


def info(*lines: str) -> Result:
    return Result(info=list(lines))


def flag(m: "EmulatedModem", c: Command, allowed: range = range(2)) -> int:
    value = c.int_arg(0, 0) if c.args else 0
    if value not in allowed:
        raise ValueError(value)
    return value


def sim_error(m: "EmulatedModem", sms: bool = False) -> "Result | None":
    """The error a SIM-dependent command gets when the SIM is absent or locked, else None."""
    codes = {SimState.ABSENT: (10, 310), SimState.PIN: (11, 311), SimState.PUK: (12, 316),
             SimState.BLOCKED: (13, 313)}
    if m.sim_state is SimState.READY:
        return None
    cme, cms = codes[m.sim_state]
    return m.cms(cms) if sms else m.cme(cme)


# --- V.250 basics ------------------------------------------------------------------------------

@handles("E")
def cmd_echo(m: "EmulatedModem", c: Command) -> Result:
    m.s.echo = bool(flag(m, c))
    return Result()


@handles("V")
def cmd_verbose(m: "EmulatedModem", c: Command) -> Result:
    m.s.verbose = bool(flag(m, c))
    return Result()


@handles("Q")
def cmd_quiet(m: "EmulatedModem", c: Command) -> Result:
    m.s.quiet = bool(flag(m, c))
    return Result()


@handles("X", "&C", "&D", "L", "M", "H")
def cmd_accepted(m: "EmulatedModem", c: Command) -> Result:
    flag(m, c, range(5))
    return Result()


@handles("Z", "&F", "&W")
def cmd_profile(m: "EmulatedModem", c: Command) -> Result:
    """ATZ restores the AT&W profile, AT&F the factory one; AT&W saves the current settings."""
    flag(m, c, range(1))
    if c.name == "&W":
        m.saved = replace(m.s)
    else:
        m.s = replace(m.saved if c.name == "Z" else m.factory)
    return Result()


@handles("&V")
def cmd_view(m: "EmulatedModem", c: Command) -> Result:
    s = m.s
    return info(f"E: {int(s.echo)}", f"Q: {int(s.quiet)}", f"V: {int(s.verbose)}",
                f"+CMEE: {s.cmee}", f"+IPR: {m.ipr}", f"+CMGF: {s.cmgf}",
                f'+CSCS: "{s.cscs}"', "+CNMI: " + ",".join(map(str, s.cnmi)))


@handles("I")
def cmd_info(m: "EmulatedModem", c: Command) -> Result:
    flag(m, c, range(1))
    return info(*(line.format(model=m.profile.model, imei=m.identity["imei"])
                  for line in m.profile.ati))


@handles("+CHUP")
def cmd_hang_up(m: "EmulatedModem", c: Command) -> Result:
    return Result() if c.kind in (Kind.EXEC, Kind.TEST) else m.error()


@handles("D")
def cmd_dial(m: "EmulatedModem", c: Command) -> Result:
    return Result(final="NO CARRIER")


_S_REGISTERS = {"S0": 0, "S3": 13, "S4": 10, "S5": 8, "S6": 2, "S7": 60, "S8": 2, "S10": 15}


def cmd_sreg(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.READ:
        return info(f"{_S_REGISTERS[c.name]:03d}")
    if c.kind is Kind.SET:
        value = c.int_arg(0, 0)
        if value is None or not 0 <= value <= 255:
            raise ValueError(value)
    return Result()


for _name in _S_REGISTERS:
    HANDLERS[_name] = cmd_sreg


# --- identification ------------------------------------------------------------------------------

def _ident(text: Callable[["EmulatedModem"], str], needs_sim: bool = False) -> Handler:
    def handler(m: "EmulatedModem", c: Command) -> Result:
        if c.kind is Kind.TEST:
            return Result()
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


def cmd_iccid(m: "EmulatedModem", c: Command) -> Result:
    if c.name not in m.profile.iccid_commands:
        return m.error()
    if c.kind is Kind.TEST:
        return Result()
    if m.sim_state is SimState.ABSENT:
        return m.cme(10)
    return info(m.profile.iccid_format.format(iccid=m.identity["iccid"]))


HANDLERS["+CCID"] = HANDLERS["+CICCID"] = cmd_iccid


# --- settings ------------------------------------------------------------------------------------

def setting(attr: str, test: str, allowed: set[int]) -> Handler:
    """A numeric setting with test, read and set forms, e.g. AT+CMEE."""
    def handler(m: "EmulatedModem", c: Command) -> Result:
        if c.kind is Kind.TEST:
            return info(test)
        if c.kind is Kind.READ:
            return info(f"{c.name}: {getattr(m.s, attr)}")
        if c.kind is Kind.SET:
            value = c.int_arg(0)
            if value not in allowed:
                return m.error()
            setattr(m.s, attr, value)
            return Result()
        return m.error()
    return handler


HANDLERS["+CMEE"] = setting("cmee", "+CMEE: (0-2)", {0, 1, 2})


@handles("+CSCS")
def cmd_cscs(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info(m.profile.cscs_test)
    if c.kind is Kind.READ:
        return info(f'+CSCS: "{m.s.cscs}"')
    if c.kind is Kind.SET and c.str_arg(0, "").upper() in m.profile.charsets:
        m.s.cscs = c.str_arg(0, "").upper()
        return Result()
    return m.error()


@handles("+IPR")
def cmd_ipr(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info(m.profile.ipr_test)
    if c.kind is Kind.READ:
        return info(f"+IPR: {m.ipr}")
    allowed = {int(x) for x in re.findall(r"\d+", m.profile.ipr_test)}
    if c.kind is Kind.SET and c.int_arg(0) in allowed:
        m.ipr = c.int_arg(0) or 0   # a saved setting: survives resets (HARDWARE.md 2.2)
        return Result()
    return m.error()


# --- power ---------------------------------------------------------------------------------------

@handles("+CPOWD", "+CPOF")
def cmd_power_off(m: "EmulatedModem", c: Command) -> Result:
    if c.name != m.profile.power_off_command:
        return m.error()
    if c.kind is Kind.TEST:
        return Result()
    delay = m.timing.power_off_delay
    if c.name == "+CPOF" and c.kind is Kind.EXEC:
        return Result(after=lambda: m.at(delay, lambda: m.power_off(urc=None)))
    if c.name == "+CPOWD" and c.kind is Kind.SET and c.int_arg(0) in (0, 1):
        urc = m.profile.power_down_urc if c.int_arg(0) == 1 else None
        if urc:   # the URC is the whole answer; then the module stops listening
            m.emit_line(urc)
        m.uart_up = False
        return Result(final=None, after=lambda: m.at(delay, lambda: m.power_off(urc=None)))
    return m.error()


@handles("+CBC")
def cmd_cbc(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return Result()
    if m.profile.lte:
        return info("+CBC: 4.080V")
    return info("+CBC: 0,85,4080")


@handles("+CCLK")
def cmd_cclk(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.READ:
        return info(m.now().strftime('+CCLK: "%y/%m/%d,%H:%M:%S+00"'))
    return Result()
