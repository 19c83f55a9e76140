"""Phone numbers: the API's own E.164 form (digits without '+'), and what a number tells.

Kept out of the service so every dialect, the planner and the inbound side read numbers one way.
"""
from __future__ import annotations

import re

from gateway.errors import ValidationError

# ASCII digits only: ``\d`` would also let full-width and other Unicode digits through.
_NUMBER = re.compile(r"\+?[0-9]{3,15}")


def normalise_number(raw: str, field_name: str = "to") -> str:
    """E.164 digits without '+' (the API's own form, e.g. 41793026727)."""
    number = re.sub(r"[ \t\-().]", "", str(raw))
    if number.startswith("00"):
        number = number[2:]
    if not _NUMBER.fullmatch(number):
        raise ValidationError(f"{field_name}: {raw!r} is not a phone number in international format", field_name)
    return number.lstrip("+")
