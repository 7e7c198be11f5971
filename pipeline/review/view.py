"""What the review page shows of a session, read from its files at each request.

The transcript is shown as staff's review file revises it *now* (corrections applied, voices
named), so a correction appears as soon as it is saved; passages, themes and quotes are those of
the last tagging (`<id>.tags.json`), which the page's background job brings up to date after
each change. Words keep the times the recogniser gave them (their start, end and probability);
a transcript without word times is shown word by word all the same, with times spread over its
segments, and words that a correction replaced take the times of the words they replace.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.artefacts import Passage, Recognised, Segment, Tags, Transcript
from ..core.config import Config, Session
from ..core.errors import ReviewError, SyntheseError
from ..core.heard import UNSURE_P, text_word_owners
from ..core.review_file import (
    Correction,
    Review,
    find_passage,
    locate_correction,
    orphaned_decisions,
    parse_review,
    revise_transcript,
)
from ..core.typography import french_text, timestamp
from ..voices import Recognition, named_with, recognise
from ..workspace import Workspace
from .edits import version_of

log = logging.getLogger(__name__)



@dataclass
class Token:
    """A word as shown: the text between two spaces of the transcript, with its time."""

    text: str
    start: float
    end: float
    p: float | None = None
    corrected: bool = False  # a reviewer's correction put it there
    segment: int = -1  # the segment it belongs to, and its place in the segment's text split on spaces
    position: int = -1
    seek: float | None = None  # where a click plays from: its start, or its segment's without word times

    def __post_init__(self) -> None:
        if self.seek is None:
            self.seek = self.start

    @property
    def low(self) -> bool:
        return self.p is not None and self.p < UNSURE_P and not self.corrected


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
    recognised: Recognised | None = None  # the name a voice profile gives it, until confirmed or rejected
    rejected: list[str] = field(default_factory=list)  # names staff said it is not
    sample_s: float = 0.0  # where to listen to it: the start of its longest turn
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
    reasons: list[str]  # "unsure", "gap"
    unsure: list[str]  # the words the recogniser was unsure of, as written
    sentences: list[int]  # the passage's sentences to correct or confirm


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
    tokens: list[Token] = field(default_factory=list)  # every word shown, in order
    voices: list[VoiceView] = field(default_factory=list)
    passages: list[PassageView] = field(default_factory=list)
    chapters: list[ChapterView] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    theme_labels: dict[str, str] = field(default_factory=dict)
    held: list[HeldView] = field(default_factory=list)  # quotes held back until their text is checked
    recognition: Recognition = field(default_factory=Recognition)
    remember_voices: bool = False  # voices.remember: the voices named here are remembered for the cycle

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

def segment_tokens(segment: Segment) -> list[Token]:
    """The segment's words as shown, each with the times (and probability) of the recogniser's
    words it is made of; where there are none, times spread over the segment by characters."""
    texts = segment.text.split()
    if not texts:
        return []
    timed: list[tuple[float, float, float | None] | None] = [None] * len(texts)
    for index, owners in enumerate(text_word_owners(segment)):
        if owners:
            words = [segment.words[w] for w in owners]
            probabilities = [w.p for w in words if w.p is not None]
            timed[index] = (words[0].start, words[-1].end, min(probabilities) if probabilities else None)
    tokens = []
    length = max(len(segment.text), 1)
    duration = max(segment.end - segment.start, 0.0)
    position = 0
    for index, text in enumerate(texts):
        position = segment.text.find(text, position)
        seek = None
        if timed[index] is not None:
            start, end, p = timed[index]
        else:
            # No word times: highlighted at a time spread by characters, played from the
            # segment's start (a spread time may fall after the word is said).
            start = segment.start + duration * position / length
            end = segment.start + duration * (position + len(text)) / length
            p, seek = None, segment.start
        position += len(text)
        tokens.append(Token(text, round(start, 3), round(end, 3), p, seek=seek))
    return tokens


def revised_tokens(raw: Segment, revised: Segment, segment: int = -1) -> list[Token]:
    """The revised segment's words: those left as transcribed keep their times and probability;
    those a correction put in take the times of the words they replace, spread evenly."""
    tokens = _revised_tokens(raw, revised)
    for position, token in enumerate(tokens):
        token.segment, token.position = segment, position
    return tokens


def _revised_tokens(raw: Segment, revised: Segment) -> list[Token]:
    before = segment_tokens(raw)
    after = revised.text.split()
    if [t.text for t in before] == after:
        return before
    tokens: list[Token] = []
    matcher = difflib.SequenceMatcher(None, [t.text for t in before], after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            tokens += before[a1:a2]
            continue
        if b1 == b2:
            continue
        if a1 < a2:
            start, end = before[a1].start, before[a2 - 1].end
        else:  # words added between two others
            start = tokens[-1].end if tokens else raw.start
            end = before[a1].start if a1 < len(before) else raw.end
        step = max(end - start, 0.0) / (b2 - b1)
        seek = before[a1].seek if a1 < len(before) else None
        tokens += [Token(after[b1 + i], round(start + i * step, 3), round(start + (i + 1) * step, 3), None, True,
                         seek=seek if seek is not None and seek < start else None)
                   for i in range(b2 - b1)]
    return tokens


def _assign(tokens: Sequence[Token], passages: Sequence[Passage]) -> list[list[int]]:
    """The indices of the shown words of each passage: the passages' words matched to the
    transcript's (they differ when the review changed since the last tagging)."""
    wanted = [(index, word) for index, p in enumerate(passages) for word in p.text.split()]
    owners: list[int | None] = [None] * len(tokens)
    if [w for _, w in wanted] == [t.text for t in tokens]:
        owners = [index for index, _ in wanted]
    else:
        matcher = difflib.SequenceMatcher(None, [t.text for t in tokens], [w for _, w in wanted])
        for a, b, size in matcher.get_matching_blocks():
            for k in range(size):
                owners[a + k] = wanted[b + k][0]
    result: list[list[int]] = [[] for _ in passages]
    current: int | None = None
    for index, (token, owner) in enumerate(zip(tokens, owners)):
        if not passages:
            break
        if owner is None:
            # A word no passage has (a correction since the last tagging): with the words around it.
            owner = current if current is not None else max(
                (i for i, p in enumerate(passages) if p.start <= token.start + 0.05), default=0)
        current = owner
        result[owner].append(index)
    return result


