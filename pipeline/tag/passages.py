"""Passages: the transcript cut into readable units that each hold one thought.

Segments are grouped into turns (consecutive segments of one speaker and one language: a passage
never crosses a change of speaker). Each turn is parsed by spaCy and cut into sentences as its
punctuation marks them (spaCy's own boundaries only serve inside an over-long unpunctuated
stretch), and the sentences are grouped into passages of `passage_min_words` to
`passage_max_words` words. Where to cut is chosen for the whole turn at once (dynamic
programming), so that passages end where the topic shifts:

* topic shift (`tag.segmentation: topic`, TextTiling): every sentence is embedded with the
  sentence encoder (meaning.py); the similarity between the `topic_window` sentences before a
  gap and those after it dips where the speaker moves to another subject. A gap's depth (how far
  the similarity falls below the nearest peaks on either side) is the evidence for cutting there;
* a long pause (`pause_s`) adds to it;
* without either, a passage near the middle of the length range is preferred.

A passage therefore never starts or ends inside a sentence. Every sentence keeps its own start
and end time (from word timings where the transcript has them), so that a quote can begin at its
first word; the sentence vectors are kept for choosing quotes and key points.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.artefacts import Segment, Sentence, UnsureWord
from ..core.config import TagOptions
from ..core.heard import UNSURE_P, Mending, mend_turn, text_word_owners
from ..core.limits import split_long_segments, split_long_turns

if TYPE_CHECKING:
    import numpy as np
    from spacy.tokens import Doc, Span

# A very long turn (a lecture, or a transcript without speakers) is parsed in pieces of about
# this many words, cut between segments, so memory stays flat on an ordinary laptop.
MAX_TURN_WORDS = 3000

# Sentence ends: a terminal mark followed by a capital, a digit or an opening quote. These
# abbreviations end with a full stop without ending the sentence ("M. Dupont").
TERMINAL = frozenset({".", "!", "?", "…", "...", "?!", "!?", "?.", "!."})
CLOSING = frozenset({"»", "\"", "”", ")", "]", "’"})
ABBREVIATIONS = frozenset({"m", "mm", "mme", "mmes", "mlle", "dr", "pr", "me", "st", "ste", "cf", "ex", "p",
                           "pp", "vol", "art", "av", "bd", "n°", "no", "env", "fig", "chap", "éd", "dir"})

# How the cut points are weighed (chosen with bench/bench_passages.py --explore on the labelled
# passages of dev.jsonl, checked on dev2.jsonl and the long session): a passage shorter than
# passage_min_words costs up to SHORT_COST (so a turn that cannot be cut well stays whole), a
# passage at either end of the length range costs SHAPE_COST (less nearer the middle), and a cut
# earns its gap's depth minus the depth threshold (the session's mean depth plus DEPTH_SD
# standard deviations), plus PAUSE_POINTS after a pause of pause_s.
SHORT_COST = 3.0
SHAPE_COST = 0.5
DEPTH_SD = 0.0
PAUSE_POINTS = 0.3


@dataclass
class Unit:
    """A sentence (or a piece of an over-long one): the smallest thing a passage is built of."""

    span: Span
    start_char: int
    end_char: int
    first_segment: int
    words: int
    pause_before_s: float  # silence before it when it opens a segment, else 0


@dataclass
class PassageSpan:
    """A passage as found in the text: its spaCy span (for themes and entities), its times, and
    for each sentence its span and its sentence-encoder vector (when the encoder ran)."""

    span: Span
    text: str
    start: float
    end: float
    speaker: str | None
    lang: str | None
    sentences: list[Sentence]
    sentence_spans: list[Span] = field(default_factory=list)
    sentence_vectors: Any = None  # numpy array (sentences, dims), or None


def word_count(text: str) -> int:
    return len(text.split())


def _turns(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Consecutive segments of one speaker (and one language); a passage never crosses a change."""
    turns: list[list[Segment]] = []
    words = 0
    for segment in segments:
        same_turn = bool(turns) and (turns[-1][-1].speaker, turns[-1][-1].lang) == (segment.speaker, segment.lang)
        if same_turn and words < MAX_TURN_WORDS:
            turns[-1].append(segment)
        else:
            turns.append([segment])
            words = 0
        words += word_count(segment.text)
    return turns


