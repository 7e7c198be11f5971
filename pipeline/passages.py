"""Passages: the transcript cut into readable units of one speaker, each made of whole sentences.

Segments are grouped into turns (consecutive segments of one speaker), each turn is parsed by
spaCy into sentences, and sentences are grouped into passages of `passage_min_words` to
`passage_max_words` words, cut preferably at a long pause. Every sentence keeps its own start
and end time (from word timings where the transcript has them), so that a quote can begin at
its first word.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthese.artefacts import Segment, Sentence
from synthese.config import TagOptions
from synthese.limits import split_long_segments, split_long_turns

if TYPE_CHECKING:
    from spacy.tokens import Span

# A very long turn (a lecture, or a transcript without speakers) is parsed in pieces of about
# this many words, cut between segments, so memory stays flat on an ordinary laptop.
MAX_TURN_WORDS = 3000


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
    """A passage as found in the text: its spaCy span (for themes and entities) and its times."""

    span: Span
    text: str
    start: float
    end: float
    speaker: str | None
    lang: str | None
    sentences: list[Sentence]


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


def _units(doc: Any, turn: list[Segment], offsets: list[int], max_words: int) -> list[Unit]:
    units = []
    for sentence in doc.sents:
        pieces = [sentence]
        if word_count(sentence.text) > max_words:  # e.g. unpunctuated speech: cut at max_words
            pieces, start = [], sentence.start
            for i in range(sentence.start, sentence.end + 1):
                if i == sentence.end or (i > start and word_count(doc[start:i + 1].text) > max_words):
                    pieces.append(doc[start:i])
                    start = i
        for piece in pieces:
            if not piece.text.strip():
                continue
            first = bisect.bisect_right(offsets, piece.start_char) - 1
            opens_segment = piece.start_char == offsets[first] and first > 0
            pause = turn[first].start - turn[first - 1].end if opens_segment else 0.0
            units.append(Unit(piece, piece.start_char, piece.end_char, first, word_count(piece.text), max(0.0, pause)))
    return units


def _group(units: list[Unit], options: TagOptions) -> list[list[Unit]]:
    """Sentences grouped into passages of passage_min_words..passage_max_words words, cutting
    preferably at a long pause and, without one, around the middle of that range."""
    target = (options.passage_min_words + options.passage_max_words) / 2
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    words = 0
    for unit in units:
        if current and (
            words + unit.words > options.passage_max_words
            or (words >= options.passage_min_words and unit.pause_before_s >= options.pause_s)
            or words >= target
        ):
            groups.append(current)
            current, words = [], 0
        current.append(unit)
        words += unit.words
    if current:
        groups.append(current)
    # A short tail joins the passage before it when the result stays readable.
    if len(groups) > 1:
        tail = sum(u.words for u in groups[-1])
        before = sum(u.words for u in groups[-2])
        if tail < options.passage_min_words and tail + before <= options.passage_max_words:
            groups[-2].extend(groups.pop())
    return groups


def split_passages(segments: Sequence[Segment], nlp: Any, options: TagOptions) -> list[PassageSpan]:
    """The transcript's segments as passages with start/end times taken from the segments."""
    segments = split_long_segments([s for s in segments if s.text.strip()], nlp.max_length)
    turns = split_long_turns(_turns(segments), nlp.max_length)
    texts, all_offsets = [], []
    for turn in turns:
        offsets, parts, position = [], [], 0
        for segment in turn:
            part = segment.text.strip()
            offsets.append(position)
            parts.append(part)
            position += len(part) + 1
        texts.append(" ".join(parts))
        all_offsets.append(offsets)
    passages = []
    for turn, offsets, text, doc in zip(turns, all_offsets, texts, nlp.pipe(texts)):
        for group in _group(_units(doc, turn, offsets, options.passage_max_words), options):
            span = doc[group[0].span.start:group[-1].span.end]
            sentences = [Sentence(start=round(time_at(turn, offsets, u.start_char), 2),
                                  end=round(time_at(turn, offsets, u.end_char, ending=True), 2),
                                  text=text[u.start_char:u.end_char].strip()) for u in group]
            passages.append(PassageSpan(
                span=span,
                text=text[group[0].start_char:group[-1].end_char].strip(),
                start=sentences[0].start,
                end=sentences[-1].end,
                speaker=turn[0].speaker,
                lang=turn[0].lang,
                sentences=sentences,
            ))
    return passages


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
