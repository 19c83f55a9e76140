"""Text planning: transliteration, alphabet choice and segmentation into parts.

``plan_text`` is the single place that decides how a text travels; ``encode_text`` (pdu.py)
frames exactly the payloads it computed, so the ``sms_count`` the API quotes before sending is
the number of PDUs that will be sent.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from gateway.errors import EncodingError, MessageTooLongError
from gateway.sms.alphabet import (
    ESC, GSM_DEFAULT, LANGUAGE_IDS, UCS2, Alphabet, charset, check_text, encode,
    has_locking_table, language_id, septet_costs,
)
from gateway.sms.transliterate import transliterate

log = logging.getLogger(__name__)

USER_DATA_OCTETS = 140
_AUTO_LANGUAGE = {"", "AUTO", "AUTODETECT"}


@dataclass(frozen=True)
class SubmitOptions:
    status_report: bool = True  # TP-SRR
    validity_minutes: int | None = None  # relative TP-VP (None: no VP field)
    flash: bool = False  # class 0
    smsc: str | None = None  # None: SMSC field "00"
    transliteration: str | None = None  # TURKISH | GREEK | CYRILLIC | CENTRAL_EUROPEAN | NONE
    language_code: str | None = None  # "TR" | "ES" | "PT" | ...; None/"AUTODETECT" = automatic
    single_shift: bool | None = None  # True: required, False: forbidden, None: if it helps
    locking_shift: bool | None = None
    ref16: bool = False  # 16-bit concatenation reference
    max_parts: int = 10
    pid: int = 0
    reject_duplicates: bool = False  # TP-RD
    force_ucs2: bool = False  # send as UCS-2 even when a GSM alphabet could carry the text


@dataclass(frozen=True)
class TextPlan:
    """What the API answers before anything is sent, and what ``encode_text`` frames."""

    encoding: str  # "gsm7" | "ucs2"
    sms_count: int
    text: str  # after transliteration
    language: str | None  # national language actually used, e.g. "TR"
    alphabet: Alphabet
    characters_per_part: int  # septets (gsm7) or UTF-16 code units (ucs2) per part
    remaining: int  # septets / code units still free in the last part
    units_used: int  # septets / code units in all parts together
    payloads: tuple[bytes, ...] = field(repr=False, default=())  # septets or UCS-2 octets

    @property
    def single_shift(self) -> bool:
        return self.encoding == "gsm7" and self.alphabet.shift != 0

    @property
    def locking_shift(self) -> bool:
        return self.encoding == "gsm7" and self.alphabet.lock != 0


def udh_octets(ies_octets: int) -> int:
    """Octets a UDH with IEs totalling ``ies_octets`` takes, UDHL included (0: no UDH)."""
    return ies_octets + 1 if ies_octets else 0


def capacity(encoding: str, udh_total: int) -> int:
    """Septets (gsm7) or octets (ucs2/8bit) of payload left next to a UDH of ``udh_total``."""
    if encoding == "gsm7":
        return (USER_DATA_OCTETS - udh_total) * 8 // 7
    room = USER_DATA_OCTETS - udh_total
    return room - room % 2 if encoding == "ucs2" else room


def split_payload(payload: bytes, encoding: str, extra_ies: int, ref16: bool) -> list[bytes]:
    """Greedy split of a septet/octet string into part payloads: the minimal number of parts.

    ``extra_ies`` are the octets of IEs every part carries besides concatenation (national
    language IEs). A cut never falls inside an ESC pair (gsm7: ESC always starts a pair) or a
    surrogate pair (ucs2: a high surrogate always starts one).
    """
    if len(payload) <= capacity(encoding, udh_octets(extra_ies)):
        return [payload]
    room = capacity(encoding, udh_octets(extra_ies + (6 if ref16 else 5)))
    parts: list[bytes] = []
    pos = 0
    while len(payload) - pos > room:
        end = pos + room
        if encoding == "gsm7" and payload[end - 1] == ESC:
            end -= 1
        elif encoding == "ucs2" and 0xD8 <= payload[end - 2] <= 0xDB:
            end -= 2
        parts.append(payload[pos:end])
        pos = end
    parts.append(payload[pos:])
    return parts


def _ies_octets(alphabet: Alphabet) -> int:
    return sum(2 + len(data) for _, data in alphabet.language_ies())


def _split(text: str, alphabet: Alphabet, ref16: bool) -> list[bytes] | None:
    payload = encode(text, alphabet)
    if payload is None:
        return None
    return split_payload(payload, alphabet.encoding, _ies_octets(alphabet), ref16)


def _national_candidates(options: SubmitOptions) -> tuple[list[Alphabet], bool]:
    """National alphabets the options allow, and whether one of them is required."""
    code = (options.language_code or "").strip().upper()
    forced = code not in _AUTO_LANGUAGE
    ids = [language_id(code)] if forced else sorted(LANGUAGE_IDS.values())
    if forced and options.locking_shift and not has_locking_table(ids[0]):
        raise EncodingError(f"language {code} has no locking shift table")
    required = forced and bool(options.single_shift or options.locking_shift)
    out: list[Alphabet] = []
    for lid in ids:
        for lock in ((0, lid) if has_locking_table(lid) else (0,)):
            for shift in (0, lid):
                if not (lock or shift):
                    continue
                if (options.locking_shift is False and lock) or (
                        options.single_shift is False and shift):
                    continue
                if forced and ((options.locking_shift and not lock) or (
                        options.single_shift and not shift)):
                    continue
                out.append(Alphabet("gsm7", lock, shift))
    return out, required


def _fewest_parts_bound(counts: Counter[str], alphabet: Alphabet, ref16: bool) -> int | None:
    """A lower bound on the parts ``alphabet`` needs (exact for one part); None if it cannot
    carry the text. Cheap: it looks at distinct characters only, so most of the national
    candidates are ruled out without encoding anything."""
    if not counts.keys() <= charset(alphabet.lock, alphabet.shift):
        return None
    costs = septet_costs(alphabet.lock, alphabet.shift)
    total = sum(n * costs[ch] for ch, n in counts.items())
    extra = _ies_octets(alphabet)
    if total <= capacity("gsm7", udh_octets(extra)):
        return 1
    return -(-total // capacity("gsm7", udh_octets(extra + (6 if ref16 else 5))))


def _choose(text: str, options: SubmitOptions) -> tuple[Alphabet, list[bytes]]:
    """Default GSM if it can, UCS-2 otherwise, unless a national table needs fewer parts
    (or the options require one). UCS-2 carries everything, so this always succeeds."""
    ucs2 = (UCS2, split_payload(text.encode("utf-16-be"), "ucs2", 0, options.ref16))
    if options.force_ucs2:
        return ucs2
    nationals, required = _national_candidates(options)
    # A language the caller asked for wins a tie with UCS-2 (same number of parts): its tables
    # were requested, and they leave room in the part for nothing worse than UCS-2 does.
    requested = (options.language_code or "").strip().upper() not in _AUTO_LANGUAGE
    best: tuple[Alphabet, list[bytes]] | None = None
    if not required:
        parts = _split(text, GSM_DEFAULT, options.ref16)
        best = (GSM_DEFAULT, parts) if parts is not None else ucs2
        if len(best[1]) == 1 and (best[0] is GSM_DEFAULT or not requested):
            return best
    counts = Counter(text)
    tie_wins = requested and best is not None and best[0] is UCS2
    winner: tuple[tuple[int, int, int], Alphabet, list[bytes]] | None = None
    for alphabet in nationals:
        if best is not None and best[0] is GSM_DEFAULT and not alphabet.lock:
            # a single shift table only adds IE overhead when the default table carries all
            continue
        bound = _fewest_parts_bound(counts, alphabet, options.ref16)
        if bound is None:
            continue
        beaten = best is not None and (bound > len(best[1]) or (
            bound == len(best[1]) and not tie_wins))
        if beaten or (
                winner is not None and bound > winner[0][0]):
            continue
        parts = _split(text, alphabet, options.ref16)
        assert parts is not None
        key = (len(parts), len(alphabet.language_ies()), sum(map(len, parts)))
        if winner is None or key < winner[0]:
            winner = (key, alphabet, parts)
    if winner is not None and (best is None or winner[0][0] < len(best[1])
                               or (tie_wins and winner[0][0] == len(best[1]))):
        return winner[1], winner[2]
    if best is None:  # a required national table cannot carry the text: UCS-2 carries all
        log.info("national language tables cannot carry the text; falling back to UCS-2")
        return ucs2
    return best


def validate_options(options: SubmitOptions) -> None:
    if not 1 <= options.max_parts <= 255:
        raise EncodingError(f"max_parts must be 1..255, not {options.max_parts}")
    if not 0 <= options.pid <= 255:
        raise EncodingError(f"pid must be an octet, not {options.pid}")
    if options.validity_minutes is not None and options.validity_minutes < 0:
        raise EncodingError("validity_minutes must not be negative")


def plan_text(text: str, options: SubmitOptions = SubmitOptions()) -> TextPlan:
    """Transliterate, choose the alphabet, split; MessageTooLongError beyond max_parts."""
    validate_options(options)
    check_text(text)
    text = transliterate(text, options.transliteration)
    alphabet, payloads = _choose(text, options)
    per_unit = 1 if alphabet.encoding == "gsm7" else 2
    extra = _ies_octets(alphabet)
    if len(payloads) == 1:
        room = capacity(alphabet.encoding, udh_octets(extra))
    else:
        room = capacity(alphabet.encoding, udh_octets(extra + (6 if options.ref16 else 5)))
    plan = TextPlan(
        encoding=alphabet.encoding, sms_count=len(payloads), text=text,
        language=alphabet.language, alphabet=alphabet, characters_per_part=room // per_unit,
        remaining=(room - len(payloads[-1])) // per_unit,
        units_used=sum(map(len, payloads)) // per_unit, payloads=tuple(payloads))
    if plan.sms_count > options.max_parts:
        raise MessageTooLongError(
            f"text needs {plan.sms_count} parts ({plan.encoding}), more than the maximum "
            f"{options.max_parts}", parts=plan.sms_count, max_parts=options.max_parts)
    return plan
