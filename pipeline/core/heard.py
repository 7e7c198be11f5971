"""What the recogniser heard: how sure it was of each written word, and its punctuation mended.

A segment's text is what people read and correct; its `words` are what the recogniser gave, each
with its time and probability. The two do not always split alike (Whisper gives "C" + "'est"
for the text's "C'est", "parlons" + "-nous" for "parlons-nous"), so a word of the text is matched
to the recognised words by their characters. A word of the text is *unsure* when the lowest
probability among its recognised words is below UNSURE_P; a word put there by a reviewer's
correction has no probability: it is sure.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .artefacts import Segment

__all__ = ["UNSURE_P", "Mending", "mend_turn", "text_word_owners"]

# Below this probability a word is unsure: the review page underlines it, a sentence holding it
# is not quoted until a reviewer corrects or confirms it.
UNSURE_P = 0.5


def text_word_owners(segment: Segment) -> list[list[int]]:
    """For each word of the segment's text (split on spaces), the indices of the recognised
    words (`segment.words`) it is made of, in order; [] for a word no recognised word matches
    (a segment without word times gives [] for every word)."""
    texts = segment.text.split()
    if not segment.words:
        return [[] for _ in texts]
    joined = "".join(texts)
    owner: list[int] = []
    pieces = []
    for index, word in enumerate(segment.words):
        piece = "".join(word.text.split())
        pieces.append(piece)
        owner += [index] * len(piece)
    recognised = "".join(pieces)
    char_word: list[int | None] = [None] * len(joined)
    if recognised.lower() == joined.lower():
        char_word = list(owner)
    else:  # a correction or an edit changed the text: match what is left alike
        matcher = difflib.SequenceMatcher(None, joined.lower(), recognised.lower(), autojunk=False)
        for a, b, size in matcher.get_matching_blocks():
            char_word[a:a + size] = owner[b:b + size]
    owners, position = [], 0
    for text in texts:
        owners.append(sorted({w for w in char_word[position:position + len(text)] if w is not None}))
        position += len(text)
    return owners


# --- the recogniser's punctuation where its segments meet ---------------------------------------

@dataclass(frozen=True)
class Mending:
    """The word lists (wording.fr.yaml) that mend the recogniser's case and stops: Whisper writes
    each segment as a sentence of its own, so where two segments of one speaker meet it puts a
    capital after a comma ("climats, Et même") or a full stop inside a sentence ("pour
    mutualiser les. Serveurs", "la vérification. Qui nécessite")."""

    function_words: frozenset[str] = frozenset()  # take a lower-case initial after a comma
    cut_words: frozenset[str] = frozenset()  # a full stop right after one is false
    continuation_words: frozenset[str] = frozenset()  # never open a sentence: the stop before is a comma

    @classmethod
    def from_wording(cls, wording: Mapping[str, Any]) -> Mending:
        def words(key: str) -> frozenset[str]:
            return frozenset(str(w).lower().replace("’", "'") for w in wording.get(key) or [])

        return cls(words("function_words"), words("cut_words"), words("continuation_words"))


_TERMINAL = ".!?…"
_WORD = r"[^\W\d_](?:[\w'’-]*\w)?['’]?"


def _bare(word: str) -> str:
    return word.lower().replace("’", "'")


def _elided(word: str) -> str:
    """"C'est" is looked up as "c'"."""
    head, apostrophe, _ = _bare(word).partition("'")
    return head + apostrophe if apostrophe else head


def mend_turn(parts: Sequence[str], rules: Mending | None) -> tuple[str, list[int]]:
    """The texts of one speaker's consecutive segments as one text, and where each starts in it.

    Segments are joined by a space (none after an elision: "l'" + "heure"); with `rules`, a false
    full stop after a cut word is left out, a full stop before a continuation word becomes a
    comma (unless what follows is a question), and a function word after a comma or a semicolon
    takes a lower-case initial. Nothing else changes: no word is added, removed or respelled."""
    text, offsets = "", []
    for part in parts:
        part = part.strip()
        if text and not text.endswith(("'", "’")):
            text += " "
        offsets.append(len(text))
        text += part
    if rules is None:
        return text, offsets
    removed: list[int] = []

    def false_stop(match: re.Match[str]) -> str:
        if _bare(match.group(1)) in rules.cut_words:
            removed.append(match.end(1))
            return match.group(1)
        return match.group(0)

    text = re.sub(rf"(?<![\w'’])({_WORD})\.(?=\s+\S)", false_stop, text)
    offsets = [offset - sum(1 for at in removed if at < offset) for offset in offsets]

    def continuation(match: re.Match[str]) -> str:
        word = match.group(2)
        rest = text[match.end():]
        end = re.search(rf"[{_TERMINAL}]", rest)
        if _bare(word) not in rules.continuation_words or (end is not None and end.group() == "?"):
            return match.group(0)
        return f",{match.group(1)}{word[0].lower()}{word[1:]}"

    text = re.sub(rf"(?<!\.)\.(\s+)({_WORD})", continuation, text)

    def lower(match: re.Match[str]) -> str:
        word = match.group(2)
        if word[:1].isupper() and word[1:2].islower() or len(word) == 1 or word[1:2] in "'’":
            if _elided(word) in rules.function_words or _bare(word) in rules.function_words:
                return f"{match.group(1)}{word[0].lower()}{word[1:]}"
        return match.group(0)

    text = re.sub(rf"([,;]\s+)({_WORD})", lower, text)
    return text, offsets
