"""Excerpts: the quotes each theme chapter shows, chosen among the passages tagged with it.

Per theme, pinned passages first, then the most relevant passages that do not repeat the ones
already chosen (maximal marginal relevance over passage vectors). A passage is quoted in one
chapter only: chapters are filled together, best (theme, passage) pair first, so a passage that
touches several themes (an introduction listing them all) goes to the theme it fits best and
the others quote something of their own. A passage that repeats one already quoted (a text read
twice, a caption repeated) is not quoted again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from synthese.artefacts import Passage, Quote
from synthese.config import TagOptions

if TYPE_CHECKING:
    import numpy as np

REPEAT_OVERLAP = 0.6  # share of word pairs in common from which two passages are one said twice


@dataclass
class ExcerptChoices:
    """Reviewers' choices: passages pinned to a theme (in file order) or excluded from it."""

    pinned: dict[str, list[str]] = field(default_factory=dict)  # theme id -> passage ids
    excluded: dict[str, set[str]] = field(default_factory=dict)  # theme id -> passage ids
    # A pinned passage shortened by a reviewer: theme id -> passage id -> its sentences to quote.
    sentences: dict[str, dict[str, list[int]]] = field(default_factory=dict)


def _word_pairs(text: str) -> set[tuple[str, str]]:
    words = re.findall(r"\w+", text.lower())
    return set(zip(words, words[1:]))


def _repeats(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> bool:
    """Whether two passages say the same thing in mostly the same words: word vectors cannot
    tell, distinct passages on one topic reach a cosine of 0.95."""
    return bool(a and b) and len(a & b) / len(a | b) >= REPEAT_OVERLAP


def select_excerpts(passages: Sequence[Passage], vectors: Mapping[str, np.ndarray], theme_ids: Sequence[str],
                    options: TagOptions, choices: ExcerptChoices) -> dict[str, list[str]]:
    """Per theme, the ids of the passages to quote, pinned ones first, then by selection order."""
    pairs = {p.id: _word_pairs(p.text) for p in passages}
    chosen = {theme_id: [pid for pid in choices.pinned.get(theme_id, [])
                         if pid not in choices.excluded.get(theme_id, set())] for theme_id in theme_ids}
    quoted = {pid for pids in chosen.values() for pid in pids}
    relevance = {theme_id: {p.id: t.score for p in passages for t in p.themes
                            if t.id == theme_id and p.id not in choices.excluded.get(theme_id, set())}
                 for theme_id in theme_ids}

    def no_longer_candidate(quoted_pid: str) -> None:
        for candidates in relevance.values():
            for pid in [pid for pid in candidates
                        if pid == quoted_pid or _repeats(pairs[pid], pairs.get(quoted_pid, set()))]:
                del candidates[pid]

    for pid in quoted:
        no_longer_candidate(pid)

    def mmr(theme_id: str, pid: str) -> float:
        redundancy = max((float(vectors[pid] @ vectors[c]) for c in chosen[theme_id]), default=0.0)
        return options.mmr_lambda * relevance[theme_id][pid] - (1 - options.mmr_lambda) * redundancy

    order = {p.id: i for i, p in enumerate(passages)}
    while True:
        open_pairs = [(theme_id, pid) for theme_id in theme_ids if len(chosen[theme_id]) < options.excerpts_per_theme
                      for pid in relevance[theme_id]]
        if not open_pairs:
            return chosen
        theme_id, best = max(open_pairs, key=lambda pair: (mmr(*pair), -order[pair[1]]))
        chosen[theme_id].append(best)
        no_longer_candidate(best)


def quotes(passages: Sequence[Passage], chosen: Mapping[str, Sequence[str]],
           sentences: Mapping[str, Mapping[str, Sequence[int]]] | None = None) -> dict[str, list[Quote]]:
    """The chosen passages as quotes, each chapter's in the order they were said; a passage
    whose sentences a reviewer chose (`sentences`: theme id -> passage id -> indices) is quoted
    by those sentences only, « […] » where some are left out between them."""
    by_id = {p.id: p for p in passages}
    result = {}
    for theme_id, ids in chosen.items():
        picked = sorted((by_id[pid] for pid in ids if pid in by_id), key=lambda p: (p.start, p.id))
        shortened = (sentences or {}).get(theme_id, {})
        result[theme_id] = [_quote(p, shortened.get(p.id)) for p in picked]
    return result


def _quote(passage: Passage, indices: Sequence[int] | None) -> Quote:
    chosen = sorted({i for i in indices or () if 0 <= i < len(passage.sentences)})
    if not chosen:
        return Quote(passage=passage.id, start=passage.start, end=passage.end, text=passage.text)
    parts: list[str] = []
    for previous, index in zip([None, *chosen], chosen):
        if previous is not None and index != previous + 1:
            parts.append("[…]")
        parts.append(passage.sentences[index].text)
    return Quote(passage=passage.id, start=passage.sentences[chosen[0]].start,
                 end=passage.sentences[chosen[-1]].end, text=" ".join(parts))
