"""What the review page shows of a session, read from its files at each request, and how an
edit of its text becomes corrections.

The transcript is shown as the review revises it *now* (the cycle's glossary and the review
file's corrections applied, voices named: core/revision.py), so a correction appears as soon as
it is saved; passages, themes and quotes are those of the last tagging (`<id>.tags.json`), which
the page's background job brings up to date after each change. Words keep the times the
recogniser gave them (their start, end and probability); a transcript without word times is
shown word by word all the same, with times spread over its segments; words a correction wrote
take the times of the words they replace, and say which ones.

Staff edit the text freely (a passage, a replacement across the session): the page sends the
words as shown and as wanted, and `plan_corrections` turns the difference into the fewest
corrections that give exactly that text, each anchored to its moment and to enough words
around it to apply there and nowhere else, checked by applying them.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.artefacts import Passage, Recognised, Tags, Transcript
from ..core.config import Config, Session
from ..core.errors import ReviewError, SyntheseError
from ..core.heard import UNSURE_P
from ..core.review_file import (
    Correction,
    Review,
    Revised,
    find_passage,
    orphaned_decisions,
    parse_review,
    revise,
)
from ..core.revision import INAUDIBLE, Piece, Revision, ends_sentence, in_inaudible_sentences, lead, trail
from ..core.typography import french_text, timestamp
from ..voices import Recognition, named_with, recognise
from ..workspace import Workspace
from .edits import version_of

log = logging.getLogger(__name__)



@dataclass
class Token:
    """A word as shown: the text between two spaces of the revised transcript, with its time."""

    text: str
    start: float
    end: float
    p: float | None = None
    source: str = ""  # "" as transcribed; "correction" or "glossary" when the review wrote it
    original: str = ""  # what a correction or the glossary replaced, shown on hover and focus
    segment: int = -1  # its segment in the revised transcript, and its place in the segment's words
    position: int = -1
    seek: float | None = None  # where a click plays from: its start, or its segment's without word times
    inaudible: bool = False  # in a sentence marked [inaudible]: never quoted, so never to check

    def __post_init__(self) -> None:
        if self.seek is None:
            self.seek = self.start

    @property
    def corrected(self) -> bool:
        return bool(self.source)

    @property
    def low(self) -> bool:
        return self.p is not None and self.p < UNSURE_P and not self.corrected and not self.inaudible


@dataclass
class ThemeView:
    id: str
    label: str
    source: str  # "tagger", "review", or "" for a rejected theme
    decision: str | None  # the reviewer's decision on it: accept, add, reject


@dataclass
class PassageView:
    passage: Passage
    speaker: str
    tokens: list[Token]
    themes: list[ThemeView]
    rejected: list[ThemeView]
    addable: list[tuple[str, str]]  # themes that may be added: (id, label)
    indices: list[int] = field(default_factory=list)  # its words' places in ReviewState.tokens

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.tokens)

    @property
    def low_count(self) -> int:
        return sum(t.low for t in self.tokens)


@dataclass
class VoiceView:
    label: str
    name: str  # "" when not named yet
    segments: int
    first_s: float
    samples: list[float] = field(default_factory=list)  # moments to listen to it, spread over the session
    recognised: Recognised | None = None  # the name a voice profile gives it, until confirmed or rejected
    rejected: list[str] = field(default_factory=list)  # names staff said it is not
    sample_s: float = 0.0  # where to listen to a recognised voice: the start of its longest turn
    sample_length_s: float = 0.0


@dataclass
class QuoteView:
    text: str
    speaker: str
    timestamp: str
    start_s: float
    passage: Passage
    decision: str | None  # pin or exclude
    sentences: list[tuple[int, str, bool]]  # (index, text, quoted)


@dataclass
class ChapterView:
    id: str
    number: int
    label: str
    summary: str
    quotes: list[QuoteView]
    others: list[tuple[Passage, str | None]]  # passages of the theme not quoted, and their decision


@dataclass
class HeldView:
    """A quote held back until its text is checked: what it says, why, and where to check it."""

    theme: str  # the theme's label
    passage: Passage
    text: str
    start_s: float
    timestamp: str
    reasons: list[str]  # "unsure", "gap", "repeated"
    unsure: list[str]  # the words the recogniser was unsure of, as written
    sentences: list[int]  # the passage's sentences to correct or confirm


@dataclass
class CorrectionView:
    """A correction of the review file, for the history: undone by taking it out of the file."""

    number: int  # its place among the file's corrections
    at_s: float
    original: str
    corrected: str
    kind: str  # replace, inaudible, delete
    applied: bool


@dataclass
class GlossaryView:
    heard: str
    written: str
    count: int  # how many times it applies in this session


@dataclass
class Moment:
    """A sentence said, as the page shows it: its text, who said it, when (a play button)."""

    text: str
    speaker: str
    start_s: float
    timestamp: str


@dataclass
class ProposalView:
    """A proposed message to retain: the sentence, its passage's key (what accepting writes),
    the sentences that say the same thing, and whether staff accepted it already."""

    said: Moment
    passage_key: str
    similar: list[Moment]
    accepted: bool


@dataclass
class MessageView:
    """A message staff wrote (review file `key_messages`), with the moments of its passages."""

    number: int  # its place in the file's list
    text: str
    passages: list[str]  # the keys as written
    moments: list[Moment]


@dataclass
class SpeakerWriting:
    """A named voice in « Les intervenants »: its time, its sentences, and the sentence staff
    wrote to present it."""

    name: str
    details: str
    quotes: list[Moment]
    presentation: str


@dataclass
class ExchangeView:
    """A question and its answer: marked in the review file, or proposed."""

    marked: bool
    passage_id: str
    passage_key: str
    question: Moment
    answer: Moment | None


@dataclass
class ReviewState:
    """Everything the page shows, and the version of the review file it was made from."""

    session: Session
    config: Config
    review_path: Path
    version: str
    review: Review
    review_error: str | None
    transcript: Transcript | None
    tags: Tags | None
    revised: Transcript | None = None
    revision: Revised | None = None
    tokens: list[Token] = field(default_factory=list)  # every word shown, in order
    voices: list[VoiceView] = field(default_factory=list)
    passages: list[PassageView] = field(default_factory=list)
    chapters: list[ChapterView] = field(default_factory=list)
    history: list[CorrectionView] = field(default_factory=list)
    glossary: list[GlossaryView] = field(default_factory=list)
    glossary_version: str = ""
    glossary_error: str | None = None
    orphaned: list[str] = field(default_factory=list)
    theme_labels: dict[str, str] = field(default_factory=dict)
    held: list[HeldView] = field(default_factory=list)  # quotes held back until their text is checked
    recognition: Recognition = field(default_factory=Recognition)
    remember_voices: bool = False  # voices.remember: the voices named here are remembered for the cycle
    # What staff write for the documents: « À retenir » (theirs, and the proposals), the
    # speakers' presentations, the questions (and the passages that ask one, to mark).
    messages: list[MessageView] = field(default_factory=list)
    proposals: list[ProposalView] = field(default_factory=list)
    speakers: list[SpeakerWriting] = field(default_factory=list)
    exchanges: list[ExchangeView] = field(default_factory=list)
    askable: list[tuple[Passage, str]] = field(default_factory=list)  # passages with a question, and its text

    @property
    def gaps(self) -> list:
        """Speech heard but not transcribed, for staff to listen to."""
        return list(self.transcript.gaps) if self.transcript is not None else []

    def passage_view(self, passage_id: str) -> PassageView | None:
        return next((v for v in self.passages if v.passage.id == passage_id), None)

    def same_passage(self, passage: Passage):
        """Whether a key written in the review file names `passage`."""
        passages = self.tags.passages if self.tags else []
        return lambda key: (found := find_passage(key, passages)) is not None and found.id == passage.id


# --- words and their times ---------------------------------------------------------------------------

def shown_tokens(revised: Revised) -> list[Token]:
    """Every word of the revised transcript as shown, in order, with its time and origin."""
    tokens: list[Token] = []
    segments = revised.transcript.segments
    marked = in_inaudible_sentences([(s.speaker, [p.text for p in pieces]) for s, pieces in zip(segments, revised.pieces)])
    for index, (segment, pieces) in enumerate(zip(segments, revised.pieces)):
        for position, piece in enumerate(pieces):
            # Without word times a spread time may fall after the word is said: play from the
            # segment's start.
            seek = piece.start if segment.words else segment.start
            tokens.append(Token(piece.text, round(piece.start, 3), round(piece.end, 3), piece.p, piece.source,
                                piece.replaced, index, position, seek, marked[index][position]))
    return tokens


def _assign(tokens: Sequence[Token], passages: Sequence[Passage]) -> list[list[int]]:
    """The indices of the shown words of each passage: the passages' words matched to the
    transcript's (they differ when the review changed since the last tagging). A word changed
    since goes with the passage of the word it replaces; a word added, with the word before it."""
    wanted = [index for index, p in enumerate(passages) for _ in p.text.split()]
    result: list[list[int]] = [[] for _ in passages]
    if not passages:
        return result
    words = [w for p in passages for w in p.text.split()]
    shown = [t.text for t in tokens]
    opcodes = [("equal", 0, len(shown), 0, len(words))] if words == shown else \
        difflib.SequenceMatcher(None, shown, words, autojunk=False).get_opcodes()
    for op, a1, a2, b1, b2 in opcodes:
        for k in range(a1, a2):
            if op in ("equal", "replace") and b1 < b2:
                owner = wanted[min(b1 + k - a1, b2 - 1)]
            else:
                owner = wanted[b1 - 1] if b1 > 0 else wanted[0] if wanted else 0
            result[owner].append(k)
    return result


VOICE_SAMPLES = 3
SAMPLE_MIN_S = 2.5  # a sample long enough to recognise a voice


def _samples(starts_and_lengths: Sequence[tuple[float, float]]) -> list[float]:
    """Up to VOICE_SAMPLES moments a voice speaks, spread over the session, long turns first."""
    long = [start for start, length in starts_and_lengths if length >= SAMPLE_MIN_S] or \
        [start for start, _ in starts_and_lengths]
    if len(long) <= VOICE_SAMPLES:
        return long
    step = (len(long) - 1) / (VOICE_SAMPLES - 1)
    return [long[round(i * step)] for i in range(VOICE_SAMPLES)]


# --- the state ---------------------------------------------------------------------------------------

def read_state(ws: Workspace, session: Session) -> ReviewState:
    """The page's state for a session, from its transcript, tags, review file and the cycle's glossary."""
    from ..core.glossary import glossary_path
    from ..stages import cycle_glossary, session_document

    config = ws.config
    paths = ws.paths(session)
    data = paths.review.read_bytes() if paths.review.is_file() else b""
    review_error = None
    try:
        review = parse_review(data.decode("utf-8"), paths.review.name)
    except UnicodeDecodeError:
        review, review_error = Review(), f"{paths.review.name}: not UTF-8 text. Save it as UTF-8."
    except ReviewError as exc:
        review, review_error = Review(), str(exc)
    transcript = Transcript.load(paths.transcript) if paths.transcript.is_file() else None
    tags = None
    if paths.tags.is_file():
        try:
            tags = Tags.load(paths.tags)
        except SyntheseError as exc:
            log.warning("review: %s", exc)
    labels = {t.id: french_text(t.label) for t in config.themes}
    state = ReviewState(session, config, paths.review, version_of(data), review, review_error, transcript, tags,
                        theme_labels=labels, remember_voices=config.voices.remember)
    glossary_file = glossary_path(config.root)
    state.glossary_version = version_of(glossary_file.read_bytes() if glossary_file.is_file() else b"")
    try:
        review.glossary = cycle_glossary(config)
    except ReviewError as exc:
        state.glossary_error = str(exc)
    if transcript is None:
        return state
    if review_error is None:
        try:
            state.recognition = recognise(config, session, transcript, review)
        except SyntheseError as exc:
            log.warning("review: voices not recognised: %s", exc)
    recognised = state.recognition.recognised
    # The voices recognised are named as the tag stage names them; the glossary is the review's.
    revised = revise(transcript, named_with(review, recognised))
    state.revision = revised
    state.revised = revised.transcript
    state.orphaned = list(revised.orphaned)
    state.history = [CorrectionView(number, c.at_s, c.original, c.corrected, c.kind, applied)
                     for number, (c, applied) in enumerate(zip(review.corrections, revised.applied))]
    state.glossary = [GlossaryView(e.heard, e.written, count) for e, count in zip(review.glossary,
                                                                                   revised.glossary_counts)]

    voices: dict[str, VoiceView] = {}
    turns: dict[str, list[tuple[float, float]]] = {}
    for segment in transcript.segments:
        if segment.speaker:
            voice = voices.setdefault(segment.speaker, VoiceView(
                segment.speaker, review.speakers.get(segment.speaker, ""), 0, segment.start,
                recognised=recognised.get(segment.speaker), rejected=review.rejected_names.get(segment.speaker, [])))
            voice.segments += 1
            if segment.end - segment.start > voice.sample_length_s:
                voice.sample_s, voice.sample_length_s = segment.start, segment.end - segment.start
            turns.setdefault(segment.speaker, []).append((segment.start, segment.end - segment.start))
    for label, voice in voices.items():
        voice.samples = _samples(turns[label])
    state.voices = list(voices.values())
    if tags is None:
        return state

    tokens = shown_tokens(revised)
    speakers = [revised.transcript.segments[t.segment].speaker for t in tokens]
    state.tokens = tokens
    passages = tags.passages
    theme_decisions: dict[tuple[str, str], str] = {}
    excerpt_decisions: dict[tuple[str, str], tuple[str, tuple[int, ...]]] = {}
    for decision in review.decisions:
        found = find_passage(decision.passage, passages)
        if found is None:
            continue
        if decision.kind in ("pin", "exclude"):
            excerpt_decisions[(found.id, decision.theme)] = (decision.kind, decision.sentences)
        else:
            theme_decisions[(found.id, decision.theme)] = decision.kind
    state.orphaned += orphaned_decisions(review.decisions, passages, list(labels))

    for passage, indices in zip(passages, _assign(tokens, passages)):
        shown = [tokens[i] for i in indices]
        speaker = (speakers[indices[0]] if indices else None) or passage.speaker or ""
        themes = [ThemeView(t.id, labels.get(t.id, t.id), t.source, theme_decisions.get((passage.id, t.id)))
                  for t in passage.themes]
        rejected = [ThemeView(theme_id, labels.get(theme_id, theme_id), "", "reject")
                    for (pid, theme_id), kind in theme_decisions.items() if pid == passage.id and kind == "reject"]
        present = {t.id for t in passage.themes} | {t.id for t in rejected}
        state.passages.append(PassageView(passage, speaker, shown, themes, rejected,
                                          [(i, label) for i, label in labels.items() if i not in present], indices))

    by_id = {p.id: p for p in passages}
    for held in tags.held:
        held_passage = by_id.get(held.passage)
        if held_passage is not None:
            state.held.append(HeldView(labels.get(held.theme, held.theme), held_passage, french_text(held.text),
                                       held.start, timestamp(held.start), list(held.reasons),
                                       [w.text for w in held.unsure], list(held.doubtful)))

    _writing(state, tags, review)

    document = session_document(config, session, tags, revised.transcript)
    for chapter in document.chapters:
        quotes = []
        for excerpt in chapter.excerpts:
            quoted_passage = by_id.get(excerpt.passage_id)
            if quoted_passage is None:
                continue
            kind, chosen = excerpt_decisions.get((quoted_passage.id, chapter.id), (None, ()))
            quotes.append(QuoteView(excerpt.text, excerpt.speaker, excerpt.timestamp, excerpt.start_s, quoted_passage,
                                    kind, [(i, s.text, not chosen or i in chosen)
                                           for i, s in enumerate(quoted_passage.sentences)]))
        quoted = {q.passage.id for q in quotes}
        others = [(p, excerpt_decisions.get((p.id, chapter.id), (None, ()))[0]) for p in passages
                  if p.id not in quoted and (p.theme(chapter.id) is not None or (p.id, chapter.id) in excerpt_decisions)]
        state.chapters.append(ChapterView(chapter.id, chapter.number, chapter.label, chapter.summary, quotes, others))
    return state


def _writing(state: ReviewState, tags: Tags, review: Review) -> None:
    """What the page offers staff to write from: « À retenir » (their messages, the proposals),
    the named voices to present, the questions (marked or proposed, and the passages to mark)."""
    from ..core.typography import counted, duration_text

    by_id = {p.id: p for p in tags.passages}
    wording = state.config.templates.wording()

    def moment(quote) -> Moment | None:
        passage = by_id.get(quote.passage) if quote is not None else None
        if passage is None:
            return None
        return Moment(french_text(quote.text), passage.speaker or wording["unknown_speaker"], quote.start,
                      timestamp(quote.start))

    for number, message in enumerate(review.key_messages):
        found = [find_passage(key, tags.passages) for key in message.passages]
        moments = [Moment("", p.speaker or "", p.start, timestamp(p.start)) for p in found if p is not None]
        state.messages.append(MessageView(number, message.text, list(message.passages), moments))
    written = {" ".join(m.text.split()) for m in review.key_messages}
    for proposal in tags.key_messages.proposals:
        said = moment(proposal.quote)
        if said is None:
            continue
        state.proposals.append(ProposalView(said, by_id[proposal.quote.passage].key,
                                            [m for m in map(moment, proposal.similar) if m is not None],
                                            " ".join(proposal.quote.text.split()) in written))
    for summary in tags.speakers:
        details = f"{duration_text(summary.seconds)} · {counted(wording['passages_count'], summary.passages)}"
        state.speakers.append(SpeakerWriting(summary.name, french_text(details),
                                             [m for m in map(moment, summary.quotes) if m is not None],
                                             review.presentations.get(summary.name, "")))
    for exchange in tags.exchanges:
        question = moment(exchange.question)
        if question is not None:
            passage = by_id[exchange.question.passage]
            state.exchanges.append(ExchangeView(exchange.source == "review", passage.id, passage.key, question,
                                                moment(exchange.answer)))
    marked = {e.passage_id for e in state.exchanges if e.marked}
    for passage in tags.passages:
        asked = [s.text for s in passage.sentences if s.text.rstrip().endswith("?")]
        if asked and passage.id not in marked:
            state.askable.append((passage, french_text(asked[-1])))


# --- text as staff want it, turned into corrections ------------------------------------------------------

class CorrectionError(SyntheseError):
    """An edited text that cannot become corrections; `reason` names the page's message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def corrections_for(state: ReviewState, view: PassageView, before: str, after: str) -> list[Correction]:
    """The corrections that turn the passage's text as shown (`before`) into `after`: any words
    and punctuation, sentences joined or cut, across the recogniser's segments; `[inaudible]`
    for a stretch nobody can make out; an empty text deletes the passage's words."""
    shown = [t.text for t in view.tokens]
    if " ".join(before.split()) != " ".join(shown) or state.revision is None or not view.indices:
        raise CorrectionError("text_changed")
    new = _with_marks(after).split()
    if new == shown:
        raise CorrectionError("nothing_changed")
    first, last = min(view.indices), max(view.indices)
    blocks = [(i1 + first, i2 + first, j1 + first, j2 + first) for op, i1, i2, j1, j2
              in difflib.SequenceMatcher(None, shown, new, autojunk=False).get_opcodes() if op != "equal"]
    texts = [t.text for t in state.tokens]
    return plan_corrections(state, texts[:first] + new + texts[last + 1:], blocks)


