"""Text normalisation and word error rate, as used for every WER number the project quotes.

Normalisation: lower case, apostrophes (' and ’) and punctuation to spaces, whitespace collapsed.
For the word error rate, whole numbers in digits are also read as French words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_NOT_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lower case; every character that is not a letter or digit (apostrophes, « », thin spaces,
    punctuation) becomes a space; whitespace collapsed. Accents are kept: they are part of the word."""
    text = unicodedata.normalize("NFC", text).lower().replace("_", " ")
    return " ".join(_NOT_WORD.sub(" ", text).split())


_UNITS = ("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
          "dix-sept dix-huit dix-neuf").split()
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante", 8: "quatre-vingt"}


def _below_hundred(n: int) -> str:
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix, quatre-vingt-dix: the tens before count on from ten
        return _TENS[tens - 1] + ("-et-" if n == 71 else "-") + _UNITS[10 + unit]
    if unit == 0:
        return _TENS[tens] + ("s" if tens == 8 else "")
    return _TENS[tens] + ("-et-" if unit == 1 and tens != 8 else "-") + _UNITS[unit]


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _below_hundred(rest)
    head = "cent" if hundreds == 1 else _UNITS[hundreds] + "-cent" + ("s" if not rest else "")
    return head + ("-" + _below_hundred(rest) if rest else "")


def number_in_words(n: int) -> str:
    """A whole number as French words (up to 999 999 999): 17 "dix-sept", 80 "quatre-vingts",
    2024 "deux-mille-vingt-quatre" (parts hyphenated, as the 1990 spelling has it; "million" is a
    noun)."""
    if n < 1000:
        return _below_thousand(n)
    millions, rest = divmod(n, 1_000_000)
    thousands, units = divmod(rest, 1000)
    below_million = [("mille" if thousands == 1 else _below_thousand(thousands).removesuffix("s") + "-mille")
                     if thousands else "", _below_thousand(units) if units else ""]
    million = _below_thousand(millions) + " million" + ("s" if millions > 1 else "") if millions else ""
    return " ".join(part for part in (million, "-".join(p for p in below_million if p)) if part)


def _spelled(words: list[str]) -> list[str]:
    """Whole numbers written in digits replaced by their words, so that "17" and "dix-sept" score
    as the same words (Whisper writes digits, references often words)."""
    out: list[str] = []
    for word in words:
        if word.isdigit() and len(word) <= 9 and not (len(word) > 1 and word.startswith("0")):
            out += normalise(number_in_words(int(word))).split()
        else:
            out.append(word)
    return out


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance: insertions, deletions and substitutions of items (the characters
    of a string, or words)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, number of reference words) after normalisation, numbers in
    digits read as words."""
    ref, hyp = _spelled(normalise(reference).split()), _spelled(normalise(hypothesis).split())
    return edit_distance(ref, hyp), len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` (0.0 is perfect)."""
    errors, words = word_errors(reference, hypothesis)
    return errors / words if words else float(bool(normalise(hypothesis)))
