"""The states and settings an emulated modem keeps (and what a reset or AT&W does to them)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PowerState(Enum):
    OFF = "off"
    BOOTING = "booting"
    READY = "ready"


class SimState(Enum):
    READY = "READY"
    PIN = "SIM PIN"
    PUK = "SIM PUK"
    ABSENT = "NOT INSERTED"
    BLOCKED = "BLOCKED"


@dataclass
class Settings:
    """The volatile settings a reset loses and ``AT&W`` / ``ATZ`` save and restore."""
    echo: bool = True
    verbose: bool = True
    quiet: bool = False
    cmee: int = 0
    cmgf: int = 0
    cscs: str = "IRA"
    cnmi: tuple[int, int, int, int, int] = (2, 1, 0, 0, 0)
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)
    csms: int = 0
    cmms: int = 0
    creg: int = 0
    cereg: int = 0
    cgreg: int = 0
    cops_format: int = 0
    cpms: tuple[str, str, str] = ("SM", "SM", "SM")
