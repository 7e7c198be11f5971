"""Excerpts and key points: what each theme chapter quotes, and the sentences that sum a theme up.

A quote is one to three sentences of a passage tagged with the theme, consecutive or with one
sentence left out (marked « […] »), of tag.quote_min_words to tag.quote_max_words words: whole
sentences, never a cut inside one, never one where a reviewer marked a stretch [inaudible].
Among a passage's candidates the quote is the one that carries the theme best, judged
sentence by sentence from the tagger's evidence (the theme's keywords said in each sentence,
with their weights, and each sentence's closeness in meaning to the theme): it must say the
theme (its evidence), stay on it (every sentence about it rather than an anecdote or another
theme) and read as speech (clauses with a verb, not a heading read out).

Nothing is quoted that nobody can stand behind: the machine never quotes a sentence with a word
the recogniser was unsure of, or next to speech it could not transcribe, until a reviewer
corrects or confirms it (those quotes are listed as held back, `held_quotes`); nor a sentence
where a reviewer marked a stretch [inaudible] (it is not held back: it is never quoted); nor housekeeping
(greetings, thanks, sound checks, agenda, turn-taking: wording.fr.yaml's `meta_talk`), nor a
heading read out (no verb), nor a fragment (a quote opens and closes like a sentence). A chapter
prints fewer quotes rather than doubtful ones, and none from a passage tagged with its theme
whose sentences that say it cannot be quoted (the others owe the theme to them); a reviewer's
pin is quoted all the same.

Chapters are filled together, best (theme, quote) first, with maximal marginal relevance so one
chapter's quotes do not repeat each other; a sentence is quoted once in the whole document. A
passage that is truly about two themes (enough evidence of the second in sentences of its own)
may serve both chapters with different sentences. Every theme with tagged passages gets a quote
before any gets a second. Reviewers' pinned passages come first; excluded ones are never quoted
for that theme. Each chapter's quotes are listed in the order they were said.

Key points are sentences chosen extractively, under the same rules as quotes: for the session,
those central to all that was said and about the cycle's themes; for a theme, those central to
the passages it leads (its strongest theme, by a margin), saying it more than any other and as
clearly on their own as a passage must to be tagged with it (tag.threshold); not
redundant with one another, from different speakers where possible. No sentence is printed twice
in a document: a key point is never a quote, nor another key point.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..core.artefacts import Gap, HeldQuote, KeyPoints, Passage, Quote
from ..core.config import TagOptions
from ..core.heard import Mending
from ..core.ideas import pack_vectors, unpack_vectors
from ..core.revision import INAUDIBLE
from ..core.textnorm import edit_distance
from .themes import SentenceEvidence, meaning_points

__all__ = ["ELISION", "ExcerptChoices", "SessionEvidence", "SentenceEvidence", "held_quotes", "key_points",
           "pack_vectors", "quote_text", "select_quotes", "sentence_doubts", "subtheme_of", "unpack_vectors"]

if TYPE_CHECKING:
    import numpy as np

REPEAT_OVERLAP = 0.6  # share of a quote's word pairs found in a chosen one from which it is said twice
# A sentence with this share of its word pairs in one printed already is that sentence again,
# heard a little differently (a word or two in twenty): never printed a second time then. Two
# sentences that only share a long phrase ("nous travaillons sur … depuis le début du projet") stay
# below it.
NEAR_REPEAT = 0.8
# Half of a quote's words at least are in sentences with evidence of its theme: a short sentence
# that says it does not bring a long neighbour that does not into the chapter.
MIN_SAID_SHARE = 0.5
ELISION = "[…]"
# A passage may serve a second chapter only when the sentences quoted there carry that theme
# with at least this many points of evidence of their own (the tagging bar is about 1 point).
SECOND_CHAPTER_POINTS = 1.0
# Candidates are judged on: the evidence they carry (1 - 2^-points), how much of them is about
# the theme (share of words in sentences about it), whether the theme is the one they carry
# most, and these factors.
NO_VERB_FACTOR = 0.55  # a sentence without a verb is a heading or a list read out
QUESTION_FACTOR = 0.3  # a question (often the moderator's) says less than an answer
ANSWERED_QUESTION_FACTOR = 0.8  # a question followed by its answer
META_FACTOR = 0.5  # so does talk about the session itself ("pour la suite de cette séance…")
# A chapter's second and third quotes must score at least this (its first is always given):
# better two good quotes than a third that is a question or a closing word.
EXTRA_QUOTE_FLOOR = 0.3
ELISION_FACTOR = 0.9  # a contiguous quote reads better than one with a cut, all else equal
COMFORT_WORDS = (20, 55)  # lengths that read well; outside them a quote is worth SHORT_LONG_FACTOR
SHORT_LONG_FACTOR = 0.85
# A quote goes under the sub-theme it is closest to in meaning when that similarity (cosine of
# the sentence encoder) reaches this floor, or a sub-theme keyword is said; under "others" else.
# (On the long session, quotes lie between -0.02 and 0.38 of their theme's sub-themes; below
# 0.15 the closest sub-theme is hardly closer than the others.)
SUBTHEME_FLOOR = 0.15
# Key points: sentences of this many words, with a verb, not a question.
KEY_POINT_WORDS = (10, 45)
KEY_POINT_LAMBDA = 0.6  # relevance against redundancy
# A theme's key point comes from a passage whose strongest theme it is, ahead of the next by this
# much (scores 1 - 2^-points), and carries the theme this much at least.
KEY_POINT_MARGIN = 0.1
KEY_POINT_RELEVANCE = 0.25
SAME_SPEAKER_PENALTY = 0.1  # a speaker already heard gives way unless clearly more central


@dataclass
class ExcerptChoices:
    """Reviewers' choices: passages pinned to a theme (in file order) or excluded from it."""

    pinned: dict[str, list[str]] = field(default_factory=dict)  # theme id -> passage ids
    excluded: dict[str, set[str]] = field(default_factory=dict)  # theme id -> passage ids
    # A pinned passage shortened by a reviewer: theme id -> passage id -> its sentences to quote.
    sentences: dict[str, dict[str, list[int]]] = field(default_factory=dict)


