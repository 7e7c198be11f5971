"""The groundwork of a synthesis, not a compilation: what staff start from to write it.

The tool cannot write a synthesis's prose offline; it prepares what staff need to write it in
minutes, under the same rules as quotes (nothing printed that nobody can stand behind: never a
sentence with a word the recogniser was unsure of until a reviewer checks it, never
housekeeping, never a fragment, never a sentence printed twice in a document):

* « À retenir »: the messages staff write (review file `key_messages`), with the passages that
  support them; until they do, proposals: the session's most central sentences about the cycle's
  themes, grouped so that no two proposals say the same thing (core/ideas.py), each with the
  sentences that say it too;
* « Les intervenants »: for each named voice, their time of speech, the themes they spoke to,
  two or three of their own sentences, and the sentence staff wrote to present them;
* questions and exchanges: the questions staff mark (review file `questions`), or, until they
  mark some, the questions asked in the session's last part, each with the answer that follows;
* for the cycle's synthesis: each transversal axis's sentences, and the statements compared with
  the other sessions' to find the ideas that recur.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace
from typing import Any

from ..core.artefacts import Exchange, Passage, Proposal, Quote, Segment, SpeakerSummary, Statement, WrittenMessage
from ..core.ideas import SAME_IDEA_COSINE, pack_vectors
from ..core.review_file import KeyMessage, MarkedQuestion, find_passage
from .excerpts import (
    KEY_POINT_LAMBDA,
    KEY_POINT_RELEVANCE,
    SAME_SPEAKER_PENALTY,
    SessionEvidence,
    _key_candidates,
    _plain,
    _whole,
    quote_text,
)
from .themes import SentenceEvidence

__all__ = ["axis_quotes", "exchanges", "printed", "propose_key_messages", "speaker_summaries", "statements",
           "written_messages"]

SIMILAR_SHOWN = 3  # sentences shown with a proposal that say the same thing
SPEAKER_QUOTES = 3  # a speaker's own sentences in « Les intervenants »
# The themes a speaker spoke to: at most this many, each with this share of their time on themes.
SPEAKER_THEMES = 4
SPEAKER_THEME_SHARE = 0.15
# A speaker whose sentences of KEY_POINT_WORDS are all printed already is given shorter or
# longer ones, of these many words.
SPEAKER_RELAXED_WORDS = (8, 70)
# Proposed questions: asked after this share of the session (the time of questions, at the end
# of a webinar), of this many words at least ("N'est-ce pas ?" is no question to report).
QUESTION_PART = 2 / 3
QUESTION_MIN_WORDS = 6
PROPOSED_EXCHANGES = 5
ANSWER_SENTENCES = 3
# How many passages after a question its answer may start in (the next voice's turn).
ANSWER_REACH = 3
AXIS_QUOTES = 3  # per axis and session
STATEMENTS = 60  # per session, for the cycle's recurring ideas

Used = set[tuple[str, int]]


def printed(quotes: Mapping[str, Sequence[Quote]] | Sequence[Quote], passages: Sequence[Passage]
            ) -> tuple[Used, set[str]]:
    """The sentences a document prints already, (passage id, index), and their plain texts."""
    chosen = [q for group in quotes.values() for q in group] if isinstance(quotes, Mapping) else list(quotes)
    by_id = {p.id: p for p in passages}
    used = {(q.passage, i) for q in chosen for i in q.sentences}
    return used, {_plain(by_id[pid].sentences[i].text) for pid, i in used if pid in by_id}


def _sentence_quote(passage: Passage, index: int) -> Quote:
    sentence = passage.sentences[index]
    return Quote(passage=passage.id, start=sentence.start, end=sentence.end, text=sentence.text.strip(),
                 sentences=[index])


def _quote(passage: Passage, indices: Sequence[int]) -> Quote:
    return Quote(passage=passage.id, start=passage.sentences[indices[0]].start,
                 end=passage.sentences[indices[-1]].end, text=quote_text(passage, indices), sentences=list(indices))


def _relevance(evidence: SessionEvidence, candidates: Sequence[tuple[Passage, int]]) -> list[float]:
    return [max((evidence.relevance(p.id, i, t) for t in evidence.theme_ids), default=0.0) for p, i in candidates]


def _centrality(evidence: SessionEvidence, candidates: Sequence[tuple[Passage, int]], relevance: Sequence[float]):
    """The candidates' unit vectors and how central each is to all of them (weighted by how
    much each is about the cycle's themes), scaled by its own relevance: what key points use."""
    import numpy as np

    vectors = np.array([evidence.vectors[p.id][i] for p, i in candidates], dtype="float32")
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    weights = np.array(relevance, dtype="float32") + 1e-3
    centroid = (vectors * weights[:, None]).sum(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    return vectors, (vectors @ centroid) * (0.5 + 0.5 * np.array(relevance, dtype="float32"))


def _pick_distinct(candidates: Sequence[tuple[Passage, int]], vectors, base, count: int, *,
                   spread_speakers: bool = True) -> list[int]:
    """Up to `count` candidates by maximal marginal relevance, never two that say the same thing
    (cosine at SAME_IDEA_COSINE or more), from different speakers where possible."""
    chosen: list[int] = []
    speakers: set[str | None] = set()
    while len(chosen) < count:
        best, best_value = None, -1e9
        for k in range(len(candidates)):
            if k in chosen:
                continue
            redundancy = max((float(vectors[k] @ vectors[c]) for c in chosen), default=0.0)
            if redundancy >= SAME_IDEA_COSINE:
                continue
            value = KEY_POINT_LAMBDA * float(base[k]) - (1 - KEY_POINT_LAMBDA) * redundancy
            if spread_speakers and candidates[k][0].speaker in speakers:
                value -= SAME_SPEAKER_PENALTY
            if value > best_value:
                best, best_value = k, value
        if best is None:
            break
        chosen.append(best)
        speakers.add(candidates[best][0].speaker)
    return chosen


def _said_order(passages: Sequence[Passage]) -> dict[str, int]:
    return {p.id: n for n, p in enumerate(passages)}


# --- « À retenir » ----------------------------------------------------------------------------

def propose_key_messages(passages: Sequence[Passage], evidence: SessionEvidence, used: AbstractSet[tuple[str, int]],
                         used_texts: AbstractSet[str], count: int) -> list[Proposal]:
    """Up to `count` proposed messages, in the order said: the most central quotable statements
    about the cycle's themes, not printed elsewhere, never two that say the same thing; each
    with the other candidates that say what it says (the closest first)."""
    if count <= 0 or not evidence.vectors:
        return []
    candidates = _key_candidates(passages, evidence, used, used_texts)
    if not candidates:
        return []
    relevance = _relevance(evidence, candidates)
    about = [k for k, r in enumerate(relevance) if r >= KEY_POINT_RELEVANCE]
    # Proposals are about the cycle's themes; a session that hardly says them still gets some.
    pool = about if len(about) >= count else list(range(len(candidates)))
    pool_candidates = [candidates[k] for k in pool]
    vectors, base = _centrality(evidence, pool_candidates, [relevance[k] for k in pool])
    chosen = _pick_distinct(pool_candidates, vectors, base, count)
    similar: dict[int, list[tuple[float, int]]] = {k: [] for k in chosen}
    for k in range(len(pool_candidates)):
        if k in chosen:
            continue
        closeness = [(float(vectors[k] @ vectors[c]), c) for c in chosen]
        value, closest = max(closeness)
        if value >= SAME_IDEA_COSINE:
            similar[closest].append((value, k))
    order = _said_order(passages)
    proposals = []
    for k in sorted(chosen, key=lambda k: (order[pool_candidates[k][0].id], pool_candidates[k][1])):
        others = [pool_candidates[j] for _, j in sorted(similar[k], reverse=True)[:SIMILAR_SHOWN]]
        proposals.append(Proposal(quote=_sentence_quote(*pool_candidates[k]),
                                  similar=[_sentence_quote(p, i) for p, i in others]))
    return proposals


def written_messages(messages: Sequence[KeyMessage], passages: Sequence[Passage]
                     ) -> tuple[list[WrittenMessage], list[str]]:
    """The messages staff wrote, with the ids of the passages they name; the keys that name no
    passage, described (the message is printed all the same, without that link)."""
    written, orphaned = [], []
    for message in messages:
        ids = []
        for key in message.passages:
            passage = find_passage(key, passages)
            if passage is None:
                orphaned.append(f"{message.describe()}: passage \"{key}\" not found")
            elif passage.id not in ids:
                ids.append(passage.id)
        written.append(WrittenMessage(text=message.text, passages=ids))
    return written, orphaned


# --- « Les intervenants » -------------------------------------------------------------------------

def speaker_summaries(passages: Sequence[Passage], evidence: SessionEvidence, segments: Sequence[Segment],
                      unnamed: re.Pattern[str], presentations: Mapping[str, str], presentation_lines: Mapping[str, int],
                      used: Used, used_texts: set[str]) -> tuple[list[SpeakerSummary], list[str]]:
    """Each named voice (not a label such as « Intervenant 2 »), the most time of speech first:
    its time (from the transcript's turns), its passages, the themes it spoke to (the most time
    first: SPEAKER_THEMES at most, each with SPEAKER_THEME_SHARE of its time on themes), two or
    three of its sentences (quotable, central to what it said, not printed elsewhere: they are
    added to `used`) and the sentence staff wrote to present it. Presentations of names no voice
    has, described."""
    seconds: dict[str, float] = {}
    for segment in segments:
        if segment.speaker and not unnamed.fullmatch(segment.speaker):
            seconds[segment.speaker] = seconds.get(segment.speaker, 0.0) + max(0.0, segment.end - segment.start)
    summaries = []
    for name, spoken in sorted(seconds.items(), key=lambda item: -item[1]):
        own = [p for p in passages if p.speaker == name]
        theme_time: dict[str, float] = {}
        for passage in own:
            for tagged in passage.themes:
                theme_time[tagged.id] = theme_time.get(tagged.id, 0.0) + max(0.0, passage.end - passage.start)
        quotes = _speaker_quotes(own, evidence, used, used_texts)
        used.update((q.passage, i) for q in quotes for i in q.sentences)
        used_texts.update(_plain(q.text) for q in quotes)
        total = sum(theme_time.values())
        ranked = sorted(theme_time.items(), key=lambda item: -item[1])[:SPEAKER_THEMES]
        themes = [t for t, time in ranked if time >= SPEAKER_THEME_SHARE * total]
        summaries.append(SpeakerSummary(name=name, seconds=round(spoken, 2), passages=len(own),
                                        themes=themes, quotes=quotes,
                                        presentation=presentations.get(name, "")))
    orphaned = [f"presentation of \"{person}\" (line {presentation_lines.get(person, 0)}): no named voice of that "
                "name in the session" for person in presentations if person not in seconds]
    return summaries, orphaned


def _speaker_quotes(own: Sequence[Passage], evidence: SessionEvidence, used: Used, used_texts: set[str]) -> list[Quote]:
    candidates = _key_candidates(own, evidence, used, used_texts)
    if len(candidates) < 2:
        candidates = _key_candidates(own, evidence, used, used_texts, words=SPEAKER_RELAXED_WORDS)
    if not candidates:
        return []
    relevance = _relevance(evidence, candidates)
    vectors, base = _centrality(evidence, candidates, relevance)
    chosen = _pick_distinct(candidates, vectors, base, SPEAKER_QUOTES, spread_speakers=False)
    picked = sorted((candidates[k] for k in chosen), key=lambda c: c[0].sentences[c[1]].start)
    return [_sentence_quote(p, i) for p, i in picked]


# --- questions and exchanges ------------------------------------------------------------------------

def _is_question(passage: Passage, index: int) -> bool:
    return passage.sentences[index].text.rstrip().rstrip("»\"” ").endswith("?")


def _answer_in(passage: Passage, first: int, evidence: SessionEvidence, used: AbstractSet[tuple[str, int]]
               ) -> Quote | None:
    """The first quotable sentences of the passage from sentence `first` on: one to three whole
    ones, up to quote_min_words where they can (never past quote_max_words nor a question)."""
    options = evidence.options
    indices: list[int] = []
    words = 0
    for index in range(first, len(passage.sentences)):
        if not evidence.quotable(passage.id, index) or (passage.id, index) in used or _is_question(passage, index):
            if indices:
                break
            continue
        size = len(passage.sentences[index].text.split())
        if indices and words + size > options.quote_max_words:
            break
        indices.append(index)
        words += size
        if words >= options.quote_min_words or len(indices) >= ANSWER_SENTENCES:
            break
    return _quote(passage, indices) if indices and _whole(passage, indices, evidence) else None


def _answer(passages: Sequence[Passage], position: int, after: int, evidence: SessionEvidence,
            used: AbstractSet[tuple[str, int]], *, other_voice: bool) -> Quote | None:
    """The answer to a question that ends with sentence `after` of passages[position]: what is
    said next (_answer_in), by another voice when the transcript tells voices apart."""
    asker = passages[position].speaker
    spots: list[tuple[Passage, int]] = [] if other_voice else [(passages[position], after + 1)]
    for passage in passages[position + 1:position + 1 + ANSWER_REACH]:
        if other_voice and passage.speaker == asker:
            continue
        spots.append((passage, 0))
        if other_voice:
            break
    for passage, first in spots:
        found = _answer_in(passage, first, evidence, used)
        if found is not None:
            return found
    return None


def exchanges(passages: Sequence[Passage], evidence: SessionEvidence, marked: Sequence[MarkedQuestion],
              duration_s: float, used: AbstractSet[tuple[str, int]]) -> tuple[list[Exchange], list[str]]:
    """The questions staff marked, each with the answer that follows (or the one they name: its
    first quotable sentences not in `used`, printed elsewhere), in the order said; until they
    mark some, those proposed: questions asked in the session's last part (QUESTION_PART),
    quotable, with a quotable answer, none printed elsewhere. And the marks that name no
    passage, described."""
    position = {p.id: n for n, p in enumerate(passages)}
    voices = {p.speaker for p in passages if p.speaker}
    other_voice = len(voices) > 1
    found: list[Exchange] = []
    orphaned: list[str] = []
    for mark in marked:
        passage = find_passage(mark.passage, passages)
        if passage is None:
            orphaned.append(f"{mark.describe()}: passage not found")
            continue
        if mark.sentences and mark.sentences[-1] >= len(passage.sentences):
            orphaned.append(f"{mark.describe()}: sentence {mark.sentences[-1]} not in the passage (it has "
                            f"{len(passage.sentences)}, numbered from 0)")
            continue
        indices = list(mark.sentences) or [i for i in range(len(passage.sentences)) if _is_question(passage, i)] \
            or list(range(len(passage.sentences)))
        answer = None
        if mark.answer:
            replying = find_passage(mark.answer, passages)
            if replying is None:
                orphaned.append(f"{mark.describe()}: answer \"{mark.answer}\" not found")
            else:
                answer = _answer_in(replying, 0, evidence, used)
        else:
            answer = _answer(passages, position[passage.id], indices[-1], evidence, used, other_voice=other_voice)
        found.append(Exchange(source="review", question=_quote(passage, indices), asked_by=passage.speaker,
                              answer=answer, answered_by=passages[position[answer.passage]].speaker if answer else None))
    if marked:
        return sorted(found, key=lambda e: e.question.start), orphaned
    since = duration_s * QUESTION_PART
    for n, passage in enumerate(passages):
        if passage.start < since or len(found) >= PROPOSED_EXCHANGES:
            continue
        asked = [i for i in range(len(passage.sentences)) if _is_question(passage, i)
                 and evidence.quotable(passage.id, i) and (passage.id, i) not in used
                 and len(re.findall(r"\w+", passage.sentences[i].text)) >= QUESTION_MIN_WORDS
                 and evidence.opens(passage.sentences[i].text)]
        if not asked:
            continue
        answer = _answer(passages, n, asked[-1], evidence, used, other_voice=other_voice)
        if answer is None:
            continue
        found.append(Exchange(source="proposed", question=_sentence_quote(passage, asked[-1]), asked_by=passage.speaker,
                              answer=answer, answered_by=passages[position[answer.passage]].speaker))
    return found, orphaned


# --- for the cycle's synthesis ----------------------------------------------------------------------

def axis_quotes(passages: Sequence[Passage], axis_evidence: Mapping[str, Sequence[SentenceEvidence]],
                axis_ids: Sequence[str], evidence: SessionEvidence, used: AbstractSet[tuple[str, int]],
                used_texts: AbstractSet[str]) -> dict[str, list[Quote]]:
    """Per axis, up to AXIS_QUOTES sentences of the passages tagged with it that say it (one of
    its keywords), quotable statements not quoted elsewhere, never two that say the same thing;
    in the order said. A sentence serves one axis."""
    import numpy as np

    taken: set[tuple[str, int]] = set()
    result: dict[str, list[Quote]] = {}
    for axis_id in axis_ids:
        tagged = [p for p in passages if any(a.id == axis_id for a in p.axes)]
        scored = []
        for passage, index in _key_candidates(tagged, evidence, used, used_texts):
            said = axis_evidence.get(passage.id) or []
            points = said[index].points.get(axis_id, 0.0) if index < len(said) else 0.0
            if points > 0 and (passage.id, index) not in taken:
                scored.append((1.0 - 2.0 ** -points, passage, index))
        scored.sort(key=lambda s: (-s[0], s[1].sentences[s[2]].start))
        chosen: list[tuple[Passage, int]] = []
        vectors: list[Any] = []
        for _, passage, index in scored:
            block = evidence.vectors.get(passage.id)
            vector = block[index] / max(float(np.linalg.norm(block[index])), 1e-9) if block is not None else None
            if vector is not None and any(float(vector @ v) >= SAME_IDEA_COSINE for v in vectors):
                continue
            chosen.append((passage, index))
            if vector is not None:
                vectors.append(vector)
            if len(chosen) >= AXIS_QUOTES:
                break
        taken.update((p.id, i) for p, i in chosen)
        if chosen:
            result[axis_id] = [_sentence_quote(p, i) for p, i in sorted(chosen, key=lambda c: c[0].sentences[c[1]].start)]
    return result


def statements(passages: Sequence[Passage], evidence: SessionEvidence) -> list[Statement]:
    """Up to STATEMENTS of the session's sentences to compare with the other sessions'
    (statements about the cycle's themes, not housekeeping, the most central first; its
    chapters' quotes among them), each with its vector, in the order said. Those with a word the
    recogniser was unsure of are kept, marked `doubtful`: an idea said again elsewhere is worth
    pointing to before anyone checks its words, which the documents then do not print."""
    if not evidence.vectors:
        return []
    candidates = _key_candidates(passages, replace(evidence, doubtful={}), set(), set())
    relevance = _relevance(evidence, candidates)
    kept = [(c, r) for c, r in zip(candidates, relevance) if r >= KEY_POINT_RELEVANCE]
    if not kept:
        return []
    vectors, base = _centrality(evidence, [c for c, _ in kept], [r for _, r in kept])
    best = sorted(range(len(kept)), key=lambda k: -float(base[k]))[:STATEMENTS]
    result = []
    for k in sorted(best, key=lambda k: kept[k][0][0].sentences[kept[k][0][1]].start):
        (passage, index), _ = kept[k]
        sentence = passage.sentences[index]
        result.append(Statement(passage=passage.id, sentence=index, start=sentence.start, end=sentence.end,
                                text=sentence.text.strip(), vector=pack_vectors(vectors[k][None, :]),
                                doubtful=index in evidence.doubtful.get(passage.id, {})))
    return result
