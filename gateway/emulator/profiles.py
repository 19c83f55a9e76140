"""What differs between the emulated SIMCom models, as data.

Everything a driver can observe that differs by model lives here (HARDWARE.md sections 1, 2.2,
3.5 and the section 8 checklist), so the command code has no ``if profile == ...`` branches.
Strings not confirmed by a manual or a capture are marked in docs/emulator.md.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    manufacturer: str                 # AT+CGMI / AT+GMI
    model: str                        # AT+CGMM / AT+GMM
    revision: str                     # AT+CGMR / AT+GMR, formatted with revision_format
    revision_format: str
    ati: tuple[str, ...]              # ATI lines; {model} {revision} {imei} are filled in
    gcap: str
    iccid_format: str                 # AT+CCID answer; {iccid}
    iccid_commands: tuple[str, ...]
    boot_banners: tuple[tuple[float, str], ...]
    """(fraction of the boot time, URC). ``{cpin}`` is replaced by the SIM state."""
    sim_ready_banners: tuple[str, ...]
    """Banners that follow ``+CPIN: READY`` once a PIN is entered (network and SMS become ready)."""
    register_at: float                # fraction of the boot time at which the network registers
    sms_ready_at: float               # fraction of the boot time at which SMS commands work
    uart_up_at: float                 # fraction of the boot time from which AT is understood
    boot_time: float                  # real seconds from power-on to the last banner
    rdy_needs_fixed_baud: bool        # SIM800: RDY is not sent while autobaud (IPR=0) is on
    ipr_default: int
    ipr_test: str
    index_base: int
    memories: tuple[str, ...]         # the memories this model really has
    memory_aliases: tuple[tuple[str, str], ...]
    capacity: tuple[tuple[str, int], ...]
    cpms_test: str
    cnmi_test: str
    cnmi_ranges: tuple[frozenset[int], ...]  # mode, mt, bm, ds, bfr
    cnmi_default: tuple[int, int, int, int, int]
    sms_not_ready_cms: int | None     # None: plain ERROR before "SMS Ready"
    status_report_memory: str | None  # where ds=2 stores reports (+CDSI); None: ds=2 impossible
    power_off_command: str            # "+CPOWD" or "+CPOF"
    power_down_urc: str
    cmee_default: int
    cfun_test: str
    cscs_test: str
    charsets: tuple[str, ...]
    lte: bool                         # AT+CEREG, AT+CPSI?, AcT 7 in +COPS
    under_voltage_urcs: tuple[str, ...]

    def capacity_of(self, memory: str) -> int:
        return dict(self.capacity)[memory]


SIM800 = Profile(
    name="sim800",
    manufacturer="SIMCOM_Ltd",
    model="SIMCOM_SIM800",
    revision="1418B04SIM800M32",
    revision_format="Revision:{revision}",
    ati=("SIM800 R14.18",),
    gcap="+GCAP: +CGSM",
    iccid_format="{iccid}",
    iccid_commands=("+CCID",),
    boot_banners=((0.2, "RDY"), (0.3, "+CFUN: 1"), (0.35, "+CPIN: {cpin}"), (0.8, "Call Ready"),
                  (1.0, "SMS Ready")),
    sim_ready_banners=("Call Ready", "SMS Ready"),
    register_at=0.8,
    sms_ready_at=1.0,
    uart_up_at=0.2,
    boot_time=6.0,
    rdy_needs_fixed_baud=True,
    ipr_default=0,
    ipr_test="+IPR: (),(0,1200,2400,4800,9600,19200,38400,57600,115200,230400,460800)",
    index_base=1,
    memories=("SM", "ME"),
    memory_aliases=(("SM_P", "SM"), ("ME_P", "ME"), ("MT", "SM")),
    capacity=(("SM", 30), ("ME", 50)),
    cpms_test='+CPMS: ("SM","ME","SM_P","ME_P","MT"),("SM","ME","SM_P","ME_P","MT"),'
              '("SM","ME","SM_P","ME_P","MT")',
    cnmi_test="+CNMI: (0-3),(0-3),(0,2),(0,1),(0,1)",
    cnmi_ranges=(frozenset(range(4)), frozenset(range(4)), frozenset({0, 2}), frozenset({0, 1}),
                 frozenset({0, 1})),
    cnmi_default=(2, 1, 0, 0, 0),
    sms_not_ready_cms=None,
    status_report_memory=None,
    power_off_command="+CPOWD",
    power_down_urc="NORMAL POWER DOWN",
    cmee_default=0,
    cfun_test="+CFUN: (0,1,4),(0,1)",
    cscs_test='+CSCS: ("IRA","GSM","UCS2","HEX","PCCP","PCDN","8859-1")',
    charsets=("IRA", "GSM", "UCS2", "HEX", "PCCP", "PCDN", "8859-1"),
    lte=False,
    under_voltage_urcs=("UNDER-VOLTAGE WARNNING", "UNDER-VOLTAGE POWER DOWN"),
)

# The SIM800C (Waveshare SIM800C HAT) and SIM868 datasheets word the power-down URC differently.
SIM800C = Profile(**{**SIM800.__dict__, "name": "sim800c", "model": "SIMCOM_SIM800C",
                     "revision": "1418B05SIM800C24", "power_down_urc": "NORMAL POWER OFF"})

SIM7600 = Profile(
    name="sim7600",
    manufacturer="SIMCOM INCORPORATED",
    model="SIMCOM_SIM7600E-H",
    revision="LE20B04SIM7600M22",
    revision_format="+CGMR: {revision}",
    ati=("Manufacturer: SIMCOM INCORPORATED", "Model: {model}", "Revision: SIM7600M22_V2.0",
         "IMEI: {imei}", "+GCAP: +CGSM"),
    gcap="+GCAP: +CGSM,+FCLASS,+DS",
    iccid_format="+ICCID: {iccid}",
    iccid_commands=("+CICCID", "+CCID"),
    boot_banners=((0.5, "RDY"), (0.6, "+CPIN: {cpin}"), (0.9, "SMS DONE"), (1.0, "PB DONE")),
    sim_ready_banners=("SMS DONE", "PB DONE"),
    register_at=0.8,
    sms_ready_at=0.9,
    uart_up_at=0.5,
    boot_time=20.0,
    rdy_needs_fixed_baud=False,
    ipr_default=115200,
    ipr_test="+IPR: (300,600,1200,2400,4800,9600,19200,38400,57600,115200,230400,460800,921600,"
             "3000000,3200000,3686400)",
    index_base=0,
    memories=("SM", "ME", "SR"),
    memory_aliases=(("MT", "ME"),),
    capacity=(("SM", 30), ("ME", 50), ("SR", 50)),
    cpms_test='+CPMS: ("ME","MT","SM","SR"),("ME","MT","SM","SR"),("ME","MT","SM","SR")',
    cnmi_test="+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)",
    cnmi_ranges=(frozenset(range(3)), frozenset(range(4)), frozenset({0, 2}), frozenset(range(3)),
                 frozenset({0, 1})),
    cnmi_default=(2, 1, 0, 0, 0),
    sms_not_ready_cms=302,
    status_report_memory="SR",
    power_off_command="+CPOF",
    power_down_urc="",
    cmee_default=2,
    cfun_test="+CFUN: (0,1,4-7),(0,1)",
    cscs_test='+CSCS: ("IRA","GSM","UCS2")',
    charsets=("IRA", "GSM", "UCS2"),
    lte=True,
    under_voltage_urcs=("UNDER-VOLTAGE WARNNING", "UNDER-VOLTAGE POWER DOWN"),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SIM800, SIM800C, SIM7600)}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown modem profile {name!r}; choose from {', '.join(PROFILES)}") \
            from None


# +CME ERROR texts for AT+CMEE=2 (3GPP TS 27.007 section 9.2).
CME_TEXT: dict[int, str] = {
    3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
    11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 14: "SIM busy",
    16: "incorrect password", 20: "memory full", 21: "invalid index", 22: "not found",
    30: "no network service", 100: "unknown",
}