@dataclass
class SessionEvidence:
    """The sentence-level evidence of every passage, with the scales to read it."""

    sentences: Mapping[str, list[SentenceEvidence]]  # passage id -> its sentences' evidence
    vectors: Mapping[str, np.ndarray]  # passage id -> (sentences, dims) unit vectors; may be empty
    theme_ids: Sequence[str]
    options: TagOptions
    # Sentences not to quote until a reviewer confirms or corrects them, with why: passage id ->
    # sentence index -> reasons ("unsure": a word the recogniser was unsure of; "gap": speech
    # it could not transcribe next to it).
    doubtful: Mapping[str, Mapping[int, Sequence[str]]] = field(default_factory=dict)
    # The words that tell a sentence cut short from a whole one (wording.fr.yaml).
    mending: Mending = field(default_factory=Mending)

    def quotable(self, pid: str, index: int) -> bool:
        """Whether the machine may quote the sentence: heard with confidence (or confirmed),
        and not housekeeping (welcome, thanks, turns, agenda)."""
        evidence = self.sentences.get(pid)
        meta = evidence is not None and index < len(evidence) and evidence[index].meta
        return not meta and index not in self.doubtful.get(pid, ())

    def opens(self, text: str) -> bool:
        """The sentence opens like one: a capital, a digit or an opening quote, and not a word
        that continues the sentence before ("qui", "dont")."""
        text = text.strip()
        first = re.match(r"[\w'’-]+", text)
        if not text or not (text[0].isupper() or text[0].isdigit() or text[0] in "«\"“(—–-"):
            return False
        return first is None or first.group().lower().replace("’", "'") not in self.mending.continuation_words

    def closes(self, text: str) -> bool:
        """The sentence ends like one: a terminal mark, not after an elision, a hyphen or a word
        that cannot end a sentence ("les.")."""
        text = text.strip().rstrip("»\"”)] ")
        if not text or text[-1] not in ".!?…":
            return False
        body = text.rstrip(".!?… ")
        last = re.search(r"[\w'’-]+$", body)
        if not body or body.endswith(("'", "’", "-")):
            return False
        return last is None or last.group().lower().replace("’", "'") not in self.mending.cut_words

    def relevance(self, pid: str, index: int, theme_id: str) -> float:
        """How much one sentence is about a theme, on the scale of theme scores: 1 - 2^-points."""
        return 1.0 - 2.0 ** -self.points(pid, index, theme_id)

    def points(self, pid: str, index: int, theme_id: str) -> float:
        sentence = self.sentences[pid][index]
        meaning = 0.0
        if self.options.meaning != "none" and sentence.meaning:
            meaning = meaning_points(sentence.meaning[list(self.theme_ids).index(theme_id)], self.options)
        return sentence.points.get(theme_id, 0.0) + meaning

    def vector(self, pid: str, indices: Sequence[int]) -> np.ndarray | None:
        import numpy as np

        block = self.vectors.get(pid)
        if block is None or not len(block):
            return None
        mean = block[list(indices)].mean(axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-9)


