"""TS 23.038 alphabets: the GSM 7-bit default alphabet, its national variants, and UCS-2.

The character tables come from ``gsmcodecs`` (MIT, TS 23.038 v18); this module only turns them
into what segmentation needs: every character as an indivisible *unit* (one septet, an ESC pair,
one UTF-16 code unit or a surrogate pair), so that a splitter working on units can never cut an
ESC pair or a surrogate pair in two.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from gsmcodecs import GSMCHARMAPS

from gateway.errors import EncodingError

log = logging.getLogger(__name__)

ESC = 0x1B

#: National language identifiers of TS 23.038 6.2.1.2.4, by the ISO 639-1 codes the API uses.
LANGUAGE_IDS: dict[str, int] = {
    "TR": 1, "ES": 2, "PT": 3, "BN": 4, "GU": 5, "HI": 6, "KN": 7,
    "ML": 8, "OR": 9, "PA": 10, "TA": 11, "TE": 12, "UR": 13,
}
LANGUAGE_CODES: dict[int, str] = {v: k for k, v in LANGUAGE_IDS.items()}


def has_locking_table(language_id: int) -> bool:
    """Spanish (2) has only a single shift table; every other language has both."""
    return "locking" in GSMCHARMAPS.get(language_id, {})


def has_single_shift_table(language_id: int) -> bool:
    return "singleShift" in GSMCHARMAPS.get(language_id, {})


@dataclass(frozen=True)
class Alphabet:
    """One way of writing a message: ``gsm7`` with a locking and a single shift table, or ``ucs2``.

    ``lock``/``shift`` are language ids (0 = the default alphabet / default extension table);
    a non-zero id costs a 3-octet national-language IE in the UDH of every part.
    """

    encoding: str  # "gsm7" | "ucs2"
    lock: int = 0
    shift: int = 0

    @property
    def language(self) -> str | None:
        ident = self.lock or self.shift
        return LANGUAGE_CODES.get(ident) if ident else None

    def language_ies(self) -> tuple[tuple[int, bytes], ...]:
        """The national language IEs (IEI 0x24 single shift, 0x25 locking shift) this needs."""
        ies: list[tuple[int, bytes]] = []
        if self.encoding == "gsm7" and self.shift:
            ies.append((0x24, bytes([self.shift])))
        if self.encoding == "gsm7" and self.lock:
            ies.append((0x25, bytes([self.lock])))
        return tuple(ies)


GSM_DEFAULT = Alphabet("gsm7")
UCS2 = Alphabet("ucs2")


@cache
def _encode_tables(lock: int, shift: int) -> tuple[dict[int, int], dict[int, int]]:
    """(locking code point -> septet, single shift code point -> septet) for a table pair."""
    lock_map = GSMCHARMAPS[lock]["locking"]["encode"]
    # The shift tables list ESC itself as "space"; that is a display fallback, not a character.
    shift_map = {cp: code for cp, code in GSMCHARMAPS[shift]["singleShift"]["encode"].items()
                 if code != ESC}
    return dict(lock_map), shift_map


@cache
def _decode_tables(lock: int, shift: int) -> tuple[dict[int, int], dict[int, int]]:
    lock = lock if has_locking_table(lock) else 0
    shift = shift if has_single_shift_table(shift) else 0
    return (dict(GSMCHARMAPS[lock]["locking"]["decode"]),
            dict(GSMCHARMAPS[shift]["singleShift"]["decode"]))


@cache
def charset(lock: int, shift: int) -> frozenset[str]:
    """Every character the GSM table pair can carry (a quick subset test before encoding)."""
    lock_map, shift_map = _encode_tables(lock, shift)
    return frozenset(chr(cp) for cp in (*lock_map, *shift_map))


def check_text(text: str) -> None:
    """Reject strings that are not Unicode text (lone surrogates cannot be sent in any alphabet)."""
    try:
        text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"text contains a lone surrogate at index {exc.start}") from None


@cache
def _translation(lock: int, shift: int) -> dict[int, str]:
    """str.translate table: code point -> its septet(s) as characters below U+0080."""
    lock_map, shift_map = _encode_tables(lock, shift)
    table = {cp: chr(ESC) + chr(code)
             for cp, code in shift_map.items()}
    table.update({cp: chr(code) for cp, code in lock_map.items()})
    return table


@cache
def septet_costs(lock: int, shift: int) -> dict[str, int]:
    """Septets each character costs in a table pair (1, or 2 for an ESC pair)."""
    return {chr(cp): len(seq) for cp, seq in _translation(lock, shift).items()}


def encode(text: str, alphabet: Alphabet) -> bytes | None:
    """The whole text as septet values (gsm7) or UTF-16BE octets (ucs2); None when the alphabet
    cannot carry a character (never a replacement character).

    In the septet string an ESC (0x1B) always starts a pair (no table maps a character to ESC
    as its second septet), which is what lets the splitter keep pairs whole.
    """
    if alphabet.encoding == "ucs2":
        check_text(text)
        return text.encode("utf-16-be")
    if not set(text) <= charset(alphabet.lock, alphabet.shift):
        return None
    return text.translate(_translation(alphabet.lock, alphabet.shift)).encode("latin-1")


def units(text: str, alphabet: Alphabet) -> list[bytes] | None:
    """``text`` as indivisible units, one per character (tests and diagnostics)."""
    out = [encode(ch, alphabet) for ch in text]
    return None if any(u is None for u in out) else [u for u in out if u is not None]


def decode_septets(septets: bytes, lock: int = 0, shift: int = 0) -> str:
    """Septet values to text, as a receiving entity must per TS 23.038 6.2.1.1.

    An ESC followed by a code the shift table lacks shows the locking-table character; ESC ESC
    and a trailing ESC show a space. Codes a national locking table leaves undefined become
    U+FFFD: receiving never fails, and nothing is invented silently.
    """
    lock_map, shift_map = _decode_tables(lock, shift)
    out: list[str] = []
    escaped = False
    for code in septets:
        if escaped:
            escaped = False
            if code == ESC:
                out.append(" ")
            elif code in shift_map:
                out.append(chr(shift_map[code]))
            else:
                out.append(chr(lock_map[code]) if code in lock_map else "\ufffd")
        elif code == ESC:
            escaped = True
        else:
            out.append(chr(lock_map[code]) if code in lock_map else "\ufffd")
    if escaped:
        out.append(" ")
    return "".join(out)


def encode_default(text: str) -> bytes:
    """Text in the default alphabet (alphanumeric addresses); EncodingError if impossible."""
    septets = encode(text, GSM_DEFAULT)
    if septets is None:
        raise EncodingError(f"{text!r} is not in the GSM 7-bit default alphabet")
    return septets


def language_id(code: str) -> int:
    """ISO code ("TR") or numeric string to a TS 23.038 language id; EncodingError otherwise."""
    key = code.strip().upper()
    if key in LANGUAGE_IDS:
        return LANGUAGE_IDS[key]
    if key.isdigit() and int(key) in LANGUAGE_CODES:
        return int(key)
    raise EncodingError(f"unknown national language {code!r}; known: {', '.join(LANGUAGE_IDS)}")