# --- the state ---------------------------------------------------------------------------------------

def read_state(ws: Workspace, session: Session) -> ReviewState:
    """The page's state for a session, from its transcript, tags and review file."""
    from ..stages import session_document

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
    if transcript is None:
        return state
    if review_error is None:
        try:
            state.recognition = recognise(config, session, transcript, review)
        except SyntheseError as exc:
            log.warning("review: voices not recognised: %s", exc)
    recognised = state.recognition.recognised
    revised, orphaned = revise_transcript(transcript, named_with(review, recognised))
    state.revised = revised
    state.orphaned = list(orphaned)

    voices: dict[str, VoiceView] = {}
    for segment in transcript.segments:
        if segment.speaker:
            voice = voices.setdefault(segment.speaker, VoiceView(
                segment.speaker, review.speakers.get(segment.speaker, ""), 0, segment.start,
                recognised.get(segment.speaker), review.rejected_names.get(segment.speaker, [])))
            voice.segments += 1
            if segment.end - segment.start > voice.sample_length_s:
                voice.sample_s, voice.sample_length_s = segment.start, segment.end - segment.start
    state.voices = list(voices.values())
    if tags is None:
        return state

    tokens: list[Token] = []
    speakers: list[str | None] = []
    for index, (raw, new) in enumerate(zip(transcript.segments, revised.segments)):
        shown = revised_tokens(raw, new, index)
        tokens += shown
        speakers += [new.speaker] * len(shown)
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

    by_key = {p.id: p for p in passages}
    for held in tags.held:
        passage = by_key.get(held.passage)
        if passage is not None:
            state.held.append(HeldView(labels.get(held.theme, held.theme), passage, french_text(held.text),
                                       held.start, timestamp(held.start), list(held.reasons),
                                       [w.text for w in held.unsure], list(held.doubtful)))

    document = session_document(config, session, tags, revised)
    by_id = {p.id: p for p in passages}
    for chapter in document.chapters:
        quotes = []
        for excerpt in chapter.excerpts:
            passage = by_id.get(excerpt.passage_id)
            if passage is None:
                continue
            kind, chosen = excerpt_decisions.get((passage.id, chapter.id), (None, ()))
            quotes.append(QuoteView(excerpt.text, excerpt.speaker, excerpt.timestamp, excerpt.start_s, passage, kind,
                                    [(i, s.text, not chosen or i in chosen) for i, s in enumerate(passage.sentences)]))
        quoted = {q.passage.id for q in quotes}
        others = [(p, excerpt_decisions.get((p.id, chapter.id), (None, ()))[0]) for p in passages
                  if p.id not in quoted and (p.theme(chapter.id) is not None or (p.id, chapter.id) in excerpt_decisions)]
        state.chapters.append(ChapterView(chapter.id, chapter.number, chapter.label, chapter.summary, quotes, others))
    return state