@dataclass
class Candidate:
    passage: str
    indices: tuple[int, ...]
    words: int
    score: float
    points: float  # evidence of the theme in these sentences
    said_share: float = 1.0  # share of its words in sentences with evidence of the theme


def _word_pairs(text: str) -> frozenset[tuple[str, str]]:
    return _plain_pairs(_plain(text))


def quote_text(passage: Passage, indices: Sequence[int]) -> str:
    """The sentences as quoted: consecutive ones as said, « […] » where sentences are left out."""
    parts: list[str] = []
    for position, index in enumerate(indices):
        if position and index != indices[position - 1] + 1:
            parts.append(ELISION)
        parts.append(passage.sentences[index].text.strip())
    return " ".join(parts)


def _shapes(count: int, available: set[int]) -> list[tuple[int, ...]]:
    """Index sets a quote may take in a passage of `count` sentences: one to three sentences,
    consecutive or with one sentence left out inside."""
    shapes: list[tuple[int, ...]] = []
    for first in range(count):
        for indices in ((first,), (first, first + 1), (first, first + 1, first + 2), (first, first + 2),
                        (first, first + 1, first + 3), (first, first + 2, first + 3)):
            if indices[-1] < count and all(i in available for i in indices):
                shapes.append(indices)
    return shapes


def _candidates(passage: Passage, theme_id: str, evidence: SessionEvidence, available: set[int],
                relaxed: bool = False, whole: bool = True) -> list[Candidate]:
    """Every quote the passage offers the theme among its available sentences, scored; `relaxed`
    takes shorter ones; `whole` only statements (a verb in each sentence) that open and close
    like sentences."""
    options = evidence.options
    sentences = evidence.sentences.get(passage.id)
    if not sentences or len(sentences) != len(passage.sentences):
        return []
    low = 1 if relaxed else options.quote_min_words
    found = []
    for indices in _shapes(len(passage.sentences), available):
        words = sum(sentences[i].words for i in indices)
        if not low <= words <= options.quote_max_words or (whole and not _whole(passage, indices, evidence)):
            continue
        own = [evidence.points(passage.id, i, theme_id) for i in indices]
        said = [sentences[i].points.get(theme_id, 0.0) for i in indices]
        # Keywords add up over the sentences; closeness in meaning counts once, at its best.
        points = sum(said) + max(o - s for o, s in zip(own, said))
        carry = 1.0 - 2.0 ** -points
        on_theme = sum(sentences[i].words * (1.0 - 2.0 ** -p) for i, p in zip(indices, own)) / max(words, 1)
        strongest_other = max((sum(evidence.points(passage.id, i, other) for i in indices) / len(indices)
                               for other in evidence.theme_ids if other != theme_id), default=0.0)
        mean_own = sum(own) / len(own)
        specific = mean_own / max(mean_own, strongest_other, 1e-9)
        score = carry * (0.4 + 0.6 * on_theme) * (0.6 + 0.4 * specific)
        if not all(sentences[i].verb for i in indices):
            if whole:  # a heading or a list read out (a programme's items) is not a quote
                continue
            score *= NO_VERB_FACTOR
        questions = [passage.sentences[i].text.rstrip().endswith("?") for i in indices]
        if questions[-1]:  # a quote that ends on a question leaves the reader without its answer
            score *= QUESTION_FACTOR
        elif any(questions):
            score *= ANSWERED_QUESTION_FACTOR
        if any(sentences[i].meta for i in indices):
            score *= META_FACTOR
        if indices[-1] - indices[0] + 1 != len(indices):
            score *= ELISION_FACTOR
        if not COMFORT_WORDS[0] <= words <= COMFORT_WORDS[1]:
            score *= SHORT_LONG_FACTOR
        said_share = sum(sentences[i].words for i, p in zip(indices, own) if p > 0) / max(words, 1)
        found.append(Candidate(passage.id, indices, words, score, points, said_share))
    return found


