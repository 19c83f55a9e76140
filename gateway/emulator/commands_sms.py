"""The SMS command set of the emulated modem in PDU mode (3GPP TS 27.005), and SMS arrival.

Sending goes ``AT+CMGS=<n>`` -> ``> `` -> hex + Ctrl-Z -> ``finish_pdu`` -> the virtual network;
what arrives from the network is routed in ``arrival``. PDUs are parsed by the project's codec
(``gateway.sms``); this module only frames them.
"""
from __future__ import annotations

import string
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.emulator import text_mode
from gateway.emulator.atparse import Command, Kind
from gateway.emulator.commands_basic import Handler, info, setting, sim_error
from gateway.emulator.result import Prompt, Result
from gateway.emulator.storage import Memory, Stat, StorageFull, StoredMessage
from gateway.errors import PduError
from gateway.sms import Submit, decode_pdu, encode_submit, tpdu_length

if TYPE_CHECKING:
    from gateway.emulator.modem import EmulatedModem

HANDLERS: dict[str, Handler] = {}



def sms_command(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler that first answers as the modem does when SMS is not usable yet."""
    def register(fn: Handler) -> Handler:
        def guarded(m: "EmulatedModem", c: Command) -> Result:
            if (err := sim_error(m, sms=True)) is not None:
                return err
            if not m.sms_ready:
                code = m.profile.sms_not_ready_cms
                return m.error() if code is None else m.cms(code)
            return fn(m, c)
        for name in names:
            HANDLERS[name] = guarded
        return fn
    return register


def memory(m: "EmulatedModem", name: str) -> Memory:
    """The real memory behind a name the host used (aliases such as "MT" or "SM_P")."""
    real = dict(m.profile.memory_aliases).get(name, name)
    return m.storage[real]


sms_command("+CMGF")(setting("cmgf", "+CMGF: (0,1)", {0, 1}))
sms_command("+CMMS")(setting("cmms", "+CMMS: (0-2)", {0, 1, 2}))


@sms_command("+CSCA")
def cmd_csca(m: "EmulatedModem", c: Command) -> Result:
    ucs2 = m.s.cscs == "UCS2"
    if c.kind is Kind.TEST:
        return Result()
    if c.kind is Kind.READ:
        number = m.csca.encode("utf-16-be").hex().upper() if ucs2 else m.csca
        kind = 145 if m.csca.startswith("+") else 129
        return info(f'+CSCA: "{number}",{kind}')
    if c.kind is Kind.SET and c.str_arg(0) is not None:
        number = c.str_arg(0) or ""
        m.csca = bytes.fromhex(number).decode("utf-16-be") if ucs2 else number
        return Result()
    return m.error()


@sms_command("+CPMS")
def cmd_cpms(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info(m.profile.cpms_test)
    if c.kind is Kind.READ:
        parts = [f'"{name}",{memory(m, name).used},{memory(m, name).capacity}' for name in m.s.cpms]
        return info("+CPMS: " + ",".join(parts))
    if c.kind is not Kind.SET or not c.args:
        return m.error()
    names = [(c.str_arg(i) or m.s.cpms[i]).upper() for i in range(min(3, len(c.args)))]
    known = set(m.profile.memories) | set(dict(m.profile.memory_aliases))
    if any(name not in known for name in names):
        return m.cms(302)
    m.s.cpms = tuple(names + list(m.s.cpms[len(names):]))  # type: ignore[assignment]
    counts = [f"{memory(m, n).used},{memory(m, n).capacity}" for n in m.s.cpms]
    return info("+CPMS: " + ",".join(counts))


@sms_command("+CNMI")
def cmd_cnmi(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info(m.profile.cnmi_test)
    if c.kind is Kind.READ:
        return info("+CNMI: " + ",".join(map(str, m.s.cnmi)))
    if c.kind is not Kind.SET:
        return m.error()
    values = [c.int_arg(i, 0) or 0 for i in range(5)]
    if len(c.args) > 5 or any(v not in r for v, r in zip(values, m.profile.cnmi_ranges)):
        return m.error()
    m.s.cnmi = tuple(values)  # type: ignore[assignment]
    if values[0] != 0 and m.urc_buffer:
        if values[4] == 0:
            return Result(after=m.flush_urc_buffer)
        m.urc_buffer = []
    return Result()


@sms_command("+CSMS")
def cmd_csms(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info("+CSMS: (0,1)")
    if c.kind is Kind.READ:
        return info(f"+CSMS: {m.s.csms},1,1,1")
    if c.kind is Kind.SET and c.int_arg(0) in (0, 1):
        m.s.csms = c.int_arg(0) or 0
        return info("+CSMS: 1,1,1")
    return m.error()


@sms_command("+CNMA")
def cmd_cnma(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return info("+CNMA: (0-2)")
    if c.kind not in (Kind.EXEC, Kind.SET) or m.s.csms != 1 or m.ack_pending is None:
        return m.cms(340)
    m.ack_pending = None
    return Result()


@sms_command("+CSMP")
def cmd_csmp(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return Result()
    if c.kind is Kind.READ:
        return info("+CSMP: " + ",".join(map(str, m.s.csmp)))
    if c.kind is Kind.SET:
        values = [c.int_arg(i, m.s.csmp[i]) or 0 for i in range(4)]
        if any(not 0 <= v <= 255 for v in values):
            return m.error()
        m.s.csmp = tuple(values)  # type: ignore[assignment]
        return Result()
    return m.error()


@sms_command("+CSDH", "+CSAS", "+CRES")
def cmd_text_mode_settings(m: "EmulatedModem", c: Command) -> Result:
    return Result()


def _pdu_length_arg(c: Command) -> int:
    length = c.int_arg(0)
    if length is None or not 1 <= length <= 255:
        raise ValueError(length)
    return length


@sms_command("+CMGS")
def cmd_cmgs(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return Result()
    if c.kind is not Kind.SET:
        return m.error()
    if m.s.cmgf == 1:      # AT+CMGS="<da>"[,<toda>]
        return Result(prompt=Prompt("text", destination=_destination(m, c)))
    return Result(prompt=Prompt("pdu", length=_pdu_length_arg(c)))


@sms_command("+CMGW")
def cmd_cmgw(m: "EmulatedModem", c: Command) -> Result:
    if c.kind is Kind.TEST:
        return Result()
    if m.s.cmgf == 1:      # AT+CMGW[="<da>"[,<toda>[,<stat>]]]
        name = (c.str_arg(2) or "STO UNSENT").upper()
        if c.kind not in (Kind.EXEC, Kind.SET) or text_mode.STAT_BY_NAME.get(name) is None:
            return m.error()
        return Result(prompt=Prompt("text", store=True, stat=int(text_mode.STAT_BY_NAME[name]),
                                    destination=c.str_arg(0) or ""))
    if c.kind is not Kind.SET:
        return m.error()
    stat = c.int_arg(1, int(Stat.STO_UNSENT))
    if stat not in (0, 1, 2, 3):
        return m.error()
    return Result(prompt=Prompt("pdu", store=True, length=_pdu_length_arg(c), stat=stat))


def _destination(m: "EmulatedModem", c: Command) -> str:
    number = c.str_arg(0)
    if not number:
        raise ValueError("no destination")
    return bytes.fromhex(number).decode("utf-16-be") if m.s.cscs == "UCS2" else number


def _stored(m: "EmulatedModem", c: Command, slot: int
            ) -> tuple[Memory, int, StoredMessage] | Result:
    """The message AT+CMSS / AT+CMGR name in CPMS memory ``slot``, or the answer to give."""
    if c.kind is not Kind.SET:
        return Result() if c.kind is Kind.TEST else m.error()
    mem = memory(m, m.s.cpms[slot])
    index = c.int_arg(0)
    stored = mem.get(index) if index is not None else None
    return m.cms(321) if index is None or stored is None else (mem, index, stored)


@sms_command("+CMSS")
def cmd_cmss(m: "EmulatedModem", c: Command) -> Result:
    found = _stored(m, c, 1)
    if isinstance(found, Result):
        return found
    mem, index, stored = found
    pdu = stored.pdu
    submit = _decode_submit(pdu)
    if submit is None:
        return m.cms(304)
    if c.str_arg(1):   # AT+CMSS=<index>,<da>[,<toda>]: the same message to another number
        pdu = encode_submit(c.str_arg(1) or "", dcs=submit.dcs, user_data=submit.user_data,
                            udl=submit.udl, udhi=submit.udhi, pid=submit.pid,
                            status_report=submit.status_report_requested,
                            reject_duplicates=submit.reject_duplicates,
                            validity=submit.validity, smsc=submit.smsc)
        submit = _decode_submit(pdu) or submit
    return send_submit(m, pdu, submit, "+CMSS", lambda: mem.set_stat(index, Stat.STO_SENT))


_STATS = {0: Stat.REC_UNREAD, 1: Stat.REC_READ, 2: Stat.STO_UNSENT, 3: Stat.STO_SENT, 4: None}


@sms_command("+CMGL")
def cmd_cmgl(m: "EmulatedModem", c: Command) -> Result:
    text = m.s.cmgf == 1
    if c.kind is Kind.TEST:
        return info('+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")' if text
                    else "+CMGL: (0-4)")
    if c.kind not in (Kind.EXEC, Kind.SET):
        return m.error()
    if text:
        name = (c.str_arg(0) or "REC UNREAD").upper()
        if name not in text_mode.STAT_BY_NAME:
            return m.error()
        wanted = text_mode.STAT_BY_NAME[name]
    else:
        if c.args and c.quoted and c.quoted[0]:
            return m.cms(304)   # "ALL" etc. belong to text mode
        if c.int_arg(0, 0) not in _STATS:
            return m.error()
        wanted = _STATS[c.int_arg(0, 0) or 0]
    if c.int_arg(1, 0) not in (0, 1):
        return m.error()
    mem = memory(m, m.s.cpms[0])
    lines: list[str] = []
    for index, msg in mem.listing(wanted):
        lines += _entry(m, f"+CMGL: {index},", msg)
        if msg.stat is Stat.REC_UNREAD and c.int_arg(1, 0) == 0:
            mem.set_stat(index, Stat.REC_READ)
    return info(*lines) if lines else Result()


def _entry(m: "EmulatedModem", prefix: str, msg: StoredMessage) -> list[str]:
    """One +CMGL / +CMGR entry: PDU mode ``<stat>,,<length>`` + PDU, or the text-mode form."""
    if m.s.cmgf == 0:
        return [f"{prefix}{int(msg.stat)},,{msg.tpdu_length}", msg.pdu]
    fields, body = text_mode.render(msg.stat, msg.pdu, m.s.cscs)
    return [prefix + fields] + ([] if body is None else [body])


@sms_command("+CMGR")
def cmd_cmgr(m: "EmulatedModem", c: Command) -> Result:
    found = _stored(m, c, 0)
    if isinstance(found, Result):
        return found
    mem, index, msg = found
    if msg.stat is Stat.REC_UNREAD and c.int_arg(1, 0) == 0:
        mem.set_stat(index, Stat.REC_READ)
    return info(*_entry(m, "+CMGR: ", msg))


_DELFLAGS = {1: {Stat.REC_READ}, 2: {Stat.REC_READ, Stat.STO_SENT},
             3: {Stat.REC_READ, Stat.STO_SENT, Stat.STO_UNSENT}, 4: set(Stat)}


@sms_command("+CMGD")
def cmd_cmgd(m: "EmulatedModem", c: Command) -> Result:
    mem = memory(m, m.s.cpms[0])
    if c.kind is Kind.TEST:
        used = ",".join(str(i) for i in sorted(mem.slots))
        return info(f"+CMGD: ({used}),(0-4)")
    if c.kind is not Kind.SET:
        return m.error()
    index, delflag = c.int_arg(0), c.int_arg(1, 0)
    if delflag not in (0, 1, 2, 3, 4):
        return m.error()
    if delflag == 0:
        if index is None or not mem.valid_index(index):
            return m.cms(321)
        mem.delete(index)
    else:
        mem.delete_where(_DELFLAGS[delflag])
    m.notify()
    return Result(after=lambda: m.network.flush(m))


# --- the PDU after the prompt ---------------------------------------------------------------------

def _decode_submit(pdu: str) -> Submit | None:
    """The SMS-SUBMIT in ``pdu``, or None when it is malformed or another kind of TPDU."""
    try:
        decoded = decode_pdu(pdu)
    except PduError:
        return None
    return decoded if isinstance(decoded, Submit) else None


def finish_input(m: "EmulatedModem", prompt: Prompt, data: str) -> Result:
    """Ctrl-Z arrived after the ``> `` prompt."""
    if prompt.kind == "text":
        return text_mode.finish_text(m, prompt, data)
    return finish_pdu(m, prompt, data)


def finish_pdu(m: "EmulatedModem", prompt: Prompt, pdu: str) -> Result:
    """Check the PDU against the announced length, then store or send it."""
    if (len(pdu) < 2 or len(pdu) % 2 or any(ch not in string.hexdigits for ch in pdu)
            or tpdu_length(pdu) != prompt.length):
        return m.cms(304)
    pdu = pdu.upper()
    if prompt.store:
        try:
            index = memory(m, m.s.cpms[1]).store(StoredMessage(Stat(prompt.stat), pdu))
        except StorageFull:
            return m.cms(322)
        return info(f"+CMGW: {index}")
    submit = _decode_submit(pdu)
    if submit is None:
        return m.cms(304)
    return send_submit(m, pdu, submit, "+CMGS", None)


def send_submit(m: "EmulatedModem", pdu: str, submit: Submit, answer: str,
                on_sent: Callable[[], None] | None) -> Result:
    """The radio part of AT+CMGS / AT+CMSS: errors, in-doubt, TP-MR, latency, the network."""
    if pdu.startswith("00") and not m.csca:
        return m.cms(330)
    if not m.registered():
        return m.cms(331)
    now = m.clock.monotonic()
    latency = m.timing.cmgs_latency + m.random.uniform(0.0, m.timing.cmgs_jitter)
    if m.s.cmms and m.last_send_end is not None and now - m.last_send_end <= 5.0:
        latency *= m.timing.cmms_factor
    code = m.faults.take_cms_error()
    if code is not None:
        return Result(final=f"+CMS ERROR: {code}", delay=latency)
    mr, m.next_mr = m.next_mr, (m.next_mr + 1) % 256

    def accepted(report_now: bool = False) -> None:
        m.last_send_end = m.clock.monotonic()
        if on_sent:
            on_sent()
        m.network.submit(m, submit, mr, pdu, report_now=report_now)

    if m.faults.take_in_doubt():
        accepted()
        return Result(final=None)
    if m.faults.take_reset_after_send():
        def sent_then_reset() -> None:   # a brown-out after the network took it, before +CMGS
            accepted()
            m.reset()
        return Result(final=None, delay=latency, after=sent_then_reset)
    if m.faults.take_report_before_result():
        def report_then_result() -> None:   # the SC answered before the modem told the host
            accepted(report_now=True)
            m.write(m._frame([[f"{answer}: {mr}"]], "OK"))
        return Result(final=None, delay=latency, after=report_then_result)
    return Result(info=[f"{answer}: {mr}"], delay=latency, after=accepted)
