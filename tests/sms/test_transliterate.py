"""Transliteration tables (gateway/sms/transliterate.py) and their documentation."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.errors import EncodingError
from gateway.sms.alphabet import GSM_DEFAULT, charset, encode
from gateway.sms.transliterate import TABLES, transliterate

DOC = Path(__file__).resolve().parents[2] / "docs" / "codec.md"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_mapping_leads_into_gsm_and_starts_outside(name: str) -> None:
    gsm = charset(0, 0)
    for source, target in TABLES[name].items():
        assert source not in gsm, f"{name}: {source!r} is already GSM 7-bit"
        assert encode(target, GSM_DEFAULT) is not None, f"{name}: {target!r} is not GSM"


def test_examples() -> None:
    assert transliterate("Şişli İstanbul ağır", "TURKISH") == "Sisli Istanbul agir"
    assert transliterate("Καλημέρα", "GREEK") == "KAΛHMEPA"
    assert transliterate("Щука и ёж", "cyrillic") == "Shchuka i yozh"
    assert transliterate("Łódź, Příbram", "CENTRAL_EUROPEAN") == "Lodz, Pribram"
    assert transliterate("Ärger €", "CENTRAL_EUROPEAN") == "Ärger €"  # GSM stays as is
    assert transliterate("中文", "GREEK") == "中文"  # not in the table: UCS-2 will carry it
    assert transliterate("x", None) == transliterate("x", "none") == "x"
    with pytest.raises(EncodingError):
        transliterate("x", "LATIN")


def _documented(name: str) -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"### {name}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\S) \| ([^|]*?) \|$", section, flags=re.M)
    return {src: ("" if dst == "(removed)" else dst) for src, dst in rows}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_docs_list_every_mapping(name: str) -> None:
    assert _documented(name) == TABLES[name]