def _whole(passage: Passage, indices: Sequence[int], evidence: SessionEvidence) -> bool:
    """Each run of consecutive sentences of the quote opens and closes like a sentence: no
    fragment, no false stop, no cut on an elision or a hyphen."""
    texts = [passage.sentences[i].text for i in indices]
    for position, index in enumerate(indices):
        run_starts = position == 0 or indices[position - 1] != index - 1
        run_ends = position == len(indices) - 1 or indices[position + 1] != index + 1
        if (run_starts and not evidence.opens(texts[position])) or (run_ends and not evidence.closes(texts[position])):
            return False
    return True


class _Selection:
    """The state of the selection: sentences quoted, quotes per theme, chapters per passage."""

    def __init__(self, passages: Sequence[Passage], evidence: SessionEvidence, theme_ids: Sequence[str],
                 choices: ExcerptChoices):
        self.by_id = {p.id: p for p in passages}
        self.order = {p.id: i for i, p in enumerate(passages)}
        self.evidence = evidence
        self.theme_ids = list(theme_ids)
        self.choices = choices
        self.used: dict[str, set[int]] = {p.id: set() for p in passages}
        # A sentence holding a stretch a reviewer marked inaudible is never quoted: it would
        # put words in the speaker's mouth, or a hole.
        self.unquotable = {p.id: {i for i, s in enumerate(p.sentences) if INAUDIBLE in s.text} for p in passages}
        self.chosen: dict[str, list[Candidate]] = {t: [] for t in theme_ids}
        self.serves: dict[str, set[str]] = {p.id: set() for p in passages}
        self.pairs: list[frozenset[tuple[str, str]]] = []
        self.tagged = {t: [p.id for p in passages if p.theme(t) is not None
                           and p.id not in choices.excluded.get(t, set())] for t in theme_ids}
        self._best: dict[tuple[str, str, bool, bool], Candidate | None] = {}

    def available(self, pid: str, *, pinned: bool = False) -> set[int]:
        """The passage's sentences not quoted yet, never one marked [inaudible]; the machine's
        choice (not `pinned` by a reviewer) leaves out those it may not quote (doubtful,
        housekeeping)."""
        unused = set(range(len(self.by_id[pid].sentences))) - self.used[pid] - self.unquotable[pid]
        return unused if pinned else {i for i in unused if self.evidence.quotable(pid, i)}

    def best(self, theme_id: str, pid: str, *, relaxed: bool = False, pinned: bool = False) -> Candidate | None:
        """The passage's best quote for the theme among its unquoted sentences, if allowed."""
        key = (theme_id, pid, relaxed, pinned)
        if key not in self._best:
            passage = self.by_id[pid]
            available = self.available(pid, pinned=pinned)
            # A reviewer's pin is quoted even where the recogniser's punctuation cuts it badly.
            candidates = [c for c in _candidates(passage, theme_id, self.evidence, available, relaxed,
                                                 whole=not (pinned and relaxed))
                          if not self._repeats(c)]
            if self.serves[pid] and not relaxed:  # a second chapter: only when truly about it
                candidates = [c for c in candidates if c.points >= SECOND_CHAPTER_POINTS]
            if not pinned:  # the machine quotes sentences that say the theme, not mostly their neighbours
                candidates = [c for c in candidates if c.points > 0 and c.said_share >= MIN_SAID_SHARE]
            self._best[key] = max(candidates, key=lambda c: (c.score, -c.indices[0]), default=None)
        return self._best[key]

    def chosen_by_reviewer(self, theme_id: str, pid: str, indices: Sequence[int]) -> Candidate | None:
        """The quote a reviewer made of a passage by choosing its sentences (a shortened pin)."""
        passage = self.by_id[pid]
        kept = tuple(sorted({i for i in indices if 0 <= i < len(passage.sentences)} - self.unquotable[pid]))
        if not kept:
            return None
        words = sum(len(passage.sentences[i].text.split()) for i in kept)
        known = len(self.evidence.sentences.get(pid, ())) == len(passage.sentences)
        points = sum(self.evidence.points(pid, i, theme_id) for i in kept) if known else 0.0
        return Candidate(pid, kept, words, 1.0, points)

    def _repeats(self, candidate: Candidate) -> bool:
        """The quote says one chosen already (REPEAT_OVERLAP of its word pairs), or one of its
        sentences is in one chosen already, maybe heard a little differently (NEAR_REPEAT)."""
        passage = self.by_id[candidate.passage]
        pairs = _word_pairs(quote_text(passage, candidate.indices))
        if not pairs:
            return False
        if any(len(pairs & chosen) / len(pairs) >= REPEAT_OVERLAP for chosen in self.pairs):
            return True
        for index in candidate.indices:
            own = _word_pairs(passage.sentences[index].text)
            if own and any(len(own & chosen) / len(own) >= NEAR_REPEAT for chosen in self.pairs):
                return True
        return False

    def redundancy(self, theme_id: str, candidate: Candidate) -> float:
        vector = self.evidence.vector(candidate.passage, candidate.indices)
        if vector is None:
            return 0.0
        others = [self.evidence.vector(c.passage, c.indices) for c in self.chosen[theme_id]]
        return max((float(vector @ o) for o in others if o is not None), default=0.0)

    def take(self, theme_id: str, candidate: Candidate) -> None:
        self.chosen[theme_id].append(candidate)
        self.used[candidate.passage].update(candidate.indices)
        self.serves[candidate.passage].add(theme_id)
        self.pairs.append(_word_pairs(quote_text(self.by_id[candidate.passage], candidate.indices)))
        self._best.clear()

    def open_pairs(self, themes: Sequence[str], limit: int) -> list[tuple[str, Candidate]]:
        pairs = []
        for theme_id in themes:
            if len(self.chosen[theme_id]) >= limit:
                continue
            for pid in self.tagged[theme_id]:
                if theme_id in self.serves[pid]:
                    continue  # one quote per passage in a chapter
                candidate = self.best(theme_id, pid)
                if candidate is not None and (not self.chosen[theme_id] or candidate.score >= EXTRA_QUOTE_FLOOR):
                    pairs.append((theme_id, candidate))
        return pairs

    def fill(self, themes: Sequence[str], limit: int) -> None:
        lam = self.evidence.options.mmr_lambda
        while True:
            pairs = self.open_pairs(themes, limit)
            if not pairs:
                return
            theme_id, best = max(pairs, key=lambda pair: (
                lam * pair[1].score - (1 - lam) * self.redundancy(pair[0], pair[1]), -self.order[pair[1].passage]))
            self.take(theme_id, best)


