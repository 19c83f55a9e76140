"""Alphabet choice and segmentation (gateway/sms/text.py)."""
from __future__ import annotations

import pytest

from gateway.errors import EncodingError, MessageTooLongError
from gateway.sms import SubmitOptions, decode_pdu, encode_text, plan_text


def _texts(parts: list) -> list[str]:
    return [decode_pdu(p.pdu).text for p in parts]


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "gsm7", 1),
        ("a" * 160, "gsm7", 1),
        ("a" * 161, "gsm7", 2),
        ("a" * 306, "gsm7", 2),
        ("a" * 307, "gsm7", 3),
        ("€" * 80, "gsm7", 1),  # extension characters count twice
        ("a" * 159 + "€", "gsm7", 2),
        ("ж" * 70, "ucs2", 1),
        ("ж" * 71, "ucs2", 2),
        ("ж" * 134, "ucs2", 2),
        ("ж" * 135, "ucs2", 3),
        ("😀" * 35, "ucs2", 1),  # a surrogate pair counts as two UTF-16 units
        ("😀" * 36, "ucs2", 2),
    ],
)
def test_counts(text: str, encoding: str, count: int) -> None:
    plan = plan_text(text)
    assert (plan.encoding, plan.sms_count) == (encoding, count)
    assert len(encode_text("+41790000000", text)) == count


def test_extension_characters_count_twice() -> None:
    plan = plan_text("{}[]~\\^|€")
    assert plan.units_used == 18
    assert plan.remaining == 160 - 18
    no_national = SubmitOptions(single_shift=False, locking_shift=False)
    assert plan_text("€" * 81, no_national).sms_count == 2
    # the Turkish locking table has a one-septet euro sign: fewer parts, so it is chosen
    turkish = plan_text("€" * 81)
    assert (turkish.sms_count, turkish.language, turkish.locking_shift) == (1, "TR", True)


def test_remaining_and_per_part() -> None:
    plan = plan_text("a" * 200)
    assert (plan.characters_per_part, plan.remaining, plan.units_used) == (153, 106, 200)
    plan = plan_text("a" * 200, SubmitOptions(ref16=True))
    assert (plan.characters_per_part, plan.remaining) == (152, 104)
    plan = plan_text("ж" * 100, SubmitOptions(ref16=True))
    assert (plan.characters_per_part, plan.sms_count) == (66, 2)


def test_euro_never_split_across_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = encode_text("+41790000000", text)
    assert len(parts) == 2
    assert _texts(parts) == ["a" * 152, "€" + "b" * 10]


def test_emoji_never_split_across_parts() -> None:
    text = "ж" * 66 + "😀" + "x" * 5
    parts = encode_text("+41790000000", text)
    assert _texts(parts) == ["ж" * 66, "😀xxxxx"]


def test_backtick_is_not_gsm_and_goes_ucs2() -> None:
    plan = plan_text("price `100`")
    assert plan.encoding == "ucs2"
    assert decode_pdu(encode_text("+41790000000", "`")[0].pdu).text == "`"


def test_section_sign_stays_gsm() -> None:
    assert plan_text("§5").encoding == "gsm7"


def test_max_parts() -> None:
    with pytest.raises(MessageTooLongError) as err:
        plan_text("a" * (153 * 10 + 1))
    assert (err.value.parts, err.value.max_parts) == (11, 10)
    assert plan_text("a" * 1530).sms_count == 10
    with pytest.raises(MessageTooLongError):
        plan_text("a" * 161, SubmitOptions(max_parts=1))
    with pytest.raises(EncodingError):
        plan_text("a", SubmitOptions(max_parts=0))


def test_lone_surrogate_rejected() -> None:
    with pytest.raises(EncodingError):
        plan_text("a\ud800b")


def test_turkish_chosen_only_when_it_saves_parts() -> None:
    short = plan_text("İşçi ağı Ğ")
    assert (short.encoding, short.language) == ("ucs2", None)  # 1 part either way
    long = plan_text("Günaydın, şimdi çalışıyoruz. " * 5)
    assert long.encoding == "gsm7" and long.language == "TR"
    assert long.sms_count < plan_text("Günaydın, şimdi çalışıyoruz. " * 5,
                                      SubmitOptions(single_shift=False,
                                                    locking_shift=False)).sms_count