# --- a passage's text as staff corrected it, turned into corrections ----------------------------------

_PUNCTUATION = ".,;:!?«»\"'’()[]…"


class CorrectionError(SyntheseError):
    """An edited text that cannot become corrections; `reason` names the page's message."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _bare(words: Sequence[str]) -> list[str]:
    bare = (w.strip(_PUNCTUATION).lower().replace("’", "'") for w in words)
    return [b for b in bare if b]


def corrections_for(state: ReviewState, view: PassageView, before: str, after: str) -> list[Correction]:
    """The corrections that turn the passage's text as shown (`before`) into `after`, in the
    order to append them to the review file. Each is anchored to the moment of its first word
    and to as many words around it as make it apply there and nowhere else; the result is
    checked by applying them. Punctuation alone is not corrected (corrections replace words)."""
    shown = [t.text for t in view.tokens]
    if " ".join(before.split()) != " ".join(shown) or state.revised is None:
        raise CorrectionError("text_changed")
    new = after.split()
    if not new:
        raise CorrectionError("empty_passage")
    changes = [op for op in difflib.SequenceMatcher(None, shown, new, autojunk=False).get_opcodes() if op[0] != "equal"]
    if not changes:
        raise CorrectionError("nothing_changed")
    changes = [op for op in changes if _bare(shown[op[1]:op[2]]) != _bare(new[op[3]:op[4]])]
    if not changes:
        raise CorrectionError("punctuation_only")
    pieces: list[tuple[list[Token], list[str]]] = []
    for _, i1, i2, j1, j2 in changes:
        if i1 == i2:  # words added: anchored to the word before them (or after, at the start)
            if i1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            else:
                i2, j2 = i2 + 1, j2 + 1
        tokens = view.tokens[i1:i2]
        if len({t.segment for t in tokens}) > 1:
            if i2 - i1 != j2 - j1:
                raise CorrectionError("across_segments")
            pieces += [([token], [word]) for token, word in zip(tokens, new[j1:j2])]
        else:
            pieces.append((tokens, new[j1:j2]))
    # From the last to the first, so that no correction moves the words a later one is anchored to.
    simulated = state.revised
    corrections = []
    for tokens, words in reversed(pieces):
        correction = _anchored(simulated, tokens, words)
        corrections.append(correction)
        simulated = revise_transcript(simulated, Review(corrections=[correction]))[0]
    texts = [t.text for t in state.tokens]
    first, last = min(view.indices), max(view.indices)
    expected = _bare(texts[:first] + new + texts[last + 1:])
    if _bare([w for s in simulated.segments for w in s.text.split()]) != expected:
        raise CorrectionError("ambiguous")
    return corrections


def _anchored(transcript: Transcript, tokens: Sequence[Token], words: Sequence[str]) -> Correction:
    segment, position = tokens[0].segment, tokens[0].position
    said = transcript.segments[segment].text.split()
    if said[position:position + len(tokens)] != [t.text for t in tokens]:
        raise CorrectionError("ambiguous")
    at_s = float(int(tokens[0].start))
    left, right = position, position + len(tokens)
    while True:
        original = said[left:right]
        corrected = " ".join([*said[left:position], *words, *said[position + len(tokens):right]])
        # The correction keeps the punctuation around the words it replaces: leave it out here.
        lead = original[0][:len(original[0]) - len(original[0].lstrip(_PUNCTUATION))]
        trail = original[-1][len(original[-1].rstrip(_PUNCTUATION)):]
        if lead and corrected.startswith(lead):
            corrected = corrected[len(lead):]
        if trail and corrected.endswith(trail):
            corrected = corrected[:len(corrected) - len(trail)]
        correction = Correction(at_s, " ".join(original), corrected.strip(), 0)
        if locate_correction(transcript, correction) == (segment, left):
            return correction
        # Found elsewhere first: take one more word around it, before then after.
        if left > 0 and (right - left) % 2 == len(tokens) % 2:
            left -= 1
        elif right < len(said):
            right += 1
        elif left > 0:
            left -= 1
        else:
            raise CorrectionError("ambiguous")