def select_quotes(passages: Sequence[Passage], evidence: SessionEvidence, choices: ExcerptChoices) -> dict[str, list[Quote]]:
    """Per theme (codebook order), the quotes of its chapter, in the order they were said."""
    theme_ids = list(evidence.theme_ids)
    per_theme = evidence.options.excerpts_per_theme
    state = _Selection(passages, evidence, theme_ids, choices)
    if per_theme > 0:
        for theme_id in theme_ids:  # reviewers' pins first, whatever the passage's other chapters
            for pid in choices.pinned.get(theme_id, []):
                if pid in state.by_id and pid not in choices.excluded.get(theme_id, set()) \
                        and theme_id not in state.serves[pid] and len(state.chosen[theme_id]) < per_theme:
                    chosen = choices.sentences.get(theme_id, {}).get(pid)
                    candidate = (state.chosen_by_reviewer(theme_id, pid, chosen) if chosen else
                                 state.best(theme_id, pid, pinned=True)
                                 or state.best(theme_id, pid, relaxed=True, pinned=True))
                    if candidate is not None:
                        state.take(theme_id, candidate)
        state.fill(theme_ids, 1)  # every theme its first quote before any its second
        for theme_id in theme_ids:  # a theme left without: shorter sentences, or a second chapter
            if not state.chosen[theme_id]:
                relaxed = [c for pid in state.tagged[theme_id]
                           if (c := state.best(theme_id, pid, relaxed=True)) is not None]
                if relaxed:
                    state.take(theme_id, max(relaxed, key=lambda c: c.score))
        state.fill(theme_ids, per_theme)
    result = {}
    for theme_id in theme_ids:
        quotes = []
        for candidate in sorted(state.chosen[theme_id], key=lambda c: state.by_id[c.passage].sentences[c.indices[0]].start):
            passage = state.by_id[candidate.passage]
            quotes.append(Quote(passage=passage.id, start=passage.sentences[candidate.indices[0]].start,
                                end=passage.sentences[candidate.indices[-1]].end,
                                text=quote_text(passage, candidate.indices), sentences=list(candidate.indices)))
        result[theme_id] = quotes
    return result


