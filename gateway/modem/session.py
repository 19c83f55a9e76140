"""Bringing a modem that answers ``AT`` into service: the init dialog, PIN, storage, CNMI.

These functions talk to an ``AtChannel`` and return what they learnt; the driver owns the
state, the threads and the decisions around them (HARDWARE.md section 3.1).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from gateway.clock import Clock
from gateway.errors import AtCommandError, AtTimeoutError, CmeError, CmsError
from gateway.modem.at import AtChannel
from gateway.modem.errors import ModemRebootedError, ReplyFormatError
from gateway.modem.health import Registration, SimState
from gateway.modem.profiles import ModemProfile
from gateway.modem.replies import (choose_cnmi, choose_storage, parse_cpin, parse_ranges,
                                   parse_registration, parse_storage_options, split_fields)

log = logging.getLogger(__name__)

Report = Callable[[str], None]


@dataclass(frozen=True)
class Identity:
    model: str = ""
    revision: str = ""
    imei: str = ""
    imsi: str = ""
    iccid: str = ""


@dataclass(frozen=True)
class SessionInfo:
    """What init chose; the driver needs it for reads, acks and sends."""

    storage: str
    cnmi: str
    storages: tuple[str, ...]     # every memory AT+CPMS=? offers for reading
    cnma_needed: bool             # AT+CSMS service 1: +CMT/+CDS must be acknowledged
    cmms: bool                    # AT+CMMS accepted


def probe(channel: AtChannel, attempts: int, timeout: float) -> bool:
    """Send ``AT`` until something answers (an ERROR counts: the modem is alive).

    On SIM800 with autobaud the first ``AT`` only trains the rate, so ``attempts`` should be > 1.
    """
    for _ in range(max(1, attempts)):
        try:
            channel.command("AT", timeout=timeout)
            return True
        except AtCommandError:
            return True
        except (AtTimeoutError, ModemRebootedError):
            continue
    return False


def _optional(channel: AtChannel, command: str, timeout: float,
              expect: tuple[str, ...] = ()) -> str | None:
    """A command whose failure only costs information: None on an error result."""
    try:
        response = channel.command(command, expect=expect, timeout=timeout)
    except (CmsError, CmeError, AtCommandError) as exc:
        log.debug("%s not supported or refused: %s", command, exc)
        return None
    for prefix in expect:
        value = response.first(prefix)
        if value is not None:
            return value
    return response.text


def read_identity(channel: AtChannel, profile: ModemProfile, timeout: float) -> Identity:
    def clean(value: str | None, *drop: str) -> str:
        text = (value or "").strip().strip('"')
        for prefix in drop:
            if text.upper().startswith(prefix.upper()):
                text = text[len(prefix):].strip()
        return text

    return Identity(
        model=clean(_optional(channel, "AT+CGMM", timeout, ("+CGMM",))),
        revision=clean(_optional(channel, "AT+CGMR", timeout, ("+CGMR",)), "Revision:"),
        imei=clean(_optional(channel, "AT+CGSN", timeout, ("+CGSN",))),
        imsi=clean(_optional(channel, "AT+CIMI", timeout, ("+CIMI",))),
        iccid=_iccid(channel, profile, timeout, clean),
    )


_ICCID_COMMANDS = ("AT+CICCID", "AT+CCID")
_ICCID_PREFIXES = ("+ICCID", "+CCID", "+CICCID")


def _iccid(channel: AtChannel, profile: ModemProfile, timeout: float, clean: Any) -> str:
    """The profile's ICCID command, then the other spelling: SIM7600 firmwares differ in which
    of ``AT+CICCID`` / ``AT+CCID`` they answer, and an empty ICCID hides a swapped SIM."""
    order = (profile.iccid_command,) + tuple(c for c in _ICCID_COMMANDS if c != profile.iccid_command)
    for command in order:
        value = clean(_optional(channel, command, timeout, _ICCID_PREFIXES))
        if value:
            return str(value)
    return ""


def query_sim(channel: AtChannel, timeout: float) -> SimState:
    """``AT+CPIN?``, mapping the error answers of a missing or failed SIM."""
    try:
        value = channel.command("AT+CPIN?", expect=("+CPIN",), timeout=timeout).first("+CPIN")
    except (CmeError, CmsError) as exc:
        if exc.code in (10, 13, 15, 310, 313, 315):
            return SimState.ABSENT
        if exc.code in (14, 314, 515):
            return SimState.NOT_READY
        if exc.code in (11, 311):
            return SimState.PIN_REQUIRED
        if exc.code in (12, 316):
            return SimState.PUK_REQUIRED
        return SimState.UNKNOWN
    except AtCommandError:
        return SimState.UNKNOWN
    return parse_cpin(value or "")


def unlock_sim(channel: AtChannel, pin: str, timeout: float) -> bool:
    """One ``AT+CPIN="<pin>"`` attempt; False when the SIM rejected it."""
    try:
        channel.command(f'AT+CPIN="{pin}"', timeout=timeout)
    except (CmeError, CmsError, AtCommandError) as exc:
        log.error("the SIM rejected the configured PIN: %s", exc)
        return False
    return True


def query_registration(channel: AtChannel, profile: ModemProfile, timeout: float) -> Registration:
    """``AT+CREG?`` (and ``AT+CEREG?`` on LTE models): the best of the answers."""
    commands = [("AT+CREG?", "+CREG")] + ([("AT+CEREG?", "+CEREG")] if profile.lte else [])
    best = Registration.UNKNOWN
    for command, prefix in commands:
        try:
            value = channel.command(command, expect=(prefix,), timeout=timeout).first(prefix)
        except (CmeError, CmsError, AtCommandError):
            continue
        if value is None:
            continue
        try:
            state = parse_registration(value, query=True)
        except ValueError:
            continue
        if state.registered or best is Registration.UNKNOWN:
            best = state
        if state.registered:
            break
    return best


def wait_sms_ready(channel: AtChannel, timeout: float, deadline: float, clock: Clock,
                   stop: threading.Event, poll: float) -> bool:
    """Poll ``AT+CPMS?`` until SMS commands work (after "SMS Ready" / "SMS DONE")."""
    while True:
        try:
            channel.command("AT+CPMS?", expect=("+CPMS",), timeout=timeout)
            return True
        except (CmsError, CmeError, AtCommandError) as exc:
            log.debug("SMS not ready yet: %s", exc)
        if clock.monotonic() >= deadline or clock.wait(stop, poll):
            return False


def configure_sms(channel: AtChannel, profile: ModemProfile, *, smsc: str | None,
                  cnmi: str | None, csms: int | None, use_cmms: bool, timeout: float,
                  report: Report) -> SessionInfo:
    """PDU mode, SMSC, storage and new-message indications.  Raises when PDU mode is refused."""
    channel.command("AT+CMGF=0", timeout=timeout)
    if csms is not None:
        channel.command(f"AT+CSMS={csms}", expect=("+CSMS",), timeout=timeout)
    if smsc:
        channel.command(f'AT+CSCA="{smsc}"', timeout=timeout)
    else:
        current = _optional(channel, "AT+CSCA?", timeout, ("+CSCA",))
        if current is not None and not split_fields(current)[0]:
            report("no SMSC address on the SIM and none configured: sends will fail (CMS 330)")
    options = parse_storage_options(_optional(channel, "AT+CPMS=?", timeout, ("+CPMS",)) or "")
    storage = choose_storage(options, profile.storage)
    try:
        channel.command(f'AT+CPMS="{storage}","{storage}","{storage}"', expect=("+CPMS",),
                        timeout=timeout)
    except (CmsError, CmeError, AtCommandError):
        channel.command(f'AT+CPMS="{storage}","{storage}"', expect=("+CPMS",), timeout=timeout)
    readable = tuple(dict.fromkeys(options[0])) if options else (storage,)
    ranges = parse_ranges(_optional(channel, "AT+CNMI=?", timeout, ("+CNMI",)) or "")
    chosen = cnmi or choose_cnmi(ranges, stored_reports="SR" in readable)
    if csms is None and _phase2_service(channel, chosen, timeout):
        if _optional(channel, "AT+CSMS=1", timeout, ("+CSMS",)) is None:
            report("AT+CSMS=1 refused: inline reports that arrive while simgate is down are lost")
    for candidate in dict.fromkeys((chosen, "2,1,0,1,0", "2,1,0,0,0", "1,1,0,0,0")):
        try:
            channel.command(f"AT+CNMI={candidate}", timeout=timeout)
            chosen = candidate
            break
        except (CmsError, CmeError, AtCommandError):
            report(f"AT+CNMI={candidate} refused")
    else:
        report("no AT+CNMI setting accepted: new SMS are only found by rescans")
        chosen = ""
    service = _optional(channel, "AT+CSMS?", timeout, ("+CSMS",))
    cnma_needed = bool(service) and split_fields(service or "")[0] == "1"
    cmms = use_cmms and _optional(channel, "AT+CMMS=?", timeout, ("+CMMS",)) is not None
    # Registration URCs on change, long operator names: helpful, never required.
    _optional(channel, "AT+CREG=1", timeout)
    if profile.lte:
        _optional(channel, "AT+CEREG=1", timeout)
    _optional(channel, "AT+COPS=3,0", timeout)
    return SessionInfo(storage, chosen, readable, cnma_needed, cmms)


def routes_inline(cnmi: str) -> bool:
    """True when the CNMI setting hands SMS (mt 2/3) or reports (ds 1) over inline, as
    ``+CMT`` / ``+CDS`` that exist nowhere but on the wire."""
    fields = split_fields(cnmi)
    mt = fields[1] if len(fields) > 1 else ""
    ds = fields[3] if len(fields) > 3 else ""
    return mt in ("2", "3") or ds == "1"


def _phase2_service(channel: AtChannel, cnmi: str, timeout: float) -> bool:
    """Whether to ask for service 1 (phase 2+: every +CMT/+CDS waits for our AT+CNMA, else the network sends it
    again): when something is routed inline and the modem offers it.

    Without it an inline report that arrives while the gateway is down or restarting is
    acknowledged by the modem itself and lost.
    """
    if not routes_inline(cnmi):
        return False
    offered = _optional(channel, "AT+CSMS=?", timeout, ("+CSMS",))
    try:
        services = parse_ranges(offered or "")
    except ReplyFormatError:
        return False
    return bool(services) and 1 in services[0]
