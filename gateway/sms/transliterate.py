"""Transliteration as the Infobip API's ``transliteration`` values, applied before alphabet choice.

Each table maps only characters the GSM 7-bit default alphabet (with its extension table)
cannot carry, to the closest characters it can: a transliterated message then fits in GSM
7-bit (153/160 per part) instead of UCS-2 (67/70). Characters outside a table stay as they are,
so the alphabet choice still sees them (and falls back to UCS-2 rather than dropping them).
The tables are documented in docs/codec.md, and a test keeps that page and this module equal.
"""
from __future__ import annotations

from gateway.errors import EncodingError

TURKISH: dict[str, str] = {
    "Ş": "S", "ş": "s", "Ğ": "G", "ğ": "g", "İ": "I", "ı": "i", "ç": "c",
    "Â": "A", "â": "a", "Î": "I", "î": "i", "Û": "U", "û": "u",
}

# Greek: the default alphabet has the capitals Δ Φ Γ Λ Ω Π Ψ Σ Θ Ξ; the other capitals look like
# Latin letters. Lower case and accented letters become those capitals, as Greek phones do.
_GREEK_CAPITALS = {
    "Α": "A", "Β": "B", "Γ": "Γ", "Δ": "Δ", "Ε": "E", "Ζ": "Z", "Η": "H", "Θ": "Θ", "Ι": "I",
    "Κ": "K", "Λ": "Λ", "Μ": "M", "Ν": "N", "Ξ": "Ξ", "Ο": "O", "Π": "Π", "Ρ": "P", "Σ": "Σ",
    "Τ": "T", "Υ": "Y", "Φ": "Φ", "Χ": "X", "Ψ": "Ψ", "Ω": "Ω",
}
_GREEK_ACCENTED = {
    "Ά": "Α", "Έ": "Ε", "Ή": "Η", "Ί": "Ι", "Ϊ": "Ι", "Ό": "Ο", "Ύ": "Υ", "Ϋ": "Υ", "Ώ": "Ω",
    "ά": "Α", "έ": "Ε", "ή": "Η", "ί": "Ι", "ϊ": "Ι", "ΐ": "Ι", "ό": "Ο", "ύ": "Υ", "ϋ": "Υ",
    "ΰ": "Υ", "ώ": "Ω", "ς": "Σ",
}
GREEK: dict[str, str] = {
    **{k: v for k, v in _GREEK_CAPITALS.items() if k != v},
    **{chr(ord(k) + 32): v for k, v in _GREEK_CAPITALS.items()},  # α..ω (ς handled below)
    **{k: _GREEK_CAPITALS[v] for k, v in _GREEK_ACCENTED.items()},
}

_CYRILLIC_UPPER = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "Yo", "Ж": "Zh", "З": "Z",
    "И": "I", "Й": "Y", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O", "П": "P", "Р": "R",
    "С": "S", "Т": "T", "У": "U", "Ф": "F", "Х": "Kh", "Ц": "Ts", "Ч": "Ch", "Ш": "Sh",
    "Щ": "Shch", "Ъ": "", "Ы": "Y", "Ь": "", "Э": "E", "Ю": "Yu", "Я": "Ya",
    # Ukrainian, Belarusian, Serbian, Macedonian letters
    "Є": "Ye", "І": "I", "Ї": "Yi", "Ґ": "G", "Ў": "U", "Ђ": "Dj", "Ј": "J", "Љ": "Lj",
    "Њ": "Nj", "Ћ": "C", "Џ": "Dz", "Ѓ": "Gj", "Ќ": "Kj", "Ѕ": "Dz",
}
CYRILLIC: dict[str, str] = {
    **_CYRILLIC_UPPER,
    **{k.lower(): v.lower() for k, v in _CYRILLIC_UPPER.items()},
}

# Polish, Czech, Slovak, Slovenian, Croatian, Hungarian, Romanian, Lithuanian/Latvian letters
# outside the default alphabet (which already has ä Ä é É ö Ö ü Ü à è ì ò ù ñ Ñ å Å).
CENTRAL_EUROPEAN: dict[str, str] = {
    "Ą": "A", "ą": "a", "Ć": "C", "ć": "c", "Ę": "E", "ę": "e", "Ł": "L", "ł": "l", "Ń": "N",
    "ń": "n", "Ó": "O", "ó": "o", "Ś": "S", "ś": "s", "Ź": "Z", "ź": "z", "Ż": "Z", "ż": "z",
    "Á": "A", "á": "a", "Č": "C", "č": "c", "Ď": "D", "ď": "d", "Ě": "E", "ě": "e", "Í": "I",
    "í": "i", "Ň": "N", "ň": "n", "Ř": "R", "ř": "r", "Š": "S", "š": "s", "Ť": "T", "ť": "t",
    "Ú": "U", "ú": "u", "Ů": "U", "ů": "u", "Ý": "Y", "ý": "y", "Ž": "Z", "ž": "z",
    "Ĺ": "L", "ĺ": "l", "Ľ": "L", "ľ": "l", "Ŕ": "R", "ŕ": "r", "Ô": "O", "ô": "o",
    "Đ": "D", "đ": "d", "Ő": "O", "ő": "o", "Ű": "U", "ű": "u",
    "Ă": "A", "ă": "a", "Â": "A", "â": "a", "Î": "I", "î": "i", "Ș": "S", "ș": "s", "Ş": "S",
    "ş": "s", "Ț": "T", "ț": "t", "Ţ": "T", "ţ": "t",
    "Ė": "E", "ė": "e", "Į": "I", "į": "i", "Ū": "U", "ū": "u", "Ų": "U", "ų": "u", "Ā": "A",
    "ā": "a", "Ē": "E", "ē": "e", "Ģ": "G", "ģ": "g", "Ī": "I", "ī": "i", "Ķ": "K", "ķ": "k",
    "Ļ": "L", "ļ": "l", "Ņ": "N", "ņ": "n", "ç": "c",
}

TABLES: dict[str, dict[str, str]] = {
    "TURKISH": TURKISH, "GREEK": GREEK, "CYRILLIC": CYRILLIC,
    "CENTRAL_EUROPEAN": CENTRAL_EUROPEAN,
}
_TRANSLATIONS = {name: str.maketrans(table) for name, table in TABLES.items()}


def transliterate(text: str, table: str | None) -> str:
    """Apply a named table; None or "NONE" leaves the text alone; unknown names are errors."""
    if table is None:
        return text
    name = table.strip().upper()
    if name in ("", "NONE"):
        return text
    try:
        return text.translate(_TRANSLATIONS[name])
    except KeyError:
        raise EncodingError(f"unknown transliteration {table!r}; known: NONE, "
                            f"{', '.join(TABLES)}") from None
