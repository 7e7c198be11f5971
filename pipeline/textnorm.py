"""Text normalisation and word error rate, as used for every WER number the project quotes.

Normalisation: lower case, apostrophes (' and ’) and punctuation to spaces, whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lower case; every character that is not a letter or digit (apostrophes, « », thin spaces,
    punctuation) becomes a space; whitespace collapsed. Accents are kept: they are part of the word."""
    text = unicodedata.normalize("NFC", text).lower().replace("_", " ")
    return " ".join(_NOT_WORD.sub(" ", text).split())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, number of reference words) after normalisation."""
    ref, hyp = normalise(reference).split(), normalise(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, hyp_word in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
        previous = current
    return previous[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` (0.0 is perfect)."""
    errors, words = word_errors(reference, hypothesis)
    return errors / words if words else float(bool(normalise(hypothesis)))