# Speech the recogniser heard but could not transcribe this close to a sentence may belong to it.
GAP_MARGIN_S = 1.0
# A sentence heard this many times in nearly the same words is not quoted before a reviewer
# confirms it: twice may be emphasis, or a question asked again; three times, it is a recording
# played again (a jingle, a clip) or the recogniser stuck in a loop, writing the same words over
# other speech. Nearly the same: a quarter of the words of the longer at most differ (a repeated
# stretch is heard a little differently each time: « incendie » once, « 110 » the next).
REPEATED_TIMES = 3
REPEATED_DIFFERENCE = 0.25
REPEATED_MIN_WORDS = 4  # shorter ones ("Merci beaucoup.") come back all the time, and are never quoted


def sentence_doubts(passages: Sequence[Passage], gaps: Sequence[Gap], confirmed: Mapping[str, AbstractSet[int]]
                    ) -> dict[str, dict[int, list[str]]]:
    """The sentences not to quote until a reviewer checks them, with why ("unsure": a word the
    recogniser was unsure of; "gap": untranscribed speech next to it; "repeated": heard
    REPEATED_TIMES times or more in nearly the same words), but for those `confirmed`
    (passage id -> sentence indices) and those marked [inaudible]. A word a correction put there
    is not unsure."""
    doubts: dict[str, dict[int, list[str]]] = {}
    repeated = repeated_sentences(passages)
    for passage in passages:
        for index, sentence in enumerate(passage.sentences):
            # Confirmed, or marked [inaudible] (never quoted: nothing to check before quoting it).
            if index in confirmed.get(passage.id, ()) or INAUDIBLE in sentence.text:
                continue
            reasons = ["unsure"] if sentence.unsure else []
            if any(gap.start - GAP_MARGIN_S < sentence.end and sentence.start < gap.end + GAP_MARGIN_S for gap in gaps):
                reasons.append("gap")
            if (passage.id, index) in repeated:
                reasons.append("repeated")
            if reasons:
                doubts.setdefault(passage.id, {})[index] = reasons
    return doubts