def test_forced_language_single_shift() -> None:
    plan = plan_text("İşçi ağı Ğ", SubmitOptions(language_code="TR", single_shift=True))
    assert (plan.encoding, plan.language, plan.single_shift, plan.locking_shift) == (
        "gsm7", "TR", True, False)
    plan = plan_text("hello", SubmitOptions(language_code="TR", locking_shift=True))
    assert plan.locking_shift and plan.characters_per_part == 155


def test_forced_language_that_cannot_carry_falls_back_to_ucs2() -> None:
    plan = plan_text("中文", SubmitOptions(language_code="TR", single_shift=True))
    assert plan.encoding == "ucs2"


def test_spanish_has_no_locking_table() -> None:
    with pytest.raises(EncodingError):
        plan_text("hola", SubmitOptions(language_code="ES", locking_shift=True))
    plan = plan_text("¿Qué tal? Ú", SubmitOptions(language_code="ES", single_shift=True))
    assert plan.language == "ES" and plan.single_shift


def test_unknown_language() -> None:
    with pytest.raises(EncodingError):
        plan_text("x", SubmitOptions(language_code="XX"))


def test_autodetect_is_automatic() -> None:
    assert plan_text("hi", SubmitOptions(language_code="AUTODETECT")).language is None


def test_indian_tables_used_when_they_save_parts() -> None:
    hindi = "नमस्ते दुनिया " * 20
    plan = plan_text(hindi)
    assert plan.encoding == "gsm7" and plan.language == "HI"
    assert plan.sms_count < plan_text(hindi, SubmitOptions(force_ucs2=True)).sms_count


def test_transliteration_before_alphabet_choice() -> None:
    plan = plan_text("Şeker ağacı", SubmitOptions(transliteration="TURKISH"))
    assert (plan.text, plan.encoding) == ("Seker agaci", "gsm7")
    assert plan_text("x", SubmitOptions(transliteration="NONE")).text == "x"
    with pytest.raises(EncodingError):
        plan_text("x", SubmitOptions(transliteration="KLINGON"))


@pytest.mark.parametrize(("opts", "single", "multi"), [
    (SubmitOptions(language_code="TR", single_shift=True), 155, 149),
    (SubmitOptions(language_code="TR", single_shift=True, locking_shift=True), 152, 146),
    (SubmitOptions(language_code="TR", single_shift=True, locking_shift=True, ref16=True),
     152, 145),
    (SubmitOptions(ref16=True), 160, 152),
])
def test_national_ies_reduce_the_room(opts: SubmitOptions, single: int, multi: int) -> None:
    assert plan_text("a" * single, opts).sms_count == 1
    assert plan_text("a" * (single + 1), opts).sms_count == 2
    plan = plan_text("a" * (single + 1), opts)
    assert plan.characters_per_part == multi
    assert plan_text("a" * (2 * multi), opts).sms_count == 2
    assert plan_text("a" * (2 * multi + 1), opts).sms_count == 3


def test_requested_language_wins_a_tie_with_ucs2():
    """Issue 9 item 7: one part either way, so the Turkish tables the caller asked for are used."""
    text = "Merhaba, şoför ağır İş"
    turkish = plan_text(text, SubmitOptions(language_code="TR"))
    assert (turkish.encoding, turkish.language, turkish.sms_count) == ("gsm7", "TR", 1)
    assert plan_text(text, SubmitOptions(language_code="TR", force_ucs2=True)).encoding == "ucs2"
    auto = plan_text(text, SubmitOptions())                 # nothing requested: UCS-2, no IEs
    assert (auto.encoding, auto.sms_count) == ("ucs2", 1)


def test_requested_language_that_needs_more_parts_than_ucs2_loses():
    text = "ş" + "中" * 60                                   # Turkish cannot carry the CJK at all
    assert plan_text(text, SubmitOptions(language_code="TR")).encoding == "ucs2"
