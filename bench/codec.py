"""Codec throughput: encodes/s and decodes/s of a 300-character message, GSM 7-bit and UCS-2.

``run()`` returns the numbers; ``bench/__main__.py`` prints them. Each figure is the best of a
few timed rounds, so a busy machine shows its capacity rather than its noise.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from gateway.sms import SubmitOptions, decode_pdu, encode_text

_GSM_TEXT = ("Your parcel 4711 is on its way and arrives tomorrow between 10:00 and 12:00. "
             "Reply STOP to opt out. Questions? Call +41 44 123 45 67 or write to help@example.org."
             " "
             "Thank you for shopping with us - see you soon! [ref: {A1-B2}] Price: 12.50 EUR / €. "
             "Have a nice day and enjoy your purchase, " * 2)[:300]
_UCS2_TEXT = ("Ваша посылка 4711 в пути и прибудет завтра с 10:00 до 12:00. Ответьте STOP, чтобы "
              "отписаться. Вопросы? Звоните +41 44 123 45 67. Спасибо за покупку! 😀 " * 3)[:300]


def _rate(func: Callable[[], object], seconds: float = 0.4, rounds: int = 3) -> float:
    best = 0.0
    for _ in range(rounds):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds / rounds
        while True:
            func()
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def run() -> dict[str, float]:
    """Messages per second (a 300-character message = 2 GSM or 5 UCS-2 parts)."""
    results: dict[str, float] = {}
    options = SubmitOptions()
    for name, text in (("gsm7", _GSM_TEXT), ("ucs2", _UCS2_TEXT)):
        assert len(text) == 300
        pdus = [p.pdu for p in encode_text("+41793026727", text, options, concat_ref=7)]
        results[f"codec_encode_{name}_300ch_per_s"] = _rate(
            lambda text=text: encode_text("+41793026727", text, options, concat_ref=7))
        results[f"codec_decode_{name}_300ch_per_s"] = _rate(
            lambda pdus=pdus: [decode_pdu(p) for p in pdus])
    return results


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value:,.0f}")