def repeated_sentences(passages: Sequence[Passage]) -> set[tuple[str, int]]:
    """The sentences (passage id, index) heard REPEATED_TIMES times or more in the session, in
    nearly the same words (REPEATED_DIFFERENCE of the words of the longer at most differ)."""
    where: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    for passage in passages:
        for index, sentence in enumerate(passage.sentences):
            words = tuple(_plain(sentence.text).split())
            if len(words) >= REPEATED_MIN_WORDS:
                where.setdefault(words, []).append((passage.id, index))
    texts = list(where)  # each text once: a loop writes the same words hundreds of times
    vocabularies = [frozenset(words) for words in texts]
    frequency = Counter(word for vocabulary in vocabularies for word in vocabulary)
    # Two texts with a quarter of the longer's words different at most differ in a third of
    # either's words at most, so their len/3 + 1 rarest words meet (prefix filtering): each text
    # is looked up by those words only, which finds every such pair among few candidates.
    prefixes = [sorted(vocabulary, key=lambda w: (frequency[w], w))[:len(words) // 3 + 1]
                for words, vocabulary in zip(texts, vocabularies)]
    postings: dict[str, list[int]] = {}
    for k, prefix in enumerate(prefixes):
        for word in prefix:
            postings.setdefault(word, []).append(k)
    heard = [len(where[words]) for words in texts]  # times each text was heard, nearly the same
    for k, words in enumerate(texts):
        for j in {j for word in prefixes[k] for j in postings[word] if j > k}:
            other = texts[j]
            longer = max(len(words), len(other))
            most = REPEATED_DIFFERENCE * longer
            # Each word of one missing from the other is one edit at least: a cheap bound first.
            if abs(len(words) - len(other)) <= most and len(vocabularies[k] - vocabularies[j]) <= most \
                    and edit_distance(words, other) <= most:
                heard[k] += len(where[other])
                heard[j] += len(where[words])
    return {place for k, words in enumerate(texts) if heard[k] >= REPEATED_TIMES for place in where[words]}


def held_quotes(passages: Sequence[Passage], evidence: SessionEvidence, choices: ExcerptChoices,
                printed: Mapping[str, Sequence[Quote]]) -> list[HeldQuote]:
    """The quotes the chapters would print if the doubtful sentences could be quoted, and do not:
    what a reviewer should check first. In the order said."""
    if not any(evidence.doubtful.values()):
        return []
    by_id = {p.id: p for p in passages}
    shown = {(theme_id, q.passage, tuple(q.sentences)) for theme_id, quotes in printed.items() for q in quotes}
    held = []
    for theme_id, quotes in select_quotes(passages, replace(evidence, doubtful={}), choices).items():
        for quote in quotes:
            doubts = evidence.doubtful.get(quote.passage, {})
            doubtful = [i for i in quote.sentences if i in doubts]
            if not doubtful or (theme_id, quote.passage, tuple(quote.sentences)) in shown:
                continue
            passage = by_id[quote.passage]
            held.append(HeldQuote(theme=theme_id, passage=quote.passage, start=quote.start, end=quote.end,
                                  text=quote.text, sentences=list(quote.sentences), doubtful=doubtful,
                                  reasons=sorted({r for i in doubtful for r in doubts[i]}),  # type: ignore[misc]
                                  unsure=[w for i in doubtful for w in passage.sentences[i].unsure]))
    return sorted(held, key=lambda h: (h.start, h.theme))


def subtheme_of(quote: Quote, theme_id: str, labels: Sequence[str], keywords: Sequence[Sequence[str]],
                evidence: SessionEvidence) -> str:
    """The label of the sub-theme the quote matches best: a sub-theme keyword said in it, else
    the closest in meaning above SUBTHEME_FLOOR; "" when none does (the chapter's "others")."""
    sentences = evidence.sentences.get(quote.passage)
    if not labels or not sentences:
        return ""
    indices = quote.sentences or []
    said = {k for i in indices for k in sentences[i].keywords.get(theme_id, [])}
    scores = []
    for number, (label, terms) in enumerate(zip(labels, keywords)):
        similarity = [sentences[i].subthemes.get(theme_id, [])[number] for i in indices
                      if number < len(sentences[i].subthemes.get(theme_id, []))]
        meaning = max(similarity, default=0.0)
        scores.append((len(said & set(terms)), meaning, -number, label))
    hits, meaning, _, label = max(scores)
    return label if hits or meaning >= SUBTHEME_FLOOR else ""


# --- key points ------------------------------------------------------------------------------

def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


@functools.lru_cache(maxsize=4096)
def _plain_pairs(plain: str) -> frozenset[tuple[str, str]]:
    words = plain.split()
    return frozenset(zip(words, words[1:]))


def _printed_already(text: str, printed: AbstractSet[str]) -> bool:
    """The sentence, or the same heard again with a word or two changed (NEAR_REPEAT of its word
    pairs in one sentence or quote printed already: the recogniser writes a repeated stretch a
    little differently each time), is in the document already. `printed`: plain texts."""
    plain = _plain(text)
    if plain in printed:
        return True
    pairs = _plain_pairs(plain)
    return bool(pairs) and any(len(pairs & _plain_pairs(other)) / len(pairs) >= NEAR_REPEAT for other in printed)


def _key_candidates(passages: Sequence[Passage], evidence: SessionEvidence, used: AbstractSet[tuple[str, int]],
                    used_texts: AbstractSet[str], words: tuple[int, int] = KEY_POINT_WORDS) -> list[tuple[Passage, int]]:
    """The sentences that may be key points: of KEY_POINT_WORDS words, a statement (a verb, not a
    question), whole, quotable, and said nowhere else in the document yet."""
    found = []
    for passage in passages:
        sentences = evidence.sentences.get(passage.id)
        if not sentences or len(sentences) != len(passage.sentences) or passage.id not in evidence.vectors:
            continue
        for index, sentence in enumerate(passage.sentences):
            info = sentences[index]
            if (passage.id, index) in used or _printed_already(sentence.text, used_texts) or not info.verb \
                    or not evidence.quotable(passage.id, index) or sentence.text.rstrip().endswith("?") \
                    or INAUDIBLE in sentence.text or not _whole(passage, [index], evidence):
                continue
            if words[0] <= info.words <= words[1]:
                found.append((passage, index))
    return found


def _leads(passage: Passage, theme_id: str) -> bool:
    """The theme is the passage's strongest, ahead of the next by KEY_POINT_MARGIN at least."""
    own = passage.theme(theme_id)
    others = [t.score for t in passage.themes if t.id != theme_id]
    return own is not None and own.score - max(others, default=0.0) >= KEY_POINT_MARGIN


def _sentence_leads(evidence: SessionEvidence, pid: str, index: int, theme_id: str) -> bool:
    """The sentence says the theme more than any other."""
    own = evidence.points(pid, index, theme_id)
    return own > 0 and all(own >= evidence.points(pid, index, other) for other in evidence.theme_ids
                           if other != theme_id)


def _pick_key_points(candidates: list[tuple[Passage, int]], relevance: list[float], evidence: SessionEvidence,
                     count: int) -> list[Quote]:
    import numpy as np

    if not candidates or count <= 0:
        return []
    vectors = np.array([evidence.vectors[p.id][i] for p, i in candidates], dtype="float32")
    weights = np.array(relevance, dtype="float32") + 1e-3
    centroid = (vectors * weights[:, None]).sum(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    central = vectors @ centroid
    base = central * (0.5 + 0.5 * np.array(relevance))
    chosen: list[int] = []
    speakers: set[str | None] = set()
    while len(chosen) < min(count, len(candidates)):
        best, best_value = None, -1e9
        for k in range(len(candidates)):
            if k in chosen:
                continue
            redundancy = max((float(vectors[k] @ vectors[c]) for c in chosen), default=0.0)
            value = KEY_POINT_LAMBDA * float(base[k]) - (1 - KEY_POINT_LAMBDA) * redundancy
            if candidates[k][0].speaker in speakers:
                value -= SAME_SPEAKER_PENALTY
            if value > best_value:
                best, best_value = k, value
        assert best is not None
        chosen.append(best)
        speakers.add(candidates[best][0].speaker)
    points = []
    for k in sorted(chosen, key=lambda k: candidates[k][0].sentences[candidates[k][1]].start):
        passage, index = candidates[k]
        sentence = passage.sentences[index]
        points.append(Quote(passage=passage.id, start=sentence.start, end=sentence.end, text=sentence.text.strip(),
                            sentences=[index]))
    return points


def key_points(passages: Sequence[Passage], evidence: SessionEvidence, quotes: Mapping[str, Sequence[Quote]],
               choices: ExcerptChoices, session: Sequence[Quote] | None = None,
               reserved: Sequence[Quote] = ()) -> KeyPoints:
    """The key sentences of the session and of each theme with tagged passages (tag.key_points
    of each at most), each in the order said. No sentence is said twice in a document: a key
    point is never a sentence quoted in a chapter, nor another key point. A theme's key points
    come from passages whose strongest theme it is (by KEY_POINT_MARGIN), say it more than any
    other, and say it on their own as clearly as a passage must to be tagged with it.
    `session`: the session's key sentences chosen already (the proposals of « À retenir »,
    tag/synthesis.py); the themes' are then chosen among the others, and never among the
    `reserved` sentences (printed elsewhere in the document)."""
    count = evidence.options.key_points
    themes = list(evidence.theme_ids)
    if count <= 0 or not passages:
        return KeyPoints(session=list(session or []))
    by_id = {p.id: p for p in passages}
    used = {(q.passage, i) for chosen in [*quotes.values(), reserved] for q in chosen for i in q.sentences}
    used_texts = {_plain(by_id[pid].sentences[i].text) for pid, i in used if pid in by_id}

    def take(points: list[Quote]) -> list[Quote]:
        for point in points:
            used.update((point.passage, i) for i in point.sentences)
            used_texts.add(_plain(point.text))
        return points

    candidates = _key_candidates(passages, evidence, used, used_texts)
    relevance = [max((evidence.relevance(p.id, i, t) for t in themes), default=0.0) for p, i in candidates]
    about = [(c, r) for c, r in zip(candidates, relevance) if r >= KEY_POINT_RELEVANCE]  # the cycle's themes
    if session is not None:
        chosen = take(list(session))
    else:
        chosen = take(_pick_key_points([c for c, _ in about], [r for _, r in about], evidence, count))
    per_theme: dict[str, list[Quote]] = {}
    for theme_id in themes:
        leading = [p for p in passages if _leads(p, theme_id) and p.id not in choices.excluded.get(theme_id, set())]
        # The sentence says the theme on its own as clearly as a passage must to be tagged with
        # it, not an anecdote that owes its place to its neighbours: a keyword of the theme at
        # least, as closeness in meaning (tag.similarity_points) stays under the bar.
        found = [(p, i) for p, i in _key_candidates(leading, evidence, used, used_texts)
                 if _sentence_leads(evidence, p.id, i, theme_id)
                 and evidence.points(p.id, i, theme_id) >= evidence.options.bar_points]
        if found:
            relevance = [evidence.relevance(p.id, i, theme_id) for p, i in found]
            per_theme[theme_id] = take(_pick_key_points(found, relevance, evidence, count))
    return KeyPoints(session=chosen, themes=per_theme)
