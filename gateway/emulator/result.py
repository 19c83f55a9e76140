"""What one AT command answers, as the command handlers return it to the UART side."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prompt:
    """The ``> `` input a command opened: a PDU (``pdu``) or, in text mode, a text (``text``)."""
    kind: str                     # "pdu" | "text"
    store: bool = False           # AT+CMGW (store) rather than AT+CMGS (send)
    length: int = 0               # PDU mode: the announced TPDU length
    stat: int = 2                 # AT+CMGW: the <stat> to store with
    destination: str = ""         # text mode: <da>


@dataclass
class Result:
    """What one command answers: information lines, a final result code, and what follows."""
    info: list[str] = field(default_factory=list)
    final: str | None = "OK"
    prompt: Prompt | None = None
    after: Callable[[], None] | None = None      # runs once the final result is written
    delay: float = 0.0