def _ends_sentence(doc: Doc, index: int) -> bool:
    """Whether token `index` closes a sentence: a terminal mark (after any closing quote) that is
    followed by what opens one, and is not the full stop of an abbreviation."""
    token = doc[index]
    if token.text in CLOSING and index > 0 and doc[index - 1].text in TERMINAL:
        terminal = index - 1
    elif token.text in TERMINAL or (token.text.endswith(("?", "!", "…")) and not token.is_alpha):
        terminal = index
    else:
        return False
    following = index + 1
    if following >= len(doc):
        return True
    if following < len(doc) and doc[following].text in CLOSING:
        return False  # the closing quote ends it, one token later
    if doc[terminal].text == "." and terminal > 0 and doc[terminal - 1].lower_.rstrip(".") in ABBREVIATIONS:
        return False
    first = doc[following].text[:1]
    return first.isupper() or first.isdigit() or first in "«\"“—–-"


def sentence_spans(doc: Doc) -> list[Span]:
    """The sentences of a parsed text, as its punctuation marks them."""
    spans, start = [], 0
    for index in range(len(doc)):
        if _ends_sentence(doc, index):
            spans.append(doc[start:index + 1])
            start = index + 1
    if start < len(doc):
        spans.append(doc[start:len(doc)])
    return [s for s in spans if s.text.strip()]


def _pieces(sentence: Span, max_words: int) -> list[Span]:
    """An over-long stretch without punctuation (unpunctuated speech), cut at spaCy's sentence
    boundaries, then at max_words, never before a token that continues a word ("start -up")."""
    if word_count(sentence.text) <= max_words:
        return [sentence]
    doc = sentence.doc
    parts: list[Span] = []
    start = sentence.start
    for i in range(sentence.start + 1, sentence.end):
        if doc[i].is_sent_start and i > start and word_count(doc[start:i].text) >= 3:
            parts.append(doc[start:i])
            start = i
    parts.append(doc[start:sentence.end])
    result: list[Span] = []
    for part in parts:
        # Words are counted as the tokens go (a token after a space opens a word), never by
        # reading the growing span's text again: that was quadratic in the length of the stretch
        # (ten minutes for 60 KB of words joined by hyphens, each word dozens of tokens).
        start, words = part.start, len(doc[part.start].text.split())
        for i in range(part.start + 1, part.end + 1):
            if i == part.end:
                result.append(doc[start:i])
                break
            added = _added_words(doc, i)
            if words + added > max_words and not doc[i].text.startswith("-"):
                result.append(doc[start:i])
                start, words = i, len(doc[i].text.split())
            else:
                words += added
    return result


def _added_words(doc: Doc, index: int) -> int:
    """How many words token `index` adds to a span that ends with the token before it (as
    `word_count` of the span's text would count them): none more for a token glued to a word."""
    token, before = doc[index], doc[index - 1]
    words = len(token.text.split())
    glued = not before.whitespace_ and before.text[-1:].strip() and token.text[:1].strip()
    return words - 1 if words and glued else words


def _units(doc: Doc, turn: list[Segment], offsets: list[int], max_words: int) -> list[Unit]:
    units = []
    for sentence in sentence_spans(doc):
        for piece in _pieces(sentence, max_words):
            if not piece.text.strip():
                continue
            first = bisect.bisect_right(offsets, piece.start_char) - 1
            opens_segment = piece.start_char == offsets[first] and first > 0
            pause = turn[first].start - turn[first - 1].end if opens_segment else 0.0
            units.append(Unit(piece, piece.start_char, piece.end_char, first, word_count(piece.text), max(0.0, pause)))
    return units


# --- where the topic shifts ---------------------------------------------------------------------