def _with_marks(text: str) -> str:
    """The text with the inaudible mark written as one word, however it was typed."""
    import re

    return re.sub(r"\[\s*inaudible\s*\]", INAUDIBLE, text, flags=re.IGNORECASE)


def plan_corrections(state: ReviewState, target: Sequence[str], blocks: Sequence[tuple[int, int, int, int]]
                     ) -> list[Correction]:
    """The corrections, in the order to append them to the review file, that turn the shown
    words (`state.tokens`) into `target`; `blocks` are the stretches that differ, (i1, i2) in
    the shown words and (j1, j2) in `target`, in order."""
    texts = [t.text for t in state.tokens]
    if state.revision is None or not blocks:
        raise CorrectionError("nothing_changed")
    spans = _merged([_widened(texts, target, block) for block in blocks])
    revision = Revision(state.revision.transcript)
    corrections = []
    # From the last to the first, so that no correction moves the words an earlier one is
    # anchored to (they are applied in this order, each on the text the one before left).
    for i1, i2, j1, j2 in reversed(spans):
        token = state.tokens[i1]
        correction = _anchored(revision, token.segment, token.position, texts[i1:i2], list(target[j1:j2]))
        corrections.append(correction)
        if not revision.apply(correction.original.split(), correction.corrected.split(), correction.at_s):
            raise CorrectionError("ambiguous")
    # What the review file will say, applied as every stage applies it: exactly the text wanted.
    review = dataclasses.replace(state.review, corrections=[*state.review.corrections, *corrections])
    transcript = state.transcript if state.transcript is not None else state.revision.transcript
    result = [p.text for pieces in revise(transcript, review).pieces for p in pieces]
    if result != list(target):
        raise CorrectionError("ambiguous")
    return corrections


