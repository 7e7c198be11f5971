"""Hint words checked: the session's names and title, given to Whisper as its prompt, are kept
only where Whisper hears them without the prompt too.

With the session's title, speakers' names and organisations as its prompt, Whisper spells them
right and hears the title's words ("Séance", said ten times in the sample session, is "C'est en
se" without it), but it also wrote the prompt as speech where something else was said: "Bénédicte
Vautrin, Institut Paris Region, Ophélie Charvet, Agence d'urbanisme de Lyon." over "Oui,
bonjour, merci pour l'invitation…" (a hint echo). So the decoder (asr.py) decodes with the
prompt, finds the sentences whose hint words could be such an echo (`flagged_sentences`),
decodes their speech again without the prompt, and `reconcile` compares the two:

- a hint word written with the prompt is *heard* without it when the words decoded without the
  prompt around the same time (SUPPORT_REACH_S) sound nearly like it somewhere: its French
  phonetic key (spellings.py) lies in theirs, put end to end, within two sounds in five
  ("Thibault" in "attibolée", "Creusé" in "eux la lycrosée", "Séance" in "C'est en se"); a
  short key must be found exactly;
- a sentence where two checked hint words or more are not heard, and at least half of those
  it checks, is the prompt written as speech: it takes the words decoded without the prompt
  at its time (the declared spellings are applied to them afterwards, spellings.py). Another
  keeps the prompted text: a name alone is often heard without the prompt as other words
  ("Sidonie" as "si c'est mon lit", "Maëlle Kerbrat" as "Maïl Kerbra" on the generated
  sessions of bench_transcribe.py) and the prompt then wrote it right, while an echo is a run
  of names or of the title with nothing like them said.

Only hint words that could be an echo are checked, so that the title's ordinary words said as
words ("la ville", "une séance") cost nothing: a hint word that looks like a name (a capital
inside a sentence, an acronym), or two hint words or more in a row (function words and
punctuation between them allowed: "Séance introductive, enjeux", "Agence d'urbanisme de Lyon").
The functions here are functions of words and times only: asr.py decodes, this module decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .spellings import letters, name_like, sound, word_core

# A hint word's key may differ from the words heard without the prompt by this share of its
# sounds (the words written without the prompt are ordinary words that sound like the name,
# "veux-binaire" for "webinaire", "O. La L. Rosé" for "Creusé"), while an echo has nothing alike
# there at all. 0.34 took 4 sentences of the multi-voice sessions for echoes, 0.4 and 0.45 three.
SUPPORT_SOUND_DISTANCE = 0.4
MIN_UNHEARD = 2  # hint words not heard without the prompt that make a sentence an echo (and half of those checked)
SUPPORT_REACH_S = 1.0  # the words compared lie this close to the hint word (aligned times are approximate)
SHORT_SOUND = 3  # a hint word whose key is this short must be found exactly ("Lyon", "Goff")
# Words of the prompt that are no hint (they occur everywhere, and make no name).
FUNCTION_WORDS = frozenset("à au aux d de des du en et l la le les pour sur un une par dans avec ou".split())


class Timed(Protocol):
    start: float
    end: float
    text: str


W = TypeVar("W", bound=Timed)


@dataclass
class Decision:
    """One sentence written with the prompt, checked: its words (`begin`..`end` of the prompted
    words), the hint words checked and those not heard without the prompt, and the words
    decoded without the prompt at its time (what replaces it when it is an echo: MIN_UNHEARD
    hint words not heard or more, and half of those checked)."""

    begin: int
    end: int
    checked: list[str]
    unsupported: list[str] = field(default_factory=list)
    unprompted: list = field(default_factory=list)

    @property
    def echo(self) -> bool:
        return len(self.unsupported) >= MIN_UNHEARD and 2 * len(self.unsupported) >= len(self.checked)


def hint_vocabulary(prompt: str | None) -> frozenset[str]:
    """The prompt's words that are hint words, as letters ("d'urbanisme" "urbanisme", and
    "Oudin-Brémond" as a whole and each part): all but function words and numbers."""
    found = set()
    for text in (prompt or "").split():
        core = word_core(text)
        for part in [core, *core.split("-")]:
            key = letters(part)
            if key and not key.isdigit() and key not in FUNCTION_WORDS:
                found.add(key)
    return frozenset(found)


def checked_words(texts: Sequence[str], vocabulary: frozenset[str]) -> list[int]:
    """Indexes of the words (as printed, in order) that must be heard without the prompt: a hint
    word that looks like a name (spellings.name_like), or one of two hint words or more in a row
    (function words between them allowed)."""
    if not vocabulary:
        return []
    hints = [letters(word_core(t)) in vocabulary for t in texts]
    looks = name_like(list(texts))
    checked = {i for i, hint in enumerate(hints) if hint and looks[i]}
    run: list[int] = []
    for index, text in enumerate(texts):
        if hints[index]:
            run.append(index)
            continue
        if letters(word_core(text)) in FUNCTION_WORDS:
            continue  # "Agence d'urbanisme de Lyon": the run goes on over "de"
        if len(run) >= 2:
            checked.update(run)
        run = []
    if len(run) >= 2:
        checked.update(run)
    return sorted(checked)


def flagged_sentences(words: Sequence[Timed], vocabulary: frozenset[str], ends: tuple[str, ...],
                      pause_s: float) -> list[tuple[int, int, list[int]]]:
    """The sentences of `words` (cut after a word ending with one of `ends`, or at a pause of
    `pause_s`) that hold checked hint words: (first index, index after the last, checked indexes)."""
    checked = checked_words([w.text for w in words], vocabulary)
    if not checked:
        return []
    bounds, begin = [], 0
    for index in range(1, len(words) + 1):
        if index == len(words) or words[index - 1].text.endswith(ends) or words[index].start - words[index - 1].end >= pause_s:
            bounds.append((begin, index))
            begin = index
    flagged = []
    for begin, end in bounds:
        inside = [i for i in checked if begin <= i < end]
        if inside:
            flagged.append((begin, end, inside))
    return flagged


def _substring_distance(pattern: str, text: str) -> int:
    """The fewest edits that turn `pattern` into some part of `text` (Sellers' algorithm)."""
    previous = [0] * (len(text) + 1)
    for i, p in enumerate(pattern, start=1):
        current = [i] + [0] * len(text)
        for j, t in enumerate(text, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (p != t))
        previous = current
    return min(previous)


def heard_without_prompt(word: Timed, unprompted: Sequence[Timed]) -> bool:
    """Whether the words decoded without the prompt around the word's time (SUPPORT_REACH_S)
    hold its sounds, nearly (SUPPORT_SOUND_DISTANCE; exactly for a short key)."""
    key = sound(word_core(word.text))
    if not key:
        return True  # nothing to compare (punctuation): never an echo by itself
    near = "".join(sound(w.text) for w in unprompted
                   if w.end >= word.start - SUPPORT_REACH_S and w.start <= word.end + SUPPORT_REACH_S)
    if len(key) <= SHORT_SOUND:
        return key in near
    return _substring_distance(key, near) <= SUPPORT_SOUND_DISTANCE * len(key)


def reconcile(prompted: Sequence[W], flagged: Sequence[tuple[int, int, list[int]]],
              unprompted: Sequence[W]) -> tuple[list[W], list[Decision]]:
    """The words to keep, and a decision per flagged sentence. `prompted` are the words decoded
    with the prompt, in time order; `flagged` their sentences to check (`flagged_sentences`);
    `unprompted` the words decoded again without the prompt over those sentences' speech.

    A sentence that is not an echo (`Decision.echo`) keeps its words; an echo takes the words
    decoded without the prompt whose middle lies in its time (from halfway to the word before
    it to halfway to the word after it)."""
    decisions: list[Decision] = []
    kept: list[W] = []
    cursor = 0
    for begin, end, checked in flagged:
        kept += prompted[cursor:begin]
        cursor = end
        low = (prompted[begin - 1].end + prompted[begin].start) / 2 if begin else float("-inf")
        high = (prompted[end - 1].end + prompted[end].start) / 2 if end < len(prompted) else float("inf")
        theirs = [w for w in unprompted if low <= (w.start + w.end) / 2 < high]
        unsupported = [prompted[i].text for i in checked if not heard_without_prompt(prompted[i], unprompted)]
        decision = Decision(begin, end, [prompted[i].text for i in checked], unsupported, theirs)
        decisions.append(decision)
        kept += theirs if decision.echo else prompted[begin:end]
    kept += prompted[cursor:]
    return kept, decisions
