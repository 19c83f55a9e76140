"""What one AT command answers, as the command handlers return it to the UART side."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    """What one command answers: information lines, a final result code, and what follows."""
    info: list[str] = field(default_factory=list)
    final: str | None = "OK"
    prompt: tuple[str, int, int] | None = None   # ("cmgs" | "cmgw", length, stat)
    after: Callable[[], None] | None = None      # runs once the final result is written
    delay: float = 0.0