def _widened(texts: Sequence[str], target: Sequence[str], block: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A stretch that differs, taken wide enough to be a correction: words added are anchored to
    the word before them (after, at the start), and punctuation removed at an edge is taken
    with the word beside it (a correction keeps the punctuation around its words unless its
    own words bring some)."""
    i1, i2, j1, j2 = block
    if i1 == i2:
        if i1 > 0:
            i1, j1 = i1 - 1, j1 - 1
        elif i2 < len(texts):
            i2, j2 = i2 + 1, j2 + 1
        else:
            raise CorrectionError("ambiguous")
    while j1 < j2 and lead(texts[i1]) and not lead(target[j1]):
        if i1 == 0:
            raise CorrectionError("ambiguous")
        i1, j1 = i1 - 1, j1 - 1
    while j1 < j2 and trail(texts[i2 - 1]) and not trail(target[j2 - 1]):
        if i2 == len(texts):
            raise CorrectionError("ambiguous")
        i2, j2 = i2 + 1, j2 + 1
    return i1, i2, j1, j2


def _merged(spans: Sequence[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    merged: list[tuple[int, int, int, int]] = []
    for span in spans:
        if merged and span[0] < merged[-1][1]:
            i1, _, j1, _ = merged[-1]
            merged[-1] = (i1, max(merged[-1][1], span[1]), j1, max(merged[-1][3], span[3]))
        else:
            merged.append(span)
    return merged


def _anchored(revision: Revision, segment: int, position: int, original: Sequence[str], corrected: Sequence[str]
              ) -> Correction:
    """A correction of these words at this place, with as many words around it as make it
    apply there and nowhere else: before then after, in turn."""
    span = revision.span(segment, position, len(original))
    if [p.text for _, _, p in span] != list(original):
        raise CorrectionError("ambiguous")
    before: list[tuple[int, int, Piece]] = []
    after: list[tuple[int, int, Piece]] = []
    earlier, later = revision.walk_back(segment, position), revision.walk(span[-1][0], span[-1][1] + 1)
    while True:
        words = [p.text for _, _, p in reversed(before)]
        following = [p.text for _, _, p in after]
        first = before[-1] if before else span[0]
        at_s = float(int(first[2].start))
        correction = Correction(at_s, " ".join([*words, *original, *following]),
                                " ".join([*words, *corrected, *following]), 0)
        if revision.locate(correction.original.split(), at_s) == (first[0], first[1]):
            return correction
        # Found elsewhere first: take one more word around it, before then after, in turn.
        sides = [earlier, later] if len(before) <= len(after) else [later, earlier]
        for side in sides:
            place = next(side, None)
            if place is not None:
                (before if side is earlier else after).append(place)
                break
        else:
            raise CorrectionError("ambiguous")


# --- find and replace across the session ----------------------------------------------------------------

@dataclass
class Occurrence:
    """Words found in the session: where (their first word's place in ReviewState.tokens) and
    the words around them, to show."""

    index: int
    count: int
    start: float
    seek: float
    before: str
    words: str
    after: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "count": self.count, "start": self.start, "seek": self.seek,
                "time": timestamp(self.start), "before": self.before, "words": self.words, "after": self.after}


CONTEXT_WORDS = 6


def find_words(state: ReviewState, query: str) -> list[Occurrence]:
    """Where these words are said in the session: whole words, any case, the punctuation
    around them left out (as the glossary finds them)."""
    from ..core.revision import bare

    wanted = [bare(w) for w in query.split()]
    if not wanted or not all(wanted):
        return []
    keys = [bare(t.text) for t in state.tokens]
    found = []
    k = 0
    while k <= len(keys) - len(wanted):
        if keys[k:k + len(wanted)] == wanted:
            tokens = state.tokens
            found.append(Occurrence(k, len(wanted), tokens[k].start, tokens[k].seek or tokens[k].start,
                                    " ".join(t.text for t in tokens[max(0, k - CONTEXT_WORDS):k]),
                                    " ".join(t.text for t in tokens[k:k + len(wanted)]),
                                    " ".join(t.text for t in tokens[k + len(wanted):k + len(wanted) + CONTEXT_WORDS])))
            k += len(wanted)
        else:
            k += 1
    return found


def replace_words(state: ReviewState, query: str, replacement: str, chosen: Sequence[int]) -> list[Correction]:
    """The corrections that write `replacement` at the chosen occurrences of `query` (their
    first word's index): the punctuation around each stays, and a capital at a sentence start."""
    found = {o.index: o for o in find_words(state, query)}
    revised = state.revised  # None only when no word is shown, so none is found
    if revised is None or not chosen or any(i not in found for i in chosen):
        raise CorrectionError("text_changed")
    texts = [t.text for t in state.tokens]
    target: list[str] = []
    blocks = []
    done = 0
    for index in sorted(set(chosen)):
        occurrence = found[index]
        target += texts[done:index]
        words = _with_marks(replacement).split()
        old = texts[index:index + occurrence.count]
        if words:
            speaker_change = index > 0 and state.tokens[index - 1].segment != state.tokens[index].segment and \
                revised.segments[state.tokens[index - 1].segment].speaker != \
                revised.segments[state.tokens[index].segment].speaker
            if old[0].lstrip("«\"“(")[:1].isupper() and (index == 0 or ends_sentence(texts[index - 1]) or speaker_change):
                at = len(lead(words[0]))
                words[0] = words[0][:at] + words[0][at:at + 1].upper() + words[0][at + 1:]
            if not lead(words[0]):
                words[0] = lead(old[0]) + words[0]
            if not trail(words[-1]):
                words[-1] = words[-1] + trail(old[-1])
        if words == old:
            done = index
            continue
        blocks.append((index, index + occurrence.count, len(target), len(target) + len(words)))
        target += words
        done = index + occurrence.count
    target += texts[done:]
    if not blocks:
        raise CorrectionError("nothing_changed")
    return plan_corrections(state, target, blocks)


# --- what an edit changed: themes, chapters, quotes -------------------------------------------------------

@dataclass
class TagsSummary:
    """What the page tells of a tagging, to say what an edit changed."""

    passages: list[Passage]
    chapters: dict[str, list[tuple[float, str, str]]]  # theme id -> its quotes (start, passage id, text)


def summarise(tags: Tags | None) -> TagsSummary:
    if tags is None:
        return TagsSummary([], {})
    chapters: dict[str, list[tuple[float, str, str]]] = {}
    tagged = {t.id for p in tags.passages for t in p.themes}
    for theme_id in [t.id for t in tags.codebook.themes]:
        quotes = tags.excerpts.get(theme_id, [])
        if theme_id in tagged or quotes:  # as the documents: a chapter for a theme discussed
            chapters[theme_id] = [(q.start, q.passage, q.text) for q in quotes]
    return TagsSummary([p.model_copy(deep=True) for p in tags.passages], chapters)


def effect_of(before: TagsSummary, after: TagsSummary, labels: dict[str, str], wording: dict[str, Any],
              limit: int = 6) -> str:
    """The themes gained or lost, chapters that appear or go, quotes that change, in words."""
    clauses: list[str] = []
    pairs = [(old, new) for old in before.passages if (new := find_passage(old.key, after.passages)) is not None]
    for theme_id, label in labels.items():
        named = False
        for old, new in pairs:
            had, has = old.theme(theme_id) is not None, new.theme(theme_id) is not None
            if had != has:
                key = "effect_theme_lost" if had else "effect_theme_gained"
                clauses.append(wording[key].format(theme=label, time=timestamp(new.start)))
                named = True
        old_chapter, new_chapter = before.chapters.get(theme_id), after.chapters.get(theme_id)
        if old_chapter is not None and new_chapter is None:
            clauses.append(wording["effect_chapter_gone_same" if named else "effect_chapter_gone"].format(theme=label))
        elif old_chapter is None and new_chapter is not None:
            clauses.append(wording["effect_chapter_new"].format(theme=label))
        elif old_chapter is not None and new_chapter is not None:
            if old_chapter and not new_chapter:
                clauses.append(wording["effect_no_excerpt_same" if named else "effect_no_excerpt"].format(theme=label))
                continue
            old_quotes = {round(start): text for start, _, text in old_chapter}
            new_quotes = {round(start): text for start, _, text in new_chapter}
            for start in sorted(set(old_quotes) | set(new_quotes)):
                if start not in new_quotes:
                    key = "effect_quote_removed"
                elif start not in old_quotes:
                    key = "effect_quote_added"
                elif old_quotes[start] != new_quotes[start]:
                    key = "effect_quote_changed"
                else:
                    continue
                clauses.append(wording[key].format(theme=label, time=timestamp(start)))
    if not clauses:
        return wording["effect_none"]
    if len(clauses) > limit:
        clauses = [*clauses[:limit - 1], wording["effect_more"].format(n=len(clauses) - limit + 1)]
    text = " ; ".join(clauses)
    return french_text(text[:1].upper() + text[1:] + ".")