def gap_similarities(vectors: np.ndarray, window: int) -> np.ndarray:
    """For each gap between two sentences (n - 1 of them), the cosine similarity of the mean
    vector of the `window` sentences before it and that of the `window` sentences after it."""
    import numpy as np

    n = len(vectors)
    sims = np.zeros(max(0, n - 1), dtype="float32")
    for gap in range(1, n):
        left = vectors[max(0, gap - window):gap].mean(axis=0)
        right = vectors[gap:gap + window].mean(axis=0)
        norm = float(np.linalg.norm(left) * np.linalg.norm(right))
        sims[gap - 1] = float(left @ right) / norm if norm > 0 else 0.0
    return sims


def depth_scores(similarities: np.ndarray) -> np.ndarray:
    """TextTiling's depth of each gap: how far its similarity lies below the highest point reached
    climbing to the left and to the right. A gap inside one topic has depth near 0."""
    import numpy as np

    sims = list(map(float, similarities))
    depths = np.zeros(len(sims), dtype="float32")
    for j, value in enumerate(sims):
        left = j
        while left > 0 and sims[left - 1] >= sims[left]:
            left -= 1
        right = j
        while right < len(sims) - 1 and sims[right + 1] >= sims[right]:
            right += 1
        depths[j] = (sims[left] - value) + (sims[right] - value)
    return depths


def _length_cost(words: int, options: TagOptions) -> float:
    low, high = options.passage_min_words, options.passage_max_words
    target = (low + high) / 2
    cost = SHAPE_COST * ((words - target) / max(1.0, (high - low) / 2)) ** 2
    if words < low:
        cost += SHORT_COST * (low - words) / low
    return cost


def choose_cuts(words: Sequence[int], gains: Sequence[float], options: TagOptions) -> list[int]:
    """Where to start each passage of a turn (unit indices, 0 first), so that every passage stays
    within passage_max_words (a single over-long unit alone excepted) and the sum of the gains of
    the gaps cut, less the length costs, is the highest. gains[i] is what cutting before unit i
    earns (gains[0] is unused)."""
    n = len(words)
    if n == 0:
        return []
    prefix = [0]
    for count in words:
        prefix.append(prefix[-1] + count)
    best = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end - 1, -1, -1):
            length = prefix[end] - prefix[start]
            if length > options.passage_max_words and end - start > 1:
                break
            cost = best[start] + _length_cost(length, options) - (gains[start] if start > 0 else 0.0)
            if cost < best[end]:
                best[end], back[end] = cost, start
    starts, end = [], n
    while end > 0:
        end = back[end]
        starts.append(end)
    return starts[::-1]


def gap_gains(units: Sequence[Unit], depths: Sequence[float] | None, threshold: float,
              options: TagOptions) -> list[float]:
    """What cutting before each unit earns: the topic shift (depth above the threshold) and a
    long pause."""
    gains = [0.0] * len(units)
    for i in range(1, len(units)):
        gain = (float(depths[i - 1]) - threshold) if depths is not None else -0.05
        if units[i].pause_before_s >= options.pause_s:
            gain += PAUSE_POINTS
        gains[i] = gain
    return gains


def _turn_texts(turns: list[list[Segment]], mending: Mending | None) -> tuple[list[str], list[list[int]]]:
    """Each turn's text (its segments joined, the recogniser's case and stops mended where it
    speaks French) and where each of its segments starts in it."""
    texts, all_offsets = [], []
    for turn in turns:
        text, offsets = mend_turn([s.text for s in turn], mending if turn[0].lang in (None, "fr") else None)
        texts.append(text)
        all_offsets.append(offsets)
    return texts, all_offsets


def split_passages(segments: Sequence[Segment], nlp: Any, options: TagOptions,
                   embed: Callable[[Sequence[str]], np.ndarray] | None = None,
                   mending: Mending | None = None) -> list[PassageSpan]:
    """The transcript's segments as passages of whole sentences, cut where the topic shifts.

    `embed` turns sentences into unit vectors (meaning.embed by default when tag.segmentation is
    'topic'); without it, passages are cut at long pauses and by length only. `mending` gives
    the words that mend the recogniser's case and false stops where segments meet (French)."""
    import numpy as np

    if embed is None and options.segmentation == "topic":
        from .meaning import embed as encoder_embed

        embed = encoder_embed
    segments = split_long_segments([s for s in segments if s.text.strip()], nlp.max_length)
    turns = split_long_turns(_turns(segments), nlp.max_length)
    texts, all_offsets = _turn_texts(turns, mending)
    turn_units = [_units(doc, turn, offsets, options.passage_max_words)
                  for turn, offsets, doc in zip(turns, all_offsets, nlp.pipe(texts))]
    vectors = None
    if embed is not None:
        flat = [u.span.text for units in turn_units for u in units]
        vectors = embed(flat) if flat else np.zeros((0, 1), dtype="float32")
    # None for every turn when passages are not cut by topic (no sentence embeddings).
    turn_vectors: list[np.ndarray | None] = []
    turn_depths: list[np.ndarray | None] = []
    position = 0
    for units in turn_units:
        if vectors is None:
            turn_vectors.append(None)
            turn_depths.append(None)
            continue
        block = vectors[position:position + len(units)]
        position += len(units)
        turn_vectors.append(block)
        turn_depths.append(depth_scores(gap_similarities(block, options.topic_window)))
    known = [d for d in turn_depths if d is not None and len(d)]
    threshold = 0.0
    if known:
        every = np.concatenate(known)
        threshold = float(every.mean() + DEPTH_SD * every.std())

    passages = []
    for turn, offsets, text, units, block, depths in zip(turns, all_offsets, texts, turn_units, turn_vectors,
                                                         turn_depths):
        unsure = unsure_words(turn, offsets)
        starts = choose_cuts([u.words for u in units], gap_gains(units, depths, threshold, options), options)
        for first, last in zip(starts, [*starts[1:], len(units)]):
            group = units[first:last]
            doc = group[0].span.doc
            sentences = [Sentence(start=round(time_at(turn, offsets, u.start_char), 2),
                                  end=round(time_at(turn, offsets, u.end_char, ending=True), 2),
                                  text=text[u.start_char:u.end_char].strip(),
                                  unsure=[w for at_char, w in unsure if u.start_char <= at_char < u.end_char])
                         for u in group]
            passages.append(PassageSpan(
                span=doc[group[0].span.start:group[-1].span.end],
                text=text[group[0].start_char:group[-1].end_char].strip(),
                start=sentences[0].start,
                end=sentences[-1].end,
                speaker=turn[0].speaker,
                lang=turn[0].lang,
                sentences=sentences,
                sentence_spans=[u.span for u in group],
                sentence_vectors=block[first:last] if block is not None else None,
            ))
    return passages


def unsure_words(turn: list[Segment], offsets: list[int]) -> list[tuple[int, UnsureWord]]:
    """The words of a turn the recogniser was unsure of, each with where it starts in the
    turn's text (segments joined by one space, as _turn_texts joins them)."""
    found = []
    for segment, offset in zip(turn, offsets):
        text = segment.text.strip()
        position = 0
        for word, owners in zip(text.split(), text_word_owners(segment)):
            position = text.find(word, position)
            probabilities = [p for w in owners if (p := segment.words[w].p) is not None]
            if probabilities and min(probabilities) < UNSURE_P:
                found.append((offset + position, UnsureWord(text=word, p=round(min(probabilities), 3),
                                                            at=segment.words[owners[0]].start)))
            position += len(word)
    return found


def time_at(turn: list[Segment], offsets: list[int], char: int, *, ending: bool = False) -> float:
    """The moment a character of the turn's text was spoken (its word's start, or with `ending`
    the end of the word before it).

    Segments can be long (batched Whisper gives up to 30 s), so a passage that starts inside one
    takes its time from the segment's word timings when there are any, else by interpolating
    over the segment's characters."""
    index = max(0, bisect.bisect_right(offsets, char - 1 if ending else char) - 1)
    segment = turn[index]
    text = segment.text.strip()
    within = min(max(char - offsets[index], 0), len(text))
    if segment.words:
        position = 0
        for word in segment.words:
            word_end = position + len(word.text.strip())
            if ending and word_end >= within:
                return word.end
            if not ending and word_end > within:
                return word.start
            position = word_end + 1
        return segment.words[-1].end
    return segment.start + (segment.end - segment.start) * (within / len(text) if text else 0.0)
